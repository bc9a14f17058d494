import type { ObjectId } from 'mongodb';
import type { Deterministic, Random } from '../../src/metadata/brands';
import type { Filter, InsertDoc, PathValue, Paths, Plain, Replacement, Sort, UpdateFilter } from '../../src/repository/types';
import { expectType, type Equal, type Person } from './model';

// ---- Paths and PathValue
function path<P extends Paths<Person>>(p: P): P {
  return p;
}
path('address.city');
path('contacts.phone');
path('contacts.0.phone');
path('tags.3');
// @ts-expect-error typo
path('address.cty');
// @ts-expect-error methods are not fields
path('greet');
// @ts-expect-error nothing inside an encrypted value
path('medical.blood');
expectType<Equal<PathValue<Person, 'address.city'>, string>>();
expectType<Equal<PathValue<Person, 'contacts.0.phone'>, Deterministic<string>>>();
expectType<Equal<PathValue<Person, 'contacts.note'>, Random<string>>>();
expectType<Equal<PathValue<Person, 'tags.1'>, string>>();
expectType<Equal<PathValue<Person, 'deletedAt'>, Date | null | undefined>>();

// ---- Plain, InsertDoc, Replacement: brands and methods gone, literals assign
type PlainPerson = Plain<Person>;
expectType<Equal<PlainPerson['phone'], string>>();
expectType<Equal<PlainPerson['medical'], { blood: string; allergies: string[] }>>();
expectType<Equal<PlainPerson['contacts'], { kind: string; phone: string; note: string }[]>>();
expectType<Equal<Plain<Deterministic<'gold' | 'silver'>>, 'gold' | 'silver'>>();
expectType<Equal<Plain<Random<number> | undefined>, number | undefined>>();

const person: InsertDoc<Person> = {
  name: 'Ada', age: 36, tags: [], scores: [], createdAt: new Date(),
  address: { street: '1 rue', city: 'Paris', zip: '75001' },
  contacts: [{ kind: 'home', phone: '555-0100', note: 'evenings' }],
  badge: { code: 'B-1', label: 'gold' },
  ssn: '123-45-6789', phone: '555-0100', tier: 'gold', salary: 100,
  // A plain literal for a Random whole object of a class with methods.
  medical: { blood: 'A+', allergies: [] },
};
declare const id: ObjectId;
const withId: InsertDoc<Person> = { ...person, _id: id };
// @ts-expect-error wrong plain type of an encrypted field
const badSsn: InsertDoc<Person> = { ...person, ssn: 123 };
// @ts-expect-error unknown field
const extra: InsertDoc<Person> = { ...person, nmae: 'x' };
// @ts-expect-error a required field is missing
const missing: InsertDoc<Person> = { name: 'Ada' };
const replacement: Replacement<Person> = person;
// @ts-expect-error a replacement cannot change _id
const replacingId: Replacement<Person> = { ...person, _id: id };
expectType<Equal<'_id' extends keyof Replacement<Person> ? true : false, false>>();

// ---- the depth cap: deep and self-referencing models stay fast and finite
class TreeNode {
  label!: string;
  secret?: Random<string>;
  parent?: TreeNode;
  children!: TreeNode[];
}
function tree(f: Filter<TreeNode>): Filter<TreeNode> {
  return f;
}
tree({ 'parent.parent.parent.parent.parent.parent.label': 'six documents deep' });
tree({ 'children.children.children.label': 'three arrays of documents' });
tree({ 'children.0.children.1.children.2.label': 'by index' });
tree({ children: { $elemMatch: { 'children.label': 'x' } } });
// The seventh document is a path, but nothing below it: it is past the cap.
tree({ 'parent.parent.parent.parent.parent.parent.parent': { $exists: true } });
// @ts-expect-error below the cap
tree({ 'parent.parent.parent.parent.parent.parent.parent.label': 'too deep' });
// @ts-expect-error past the cap nothing is known, so whole-value equality is refused (it might hold Random fields)
tree({ 'parent.parent.parent.parent.parent.parent.parent': { label: 'x', children: [] } });
// @ts-expect-error Random at depth
tree({ 'parent.parent.secret': 'x' });
const treeSort: Sort<TreeNode> = { 'parent.label': 1 };
const treeUpdate: UpdateFilter<TreeNode> = { $set: { 'children.$[].parent.label': 'x' } };

// ---- free-form and untyped fields are taken as they are declared
class Loose {
  _id!: ObjectId;
  extra!: Record<string, unknown>;
  anything: any;
}
function loose(f: Filter<Loose>): Filter<Loose> {
  return f;
}
loose({ 'extra.color': 'red', anything: { $gt: 1 } });
loose({ 'anything.deep.path': 1 });

import { ObjectId } from 'mongodb';
import type { Filter } from '../../src/repository/types';
import type { Person } from './model';
import { typeCase } from './cases';

const id = new ObjectId();
const filter = typeCase<Filter<Person>>('filter');

// ---- plain fields: implicit equality and MongoDB's operators, with values of the field's type
filter({});
filter({ _id: id });
filter({ name: 'Ada', age: 36 });
filter({ age: { $gt: 30, $lte: 40 } });
filter({ age: { $in: [1, 2], $nin: [3] } });
filter({ age: { $ne: 3, $exists: true } });
filter({ age: { $not: { $gt: 3 } } });
filter({ name: /^A/ });
filter({ name: { $regex: '^A', $options: 'i' } });
filter({ name: { $not: /^A/ } });
filter({ createdAt: { $gte: new Date(), $lt: new Date() } });
// @ts-expect-error unknown field
filter({ nmae: 'Ada' });
// @ts-expect-error wrong value type
filter({ age: 'thirty' });
// @ts-expect-error wrong operand type
filter({ age: { $gt: '30' } });
// @ts-expect-error $in takes an array
filter({ age: { $in: 3 } });
// @ts-expect-error $regex is for strings only
filter({ age: { $regex: '3' } });
// @ts-expect-error a RegExp value is for strings only
filter({ age: /3/ });
// @ts-expect-error unknown operator
filter({ age: { $near: 3 } });
// @ts-expect-error null matches "missing", which a required field never is
filter({ name: null });
filter({ nickname: null });
filter({ deletedAt: null });
filter({ deletedAt: { $eq: null } });

// ---- embedded documents and dotted paths
filter({ 'address.city': 'Paris' });
filter({ 'address.zip': { $in: ['75001', '75002'] } });
filter({ address: { street: '1 rue', city: 'Paris', zip: '75001' } });
// @ts-expect-error typo in the first segment
filter({ 'adress.city': 'Paris' });
// @ts-expect-error typo in the last segment
filter({ 'address.cty': 'Paris' });
// @ts-expect-error wrong value type at a dotted path
filter({ 'address.city': 75001 });
// @ts-expect-error a whole-document value needs every field
filter({ address: { city: 'Paris' } });

// ---- arrays of scalars
filter({ tags: 'vip' });
filter({ tags: ['vip', 'new'] });
filter({ tags: /^v/ });
filter({ tags: { $all: ['vip'], $size: 2 } });
filter({ tags: { $in: ['vip'] } });
filter({ tags: { $elemMatch: { $regex: '^v' } } });
filter({ scores: { $elemMatch: { $gt: 3, $lt: 9 } } });
filter({ scores: { $gt: 3 } });
filter({ 'tags.0': 'vip' });
// @ts-expect-error element type is string
filter({ tags: 3 });
// @ts-expect-error $size takes a number
filter({ tags: { $size: '2' } });
// @ts-expect-error $regex on numbers
filter({ scores: { $regex: '3' } });
// @ts-expect-error array-only operator on a scalar
filter({ name: { $size: 2 } });
// @ts-expect-error not an index
filter({ 'tags.first': 'vip' });

// ---- Random: never in a filter, in any form, at any depth
// @ts-expect-error implicit equality
filter({ ssn: '123-45-6789' });
// @ts-expect-error $eq
filter({ ssn: { $eq: '123-45-6789' } });
// @ts-expect-error $in
filter({ ssn: { $in: ['123-45-6789'] } });
// @ts-expect-error even $exists
filter({ ssn: { $exists: true } });
// @ts-expect-error inside $or
filter({ $or: [{ name: 'Ada' }, { ssn: '123-45-6789' }] });
// @ts-expect-error inside $nor
filter({ $nor: [{ salary: 10 }] });
// @ts-expect-error a Random whole object
filter({ medical: { blood: 'A+', allergies: [] } });
// @ts-expect-error a field inside a Random whole object
filter({ 'medical.blood': 'A+' });
// @ts-expect-error anything inside a Random whole object
filter({ 'medical.anything.at.all': 1 });
// @ts-expect-error Random field of array elements
filter({ 'contacts.note': 'x' });
// @ts-expect-error ... by index too
filter({ 'contacts.0.note': 'x' });
// @ts-expect-error ... or inside $elemMatch
filter({ contacts: { $elemMatch: { note: 'x' } } });
// @ts-expect-error whole-element equality could never match Random ciphertext
filter({ contacts: { kind: 'home', phone: '1', note: 'x' } });
// @ts-expect-error ... nor could $in
filter({ contacts: { $in: [{ kind: 'home', phone: '1', note: 'x' }] } });
{
  // A non-literal object cannot smuggle a Random field past excess-property checks.
  const query = { name: 'Ada', ssn: '123-45-6789' };
  // @ts-expect-error
  filter(query);
}

// ---- Deterministic: equality only, with values of the plain type
filter({ phone: '555-0100' });
filter({ phone: { $eq: '555-0100' } });
filter({ phone: { $ne: '555-0100' } });
filter({ phone: { $in: ['555-0100', '555-0101'] } });
filter({ phone: { $nin: ['555-0100'] } });
// Whether a field is present is visible to the server anyway.
filter({ phone: { $exists: false } });
filter({ $or: [{ name: 'Ada' }, { phone: '555-0100' }] });
// @ts-expect-error ordering of ciphertext means nothing
filter({ phone: { $gt: '555' } });
// @ts-expect-error no pattern matching on ciphertext
filter({ phone: { $regex: '^555' } });
// @ts-expect-error no RegExp value either
filter({ phone: /^555/ });
// @ts-expect-error $not is not equality
filter({ phone: { $not: { $eq: '555' } } });
// @ts-expect-error wrong plain type
filter({ phone: 5550100 });
// @ts-expect-error wrong plain type in $in
filter({ phone: { $in: [5550100] } });
// @ts-expect-error null cannot be encrypted (use $exists: false)
filter({ phone: null });
// Literal types survive the brand.
filter({ tier: { $in: ['gold', 'silver'] } });
// @ts-expect-error not one of the literals
filter({ tier: 'bronze' });

// ---- Deterministic inside arrays and embedded documents
filter({ 'contacts.phone': '555-0100' });
filter({ 'contacts.0.phone': { $in: ['555-0100'] } });
filter({ 'contacts.kind': 'home' });
filter({ contacts: { $elemMatch: { kind: 'home', phone: '555-0100' } } });
filter({ contacts: { $size: 0 } });
filter({ contacts: { $exists: true } });
filter({ 'badge.code': 'B-1' });
// Only Deterministic inside: the repository encrypts the whole value for equality.
filter({ badge: { code: 'B-1', label: 'gold' } });
filter({ badge: { $in: [{ code: 'B-1', label: 'gold' }] } });
// @ts-expect-error Deterministic element field: equality only
filter({ 'contacts.phone': { $gt: '5' } });
// @ts-expect-error ... also inside $elemMatch
filter({ contacts: { $elemMatch: { phone: { $regex: '5' } } } });
// @ts-expect-error documents are compared for equality, not ordered
filter({ badge: { $gt: { code: 'B-1', label: 'gold' } } });
// @ts-expect-error unknown field of an element
filter({ 'contacts.phon': '555-0100' });
// @ts-expect-error not an index
filter({ 'contacts.x.phone': '555-0100' });

// ---- logical operators, and what is refused at the top level
filter({ $and: [{ name: 'Ada' }, { $or: [{ age: 3 }, { 'address.city': 'Paris' }] }] });
filter({ $text: { $search: 'ada' }, $comment: 'search page' });
// @ts-expect-error each branch is a Filter<Person>
filter({ $and: [{ age: 'x' }] });
// @ts-expect-error server-side JavaScript
filter({ $where: 'this.age > 3' });
// @ts-expect-error aggregation expressions: their values cannot be encrypted
filter({ $expr: { $gt: ['$age', 3] } });
// @ts-expect-error not a top-level operator
filter({ $jsonSchema: {} });

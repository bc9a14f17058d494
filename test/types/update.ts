import { ObjectId, type Timestamp } from 'mongodb';
import type { Deterministic } from '../../src/metadata/brands';
import type { UpdateFilter } from '../../src/repository/types';
import type { Repository } from '../../src/repository/repository';
import type { Contact, Person } from './model';
import { typeCase } from './cases';

const id = new ObjectId();
const update = typeCase<UpdateFilter<Person>>('update');
const contact = { kind: 'home', phone: '555-0100', note: 'evenings' };

// ---- $set / $setOnInsert: any path with a value of its type; encrypted fields get encrypted
update({ $set: { name: 'Ada', age: 37, 'address.city': 'Paris' } });
update({ $set: { phone: '555-0100', ssn: '123-45-6789', salary: 100 } });
update({ $set: { medical: { blood: 'A+', allergies: ['pollen'] } } });
update({ $set: { contacts: [contact], 'contacts.0.phone': '555-0100', 'contacts.$.note': 'x', 'contacts.$[].kind': 'work', 'contacts.$[c].kind': 'home' } });
update({ $set: { 'contacts.$': contact, 'tags.$[]': 'vip' } });
update({ $set: { nickname: undefined, deletedAt: null } });
update({ $setOnInsert: { createdAt: new Date(), ssn: '123-45-6789' } });
// @ts-expect-error wrong plain type for a Deterministic field
update({ $set: { phone: 5550100 } });
// @ts-expect-error wrong type for a plain field
update({ $set: { age: '37' } });
// @ts-expect-error unknown field
update({ $set: { nmae: 'Ada' } });
// @ts-expect-error typo in a dotted path
update({ $set: { 'address.cty': 'Paris' } });
// @ts-expect-error a Random whole object is one ciphertext: set it whole
update({ $set: { 'medical.blood': 'A+' } });
// @ts-expect-error MongoDB cannot $set through an array without an index or positional operator
update({ $set: { 'contacts.phone': '555-0100' } });
// @ts-expect-error null cannot be encrypted (use $unset on optional fields)
update({ $set: { phone: null } });
// @ts-expect-error _id is immutable
update({ $set: { _id: id } });
// @ts-expect-error an embedded document needs all its fields
update({ $set: { address: { city: 'Paris' } } });

// ---- $unset: optional fields only
update({ $unset: { nickname: '', deletedAt: 1 } });
// @ts-expect-error an element of a typed array: the server would leave null in its place
update({ $unset: { 'tags.0': '' } });
// @ts-expect-error a required field
update({ $unset: { name: '' } });
// @ts-expect-error a required encrypted field
update({ $unset: { ssn: true } });

// ---- $inc / $mul / $min / $max: plaintext only
update({ $inc: { age: 1, 'scores.0': 2, 'scores.$': 1 } });
update({ $mul: { age: 2 } });
update({ $min: { age: 18, createdAt: new Date() }, $max: { 'address.zip': '99999' } });
// @ts-expect-error the server cannot add to ciphertext
update({ $inc: { salary: 1000 } });
// @ts-expect-error ... nor multiply it
update({ $mul: { salary: 2 } });
// @ts-expect-error ... nor compare it
update({ $min: { salary: 0 } });
// @ts-expect-error ... Deterministic included
update({ $max: { phone: '999' } });
// @ts-expect-error ... at any depth
update({ $max: { 'contacts.$.phone': '999' } });
// @ts-expect-error not a number
update({ $inc: { name: 1 } });
// @ts-expect-error the increment must be a number
update({ $inc: { age: '1' } });

// ---- $currentDate: plaintext dates only (the server-made value could not be encrypted)
update({ $currentDate: { createdAt: true, deletedAt: { $type: 'date' } } });
// @ts-expect-error not a date
update({ $currentDate: { name: true } });
// @ts-expect-error encrypted
update({ $currentDate: { medical: true } });

// ---- arrays: $push, $addToSet, $pull, $pullAll, $pop
update({ $push: { tags: 'vip', contacts: contact } });
update({ $push: { tags: { $each: ['a', 'b'], $position: 0, $slice: -10, $sort: 1 } } });
update({ $push: { contacts: { $each: [contact], $sort: { kind: 1 } } } });
update({ $addToSet: { tags: { $each: ['vip'] }, scores: 3 } });
update({ $pull: { tags: 'vip', scores: { $gte: 5 } } });
update({ $pull: { contacts: { kind: 'old', phone: '555-0100' } } });
update({ $pullAll: { tags: ['a', 'b'] }, $pop: { scores: -1 } });
// @ts-expect-error element type
update({ $push: { tags: 3 } });
// @ts-expect-error not an array
update({ $push: { name: 'x' } });
// @ts-expect-error an encrypted value cannot be pushed into
update({ $push: { ssn: 'x' } });
// @ts-expect-error $push's $sort cannot order by an encrypted field
update({ $push: { contacts: { $each: [contact], $sort: { phone: 1 } } } });
// @ts-expect-error Random ciphertext in the elements: duplicates cannot be found
update({ $addToSet: { contacts: contact } });
// @ts-expect-error a Random field cannot be matched
update({ $pull: { contacts: { note: 'x' } } });
// @ts-expect-error Deterministic: equality only
update({ $pull: { contacts: { phone: { $gt: '5' } } } });
// @ts-expect-error whole elements holding encrypted fields cannot be compared
update({ $pullAll: { contacts: [contact] } });
// @ts-expect-error encrypted
update({ $pop: { medical: 1 } });

// ---- $rename: optional plaintext source, plaintext target of a compatible type
update({ $rename: { formerName: 'nickname' } });
// @ts-expect-error encrypted source
update({ $rename: { phone: 'nickname' } });
// @ts-expect-error encrypted target
update({ $rename: { formerName: 'ssn' } });
// @ts-expect-error target not in the model
update({ $rename: { formerName: 'alias' } });
// @ts-expect-error target of another type
update({ $rename: { formerName: 'age' } });
// @ts-expect-error required source: documents would lose it
update({ $rename: { name: 'nickname' } });
// @ts-expect-error $rename cannot reach into array elements
update({ $rename: { formerName: 'contacts.0.kind' } });

class Directory {
  _id!: ObjectId;
  oldContacts?: Contact[];
  newContacts?: Contact[];
  oldTags?: string[];
  newTags?: string[];
}
const directory = (u: UpdateFilter<Directory>) => u;
directory({ $rename: { oldTags: 'newTags' } });
// @ts-expect-error the elements hold encrypted fields
directory({ $rename: { oldContacts: 'newContacts' } });

// ---- operators outside the supported set
// @ts-expect-error not supported
update({ $bit: { age: { and: 1 } } });
// @ts-expect-error not an update operator
update({ name: 'Ada' });

// ---- Timestamp fields take $currentDate only with $type 'timestamp'
class Audit {
  _id!: ObjectId;
  seen!: Timestamp;
  code?: Deterministic<string>;
}
const audit = (u: UpdateFilter<Audit>) => u;
audit({ $currentDate: { seen: { $type: 'timestamp' } } });
// @ts-expect-error `true` would store a Date
audit({ $currentDate: { seen: true } });
audit({ $unset: { code: '' } });
// @ts-expect-error not a number, and encrypted anyway
audit({ $inc: { code: 1 } });

// ---- arrayFilters: conditions on the elements an $[id] names, with the element's rules
type Options = NonNullable<Parameters<Repository<Person>['updateOne']>[2]>;
const withFilters = typeCase<Options>('arrayFilters');
withFilters({ arrayFilters: [{ 'c.kind': 'home' }, { 'c.phone': { $in: ['555-0100'] } }] });
withFilters({ arrayFilters: [{ t: 'vip' }, { s: { $gt: 3 } }] });
// @ts-expect-error Random element field: not comparable
withFilters({ arrayFilters: [{ 'c.note': 'x' }] });
// @ts-expect-error Deterministic element field: equality only
withFilters({ arrayFilters: [{ 'c.phone': { $gt: '5' } }] });
// @ts-expect-error wrong element field type
withFilters({ arrayFilters: [{ 'c.kind': 3 }] });

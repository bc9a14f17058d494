import test from 'ava';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { EncryptedQueryError, InvalidInputError } from '../../src/errors';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);

let client: StrongboxClient;
test.before(async () => { client = await testClient([Patient]); });
test.after.always(async () => { await client?.close(); });
const repo = () => client.repository(Patient) as unknown as {
  find(f: unknown, o?: unknown): { toArray(): Promise<unknown[]> };
  updateOne(f: unknown, u: unknown): Promise<unknown>;
  aggregate(p: unknown): { toArray(): Promise<unknown[]> };
  insertOne(d: unknown): Promise<unknown>;
  count(f: unknown): Promise<number>;
};

// JavaScript callers (and casts) get the same rules at run time as TypeScript at compile time.
const queryRefusals: Array<[string, () => Promise<unknown>, RegExp]> = [
  ['any filter on a Random field', () => repo().find({ ssn: '000-00-0000' }).toArray(), /Patient\.ssn is encrypted with Random/],
  ['$exists on a Random field', () => repo().find({ ssn: { $exists: true } }).toArray(), /Patient\.ssn is encrypted with Random/],
  ['a Random field nested in an array element', () => repo().find({ 'contacts.note': 'x' }).toArray(), /Patient\.contacts\.note is encrypted with Random/],
  ['a path inside a Random whole object', () => repo().find({ 'medical.bloodType': 'O+' }).toArray(), /reaches inside Patient\.medical/],
  ['$gt on a Deterministic field', () => repo().find({ phone: { $gt: '1' } }).toArray(), /Patient\.phone is Deterministic-encrypted.*\$gt/],
  ['$regex on a Deterministic field', () => repo().find({ phone: { $regex: '^\\+1' } }).toArray(), /\$regex cannot be evaluated on ciphertext/],
  ['a RegExp value on a Deterministic field', () => repo().find({ phone: /555/ }).toArray(), /a regular expression cannot be evaluated on ciphertext/],
  ['$type on a Deterministic field', () => repo().find({ phone: { $type: 'string' } }).toArray(), /\$type cannot be evaluated/],
  ['$size on an encrypted array', () => repo().find({ 'address.zip': { $size: 1 } }).toArray(), /\$size cannot be evaluated/],
  ['sorting by a Deterministic field', () => repo().find({}, { sort: { phone: 1 } }).toArray(), /\$sort key uses Patient\.phone/],
  ['sorting by a Random field', () => repo().find({}, { sort: { ssn: -1 } }).toArray(), /\$sort key uses Patient\.ssn/],
  ['$inc on an encrypted number', () => repo().updateOne({ name: 'x' }, { $inc: { score: 1 } }), /\$inc cannot be applied to Patient\.score/],
  ['$mul on an encrypted number', () => repo().updateOne({ name: 'x' }, { $mul: { score: 2 } }), /\$mul cannot be applied/],
  ['$rename of an encrypted field', () => repo().updateOne({ name: 'x' }, { $rename: { ssn: 'ssn2' } }), /\$rename cannot be applied/],
  ['grouping by an encrypted field', () => repo().aggregate([{ $group: { _id: '$phone', n: { $sum: 1 } } }]).toArray(), /\$group \(stage 0\) _id uses Patient\.phone/],
  ['summing an encrypted field', () => repo().aggregate([{ $group: { _id: null, s: { $sum: '$score' } } }]).toArray(), /uses Patient\.score/],
  ['an expression reading an encrypted field', () => repo().aggregate([{ $project: { x: { $concat: ['$ssn', '!'] } } }]).toArray(), /\$project \(stage 0\) uses Patient\.ssn/],
  ['$sort stage on an encrypted field', () => repo().aggregate([{ $sort: { ssn: 1 } }]).toArray(), /\$sort key uses Patient\.ssn/],
  ['$match on a Random field', () => repo().aggregate([{ $match: { ssn: 'x' } }]).toArray(), /Random/],
  ['$expr on a model with encrypted fields', () => repo().find({ $expr: { $eq: ['$name', '$phone'] } }).toArray(), /\$expr is refused/],
  ['$where', () => repo().find({ $where: 'this.a == 1' }).toArray(), /\$where is refused/],
];

for (const [title, run, message] of queryRefusals) {
  test(`refused before reaching the server: ${title}`, async (t) => {
    const err = await t.throwsAsync(run(), { instanceOf: EncryptedQueryError });
    t.regex(err!.message, message);
    t.regex(err!.message, /Fix: /, 'the message says what to do instead');
  });
}

const inputRefusals: Array<[string, () => Promise<unknown>, string]> = [
  ['an unknown field in a filter', () => repo().find({ nmae: 'x' }).toArray(), 'INPUT_UNKNOWN_FIELD'],
  ['an unknown nested field', () => repo().find({ 'address.zipp': 'x' }).toArray(), 'INPUT_UNKNOWN_FIELD'],
  ['an unknown field in an inserted document', () => repo().insertOne({ name: 'x', extra: 1 }), 'INPUT_UNKNOWN_FIELD'],
  ['__proto__ as a filter key', () => repo().find(JSON.parse('{"__proto__": {"polluted": true}}')).toArray(), 'INPUT_POLLUTING_KEY'],
  ['constructor inside an inserted document', () => repo().insertOne(JSON.parse('{"name": "x", "address": {"constructor": {"prototype": {}}}}')), 'INPUT_POLLUTING_KEY'],
  ['a value of the wrong type for an encrypted field', () => repo().insertOne({ name: 'x', phone: 42 }), 'INPUT_WRONG_TYPE'],
  ['an object where an encrypted string belongs', () => repo().insertOne({ name: 'x', ssn: { $ne: null } }), 'INPUT_WRONG_TYPE'],
  ['an operator object as a Deterministic equality value', () => repo().find({ phone: { $ne: { $gt: '' } } }).toArray(), 'INPUT_WRONG_TYPE'],
  ['findById without an id (it would match any document)', () => (client.repository(Patient).findById(undefined as never)), 'INPUT_ID_MISSING'],
  ['an update without operators', () => repo().updateOne({ name: 'x' }, { name: 'y' }), 'INPUT_UPDATE_NOT_OPERATORS'],
  ['$set of null into a required encrypted field', () => repo().updateOne({ name: 'x' }, { $set: { phone: null } }), 'INPUT_REQUIRED_MISSING'],
  ['$unset of a required encrypted field', () => repo().updateOne({ name: 'x' }, { $unset: { phone: '' } }), 'INPUT_REQUIRED_MISSING'],
];

for (const [title, run, code] of inputRefusals) {
  test(`refused as invalid input: ${title}`, async (t) => {
    const err = await t.throwsAsync(run(), { instanceOf: InvalidInputError });
    t.is<string, string>(err!.code, code);
  });
}

test('nothing refused was written', async (t) => {
  t.is(await repo().count({}), 0);
  t.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
});

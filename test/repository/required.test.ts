/**
 * Required and optional fields, against the real server: what inserts, replacements and
 * updates may leave empty, the one meaning of null/undefined in an optional field (no value:
 * the field is left out, or $unset), and how getters, non-enumerable and unknown properties
 * are written.
 */
import test from 'ava';
import { ObjectId, type Collection, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { InvalidInputError } from '../../src/errors';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);

let client: StrongboxClient;
let raw: MongoClient;
let patients: Collection<Document>;
test.before(async () => {
  client = await testClient([Patient]);
  raw = await rawClient();
  patients = raw.db(DB).collection('patients');
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

let seq = 0;
function patient(): Document {
  const n = ++seq;
  return {
    name: `Patient ${n}`, age: 40 + n, address: { street: `${n} Oak St`, city: 'Ogdenville', zip: `7${n}000` },
    contacts: [{ kind: 'home', phone: `555-03${n}`, note: `n${n}` }], tags: ['t'], phone: `+1-555-${3000 + n}`,
    ssn: `SECRET-SSN-${n}`, score: n, medical: { bloodType: 'B+', allergies: [] },
  };
}
const repo = () => client.repository(Patient);
const refused = async (t: import('ava').ExecutionContext, run: Promise<unknown>, code: string): Promise<InvalidInputError> => {
  const err = await t.throwsAsync(run, { instanceOf: InvalidInputError });
  t.is<string, string>(err!.code, code);
  return err as InvalidInputError;
};

test('an insert missing required fields is refused with one error naming every one of them, and nothing is written', async (t) => {
  const { phone: _phone, score: _score, address, ...rest } = patient();
  const doc = { ...rest, address: { ...address, zip: null }, age: undefined };
  const err = await refused(t, repo().insertOne(doc as never), 'INPUT_REQUIRED_MISSING');
  for (const field of ['"phone"', '"score"', '"address.zip"', '"age"']) t.true(err.message.includes(field), `names ${field}`);
  t.false(err.message.includes(rest.ssn as string), 'never a value');
  t.is(await patients.countDocuments({ name: rest.name }), 0);
});

test('a replacement must carry every required field; null in one is refused', async (t) => {
  const saved = await repo().insertOne(patient() as never);
  const { medical: _m, ...withoutMedical } = patient();
  const missing = await refused(t, repo().replaceOne({ _id: saved._id }, withoutMedical as never), 'INPUT_REQUIRED_MISSING');
  t.regex(missing.message, /"medical"/);
  await refused(t, repo().replaceOne({ _id: saved._id }, { ...patient(), phone: null } as never), 'INPUT_REQUIRED_MISSING');
  t.is((await repo().findById(saved._id))!.phone, saved.phone, 'the stored document is unchanged');
});

test('null or undefined in an optional field means no value: left out on insert, $unset by $set', async (t) => {
  const a = await repo().insertOne({ ...patient(), ssn: null } as never);
  const b = await repo().insertOne({ ...patient(), ssn: undefined } as never);
  for (const id of [a._id, b._id]) t.false('ssn' in (await patients.findOne({ _id: id }))!, 'the optional field is left out, not stored as null');

  const c = await repo().insertOne(patient() as never);
  t.true('ssn' in (await patients.findOne({ _id: c._id }))!);
  await repo().updateOne({ _id: c._id }, { $set: { ssn: null, name: 'Still here' } } as never);
  const afterNull = (await patients.findOne({ _id: c._id }))!;
  t.false('ssn' in afterNull, '$set of null removes the optional field');
  t.is(afterNull.name, 'Still here', 'the other $set values are applied');
  await repo().updateOne({ _id: c._id }, { $set: { ssn: 'again' } } as never);
  await repo().updateOne({ _id: c._id }, { $set: { ssn: undefined } } as never);
  t.false('ssn' in (await patients.findOne({ _id: c._id }))!, '$set of undefined removes it too, never stores null');
});

test('updates keep required fields: $set of null, $unset, $rename and a nested null are refused, naming the fields', async (t) => {
  const saved = await repo().insertOne(patient() as never);
  const setNull = await refused(t, repo().updateOne({ _id: saved._id }, { $set: { phone: null, age: undefined } } as never), 'INPUT_REQUIRED_MISSING');
  t.regex(setNull.message, /"phone", "age"/);
  await refused(t, repo().updateOne({ _id: saved._id }, { $unset: { 'address.zip': '' } } as never), 'INPUT_REQUIRED_MISSING');
  await refused(t, repo().updateOne({ _id: saved._id }, { $unset: { 'contacts.0.phone': '' } } as never), 'INPUT_REQUIRED_MISSING');
  await refused(t, repo().updateOne({ _id: saved._id }, { $rename: { name: 'fullName' } } as never), 'INPUT_REQUIRED_MISSING');
  const nested = await refused(t, repo().updateOne({ _id: saved._id }, { $set: { address: { street: 'x', city: 'y', zip: null } } } as never), 'INPUT_REQUIRED_MISSING');
  t.regex(nested.message, /"address\.zip"/);
  const stored = await repo().findById(saved._id);
  t.deepEqual([stored!.phone, stored!.address.zip, stored!.name], [saved.phone, saved.address.zip, saved.name], 'nothing changed');
});

test('getters and non-enumerable properties of declared fields are written; unknown own properties are refused', async (t) => {
  const base = patient();
  class PatientView {
    constructor(private readonly source: Document) {}
    get name(): string { return this.source.name; }
  }
  const { name: _name, ...rest } = base;
  const viaGetter = Object.assign(new PatientView(base), rest);
  // The private `source` field is an own enumerable property the model does not declare.
  await refused(t, repo().insertOne(viaGetter as never), 'INPUT_UNKNOWN_FIELD');
  Object.defineProperty(viaGetter, 'source', { enumerable: false });
  Object.defineProperty(viaGetter, 'phone', { value: base.phone, enumerable: false });
  const saved = await repo().insertOne(viaGetter as never);
  const stored = (await patients.findOne({ _id: saved._id }))!;
  t.is(stored.name, base.name, 'a value behind a getter is stored');
  t.true('phone' in stored, 'a non-enumerable declared field is stored (encrypted)');
  t.is((await repo().findById(saved._id))!.phone, base.phone);
  t.false('source' in stored, 'a non-enumerable undeclared property is not written');
  const id = new ObjectId();
  await refused(t, repo().insertOne({ ...base, _id: id, nickname: 'x' } as never), 'INPUT_UNKNOWN_FIELD');
});

test('$setOnInsert of null into an optional field leaves it out of an upserted document and never removes a stored value', async (t) => {
  const id = new ObjectId();
  const { ssn: _ssn, ...required } = patient();
  await repo().upsert({ _id: id } as never, { $set: required, $setOnInsert: { ssn: null } } as never);
  const inserted = (await patients.findOne({ _id: id }))!;
  t.false('ssn' in inserted, 'left out of the new document');
  t.is(inserted.name, required.name);

  const saved = await repo().insertOne(patient() as never);
  await repo().updateOne({ _id: saved._id }, { $setOnInsert: { ssn: undefined }, $set: { name: 'Renamed' } } as never);
  await repo().updateOne({ _id: saved._id }, { $setOnInsert: { ssn: null } } as never);
  const kept = (await repo().findById(saved._id))!;
  t.is(kept.ssn, saved.ssn, 'an update of an existing document keeps the value');
  t.is(kept.name, 'Renamed');
});

import test from 'ava';
import { Binary, ObjectId } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import type { InsertDoc } from '../../src/repository/types';
import { rawClient, testClient } from '../harness/client';
import { requires, uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient, Address } = defineModels(DB);
type PatientT = InstanceType<typeof Patient>;

let client: StrongboxClient;
test.before(async () => { client = await testClient([Patient]); });
test.after.always(async () => { await client?.close(); });

let seq = 0;
function patient(overrides: Partial<InsertDoc<PatientT>> = {}): InsertDoc<PatientT> {
  const n = ++seq;
  return {
    name: `Patient ${n}`,
    age: 20 + n,
    address: { street: `${n} Main St`, city: 'Springfield', zip: `0${n}000` },
    contacts: [{ kind: 'home', phone: `555-01${n}`, note: `call after 6 (${n})` }],
    tags: ['a', `t${n}`],
    phone: `+1-555-${1000 + n}`,
    ssn: `000-00-${1000 + n}`,
    score: n,
    medical: { bloodType: 'O+', allergies: ['pollen'] },
    ...overrides,
  } as InsertDoc<PatientT>;
}

const repo = () => client.repository(Patient);

test('insertOne returns an instance; findById reads it back decrypted and hydrated', async (t) => {
  const saved = await repo().insertOne(patient());
  t.true(saved instanceof Patient);
  t.true(saved._id instanceof ObjectId);
  const found = await repo().findById(saved._id);
  t.true(found instanceof Patient);
  t.true(found!.address instanceof Address, 'embedded documents are instances of their class');
  t.deepEqual({ ...found!.address }, { ...saved.address });
  t.is(found!.ssn, saved.ssn);
  t.is(found!.score, saved.score);
  t.deepEqual({ ...found!.medical }, { bloodType: 'O+', allergies: ['pollen'] }, 'a Random whole object decrypts back to the object');
  t.is(found!.contacts[0].note, saved.contacts[0].note);
});

test('what is stored: every encrypted field, nested and in arrays, is BinData subtype 6', async (t) => {
  const saved = await repo().insertOne(patient());
  const raw = await rawClient();
  try {
    const doc = (await raw.db(DB).collection('patients').findOne({ _id: saved._id }))!;
    for (const v of [doc.phone, doc.ssn, doc.score, doc.medical, doc.address.zip, doc.contacts[0].phone, doc.contacts[0].note]) {
      t.true(v instanceof Binary && v.sub_type === 6);
    }
    t.is(doc.address.city, 'Springfield');
    t.is(doc.contacts[0].kind, 'home');
  } finally { await raw.close(); }
});

async function threeMarked(label: string, overrides: (i: number) => Partial<InsertDoc<PatientT>> = () => ({})) {
  const marker = `${label}-${Date.now()}-${seq}`;
  const docs = [0, 1, 2].map((i) => patient({ tags: [marker], ...overrides(i) })) ;
  await repo().insertMany(docs);
  const names = async (filter: object) => (await repo().find({ tags: marker, ...filter }, { sort: { name: 1 } }).toArray()).map((p) => p.name);
  return { marker, docs, names };
}

test('find with equality, $in, $nin, $ne on Deterministic fields, nested and in arrays', async (t) => {
  const { docs, names } = await threeMarked('eq');
  t.deepEqual(await names({ phone: docs[1].phone }), [docs[1].name]);
  t.deepEqual(await names({ phone: { $eq: docs[2].phone } }), [docs[2].name]);
  t.deepEqual(await names({ phone: { $in: [docs[0].phone, docs[2].phone] } }), [docs[0].name, docs[2].name]);
  t.deepEqual(await names({ phone: { $nin: [docs[0].phone] } }), [docs[1].name, docs[2].name]);
  t.deepEqual(await names({ phone: { $ne: docs[0].phone } }), [docs[1].name, docs[2].name]);
  t.deepEqual(await names({ 'address.zip': docs[1].address.zip }), [docs[1].name]);
  t.deepEqual(await names({ 'contacts.phone': docs[2].contacts[0].phone }), [docs[2].name]);
  t.deepEqual(await names({ $or: [{ phone: docs[0].phone }, { name: docs[2].name }] }), [docs[0].name, docs[2].name]);
});

requires('elemMatchDocuments')('$elemMatch on an array of documents encrypts the Deterministic conditions inside', async (t) => {
  const { docs, names } = await threeMarked('elem');
  t.deepEqual(await names({ contacts: { $elemMatch: { kind: 'home', phone: docs[0].contacts[0].phone } } }), [docs[0].name]);
  t.deepEqual(await names({ contacts: { $elemMatch: { kind: 'work', phone: docs[0].contacts[0].phone } } }), []);
});

test('projection, sort, skip, limit and streaming in batches', async (t) => {
  const marker = `page-${Date.now()}`;
  await repo().insertMany(Array.from({ length: 7 }, (_, i) => patient({ name: `P${i}`, tags: [marker] })));
  const page = await repo().find({ tags: marker }, { sort: { name: -1 }, skip: 1, limit: 3, projection: { name: 1, phone: 1 } }).toArray();
  t.deepEqual(page.map((p) => p.name), ['P5', 'P4', 'P3']);
  t.true(page.every((p) => p.phone.startsWith('+1-555-') && !('ssn' in p) && p instanceof Patient));
  const batches: number[] = [];
  for await (const batch of repo().find({ tags: marker }, { batchSize: 3 }).batches()) batches.push(batch.length);
  t.deepEqual(batches, [3, 3, 1]);
  let n = 0;
  for await (const p of repo().find({ tags: marker }, { batchSize: 2 })) { t.true(p instanceof Patient); n++; }
  t.is(n, 7);
  t.is(await repo().count({ tags: marker }), 7);
  t.true(await repo().exists({ tags: marker, name: 'P6' }));
  t.false(await repo().exists({ tags: marker, name: 'P9' }));
});

test('updates: $set encrypts (top level, nested, arrays), $unset, $inc on plain fields, $push/$addToSet with encrypted elements', async (t) => {
  const saved = await repo().insertOne(patient());
  await repo().updateOne({ _id: saved._id }, { $set: { phone: '+1-555-9999', 'address.zip': '99999', ssn: '999-99-9999' }, $inc: { age: 1 } });
  let p = (await repo().findOne({ phone: '+1-555-9999' }))!;
  t.is(String(p._id), String(saved._id));
  t.deepEqual([p.address.zip, p.ssn, p.age], ['99999', '999-99-9999', saved.age + 1]);
  await repo().updateOne({ _id: saved._id }, { $push: { contacts: { kind: 'work', phone: '555-7777', note: 'desk' } }, $addToSet: { tags: 'vip' } });
  p = (await repo().findOne({ 'contacts.phone': '555-7777' }))!;
  t.deepEqual(p.contacts.map((c) => [c.kind, c.phone, c.note]), [['home', saved.contacts[0].phone, saved.contacts[0].note], ['work', '555-7777', 'desk']]);
  t.true(p.tags.includes('vip'));
  await repo().updateOne({ _id: saved._id }, { $unset: { ssn: '' } });
  t.is((await repo().findById(saved._id))!.ssn as unknown, undefined);
  const many = await repo().updateMany({ phone: '+1-555-9999' }, { $set: { name: 'Renamed' } });
  t.is(many.modifiedCount, 1);
});

requires('pullDocumentCondition')('$pull with an equality on an encrypted field of the elements', async (t) => {
  const saved = await repo().insertOne(patient({ contacts: [{ kind: 'home', phone: '555-1', note: 'a' }, { kind: 'work', phone: '555-2', note: 'b' }] }));
  await repo().updateOne({ _id: saved._id }, { $pull: { contacts: { phone: '555-2' } } });
  t.deepEqual((await repo().findById(saved._id))!.contacts.map((c) => c.phone), ['555-1']);
});

requires('positionalOperator')('positional $ into an array element encrypts the nested field', async (t) => {
  const saved = await repo().insertOne(patient({ contacts: [{ kind: 'home', phone: '555-1', note: 'a' }, { kind: 'work', phone: '555-2', note: 'b' }] }));
  await repo().updateOne({ _id: saved._id, 'contacts.phone': '555-2' }, { $set: { 'contacts.$.note': 'moved' } });
  t.deepEqual((await repo().findById(saved._id))!.contacts.map((c) => c.note), ['a', 'moved']);
});

requires('arrayFilters')('arrayFilters conditions on encrypted fields are encrypted too', async (t) => {
  const saved = await repo().insertOne(patient({ contacts: [{ kind: 'home', phone: '555-1', note: 'a' }, { kind: 'work', phone: '555-2', note: 'b' }] }));
  await repo().updateOne({ _id: saved._id }, { $set: { 'contacts.$[c].note': 'changed' } }, { arrayFilters: [{ 'c.phone': '555-2' }] });
  t.deepEqual((await repo().findById(saved._id))!.contacts.map((c) => c.note), ['a', 'changed']);
});

test('replaceOne, upsert and the findOneAnd… family', async (t) => {
  const saved = await repo().insertOne(patient());
  const replacement = patient({ name: 'Replaced', phone: '+1-555-5050' });
  await repo().replaceOne({ _id: saved._id }, replacement);
  const r = (await repo().findOne({ phone: '+1-555-5050' }))!;
  t.is(r.name, 'Replaced');
  t.is(r.ssn as unknown, replacement.ssn);

  // An upsert that may insert gives every required field (the filter's equality gives phone).
  const { phone: _phone, ...inserted } = patient({ name: 'Upserted', ssn: '111-11-1111' });
  const up = await repo().upsert({ phone: '+1-555-6060' }, { $setOnInsert: inserted });
  t.truthy(up.upsertedId);
  const u = (await repo().findOne({ phone: '+1-555-6060' }))!;
  t.deepEqual([u.name, u.ssn], ['Upserted', '111-11-1111']);

  const after = await repo().findOneAndUpdate({ phone: '+1-555-6060' }, { $set: { ssn: '222-22-2222' } }, { returnDocument: 'after' });
  t.is(after!.ssn, '222-22-2222');
  const before = await repo().findOneAndReplace({ phone: '+1-555-6060' }, patient({ name: 'Again', phone: '+1-555-6060' }), { returnDocument: 'before' });
  t.is(before!.name, 'Upserted');
  const deleted = await repo().findOneAndDelete({ phone: '+1-555-6060' });
  t.is(deleted!.name, 'Again');
  t.true(deleted instanceof Patient);
  t.is(await repo().findOne({ phone: '+1-555-6060' }), null);
});

test('stored documents keep the field order of the input, encrypted fields included', async (t) => {
  const { phone, ...rest } = patient();
  const input = { phone, ...rest, contacts: [{ note: 'first', kind: 'work', phone: '555-0000' }] };
  const saved = await repo().insertOne(input);
  const raw = await rawClient();
  try {
    const doc = (await raw.db(DB).collection('patients').findOne({ _id: saved._id }))!;
    t.deepEqual(Object.keys(doc).filter((k) => k !== '_id'), Object.keys(input));
    t.deepEqual(Object.keys(doc.contacts[0]), ['note', 'kind', 'phone']);
  } finally { await raw.close(); }
});

test('deleteOne and deleteMany by Deterministic equality', async (t) => {
  const marker = `del-${Date.now()}`;
  const docs = [patient({ tags: [marker] }), patient({ tags: [marker] }), patient({ tags: [marker] })] ;
  await repo().insertMany(docs);
  t.is((await repo().deleteOne({ phone: docs[0].phone })).deletedCount, 1);
  t.is((await repo().deleteMany({ phone: { $in: [docs[1].phone, docs[2].phone] } })).deletedCount, 2);
  t.is(await repo().count({ tags: marker }), 0);
});

test('aggregate: $match on encrypted equality, $group by a plain field, $project moving ciphertext that comes back decrypted', async (t) => {
  const { marker, docs } = await threeMarked('agg', (i) => ({ address: { street: 's', city: i < 2 ? 'A' : 'B', zip: i === 1 ? '2' : '1' } }));
  const rows = await repo().aggregate<{ _id: string; n: number }>([
    { $match: { tags: marker, 'address.zip': { $in: ['1', '2'] } } },
    { $group: { _id: '$address.city', n: { $sum: 1 } } },
    { $sort: { _id: 1 } },
  ]).toArray();
  t.deepEqual(rows.map((r) => [r._id, r.n]), [['A', 2], ['B', 1]]);
  const projected = await repo().aggregate<{ name: string; ssn: string }>([
    { $match: { tags: marker, phone: docs[1].phone } },
    { $project: { name: 1, ssn: 1 } },
  ]).toArray();
  t.deepEqual(projected.map((r) => [r.name, r.ssn]), [[docs[1].name, docs[1].ssn]]);
});

requires('groupAccumulators')('aggregate: $push of an encrypted field collects decrypted values', async (t) => {
  const { marker, docs } = await threeMarked('push');
  const [row] = await repo().aggregate<{ ssns: string[] }>([{ $match: { tags: marker } }, { $group: { _id: null, ssns: { $push: '$ssn' } } }]).toArray();
  t.deepEqual(row.ssns.slice().sort(), docs.map((d) => d.ssn).sort());
});

test('bulkWrite encodes every kind of operation', async (t) => {
  const marker = `bulk-${Date.now()}`;
  const a = patient({ tags: [marker] });
  const b = patient({ tags: [marker] });
  await repo().insertOne(b);
  const result = await repo().bulkWrite([
    { insertOne: { document: a } },
    { updateOne: { filter: { phone: b.phone }, update: { $set: { ssn: '333-33-3333' } } } },
    { deleteMany: { filter: { phone: '+1-000' } } },
  ]);
  t.is(result.insertedCount, 1);
  t.is(result.modifiedCount, 1);
  t.is((await repo().findOne({ phone: b.phone }))!.ssn, '333-33-3333');
  t.is((await repo().findOne({ phone: a.phone }))!.ssn, a.ssn);
});

requires('transactions')('sessions and transactions pass through', async (t) => {
  const session = client.dataClient.startSession();
  try {
    const doc = patient();
    await session.withTransaction(async () => { await repo().insertOne(doc, { session }); });
    t.is((await repo().findOne({ phone: doc.phone }))!.ssn, doc.ssn);
  } finally { await session.endSession(); }
});

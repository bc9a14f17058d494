/**
 * Typed aggregation against the real server: the documents a typed pipeline returns have the
 * shape its result type names (checked at compile time by expectType, at run time by the keys
 * and values read back), encrypted fields come back decrypted, and untyped pipelines still go
 * through the run-time policy.
 */
import test from 'ava';
import { ObjectId, type Document } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { EncryptedQueryError } from '../../src/errors';
import { ArrayField, Encrypted, Field, Id, Model } from '../../src/metadata';
import type { Deterministic, Random } from '../../src/metadata/brands';
import { lookup } from '../../src/repository/lookup';
import { testClient } from '../harness/client';
import { requires, uniqueDbName } from '../harness/server';
import { expectType, type Equal } from '../types/model';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'clinics' })
class Clinic {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field() city!: string;
}

@Model({ db: DB, collection: 'patients', keyAltName: 'typed-aggregate' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field({ bsonType: 'int' }) age!: number;
  @Field() city!: string;
  @ArrayField({ of: 'string' }) tags!: string[];
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

let client: StrongboxClient;
const marker = `m${Date.now()}`;
const people = [
  { name: 'Ada', age: 36, city: 'London', tags: [marker, 'math'], phone: '555-0001', ssn: '100-00-0001' },
  { name: 'Grace', age: 45, city: 'Arlington', tags: [marker, 'navy', 'cobol'], phone: '555-0002', ssn: '100-00-0002' },
  { name: 'Alan', age: 41, city: 'London', tags: [marker], phone: '555-0003', ssn: '100-00-0003' },
];

test.before(async () => {
  client = await testClient([Patient, Clinic]);
  await client.repository(Patient).insertMany(people);
  await client.repository(Clinic).insertMany([{ name: 'St Mary', city: 'London' }, { name: 'Walter Reed', city: 'Arlington' }]);
});
test.after.always(async () => { await client?.close(); });

const patients = () => client.repository(Patient);

test('$match on a Deterministic field, then $project keeping encrypted fields: the typed shape, decrypted', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker, phone: '555-0002' } },
    { $project: { _id: 0, name: 1, ssn: 1, phone: 1 } },
  ]).toArray();
  expectType<Equal<typeof rows, { name: string; ssn: string; phone: string }[]>>();
  t.deepEqual(rows, [{ name: 'Grace', ssn: '100-00-0002', phone: '555-0002' }]);
  t.false(rows[0] instanceof Patient, 'aggregation results are plain objects');
  const without = await patients().aggregate([{ $match: { tags: marker, name: 'Ada' } }, { $project: { ssn: 0, tags: 0, _id: 0 } }]).toArray();
  expectType<Equal<typeof without, { name: string; age: number; city: string; phone: string }[]>>();
  t.deepEqual(without, [{ name: 'Ada', age: 36, city: 'London', phone: '555-0001' }]);
});

requires('movedFields')('encrypted fields moved to new names by $project and $addFields come back decrypted', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker, phone: '555-0002' } },
    { $project: { _id: 0, who: '$name', secret: '$ssn', phone: 1 } },
    { $addFields: { reach: '$phone' } },
  ]).toArray();
  expectType<Equal<typeof rows, { who: string; secret: string; phone: string; reach: string }[]>>();
  t.deepEqual(rows, [{ who: 'Grace', secret: '100-00-0002', phone: '555-0002', reach: '555-0002' }]);
});

requires('expressionOperators')('computed fields of $project and $addFields are typed by their operator', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker, name: 'Ada' } },
    { $project: { _id: 0, upper: { $toUpper: '$name' }, tagCount: { $size: '$tags' }, phone: 1 } },
    { $addFields: { more: { $add: ['$tagCount', 1] } } },
  ]).toArray();
  expectType<Equal<typeof rows, { upper: string; tagCount: number; phone: string; more: number }[]>>();
  t.deepEqual(rows, [{ upper: 'ADA', tagCount: 2, phone: '555-0001', more: 3 }]);
});

test('$group with $sum, then $sort: typed keys and counts, as computed by the server', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker } },
    { $group: { _id: '$city', n: { $sum: 1 } } },
    { $sort: { _id: 1 } },
  ]).toArray();
  expectType<Equal<typeof rows, { _id: string; n: number }[]>>();
  t.deepEqual(rows, [{ _id: 'Arlington', n: 1 }, { _id: 'London', n: 2 }]);
});

requires('numericAccumulators')('$group with $sum of a field, $avg, $min and $max: typed numbers', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker } },
    { $group: { _id: '$city', years: { $sum: '$age' }, avgAge: { $avg: '$age' }, youngest: { $min: '$age' }, oldest: { $max: '$age' } } },
    { $sort: { _id: 1 } },
  ]).toArray();
  expectType<Equal<typeof rows, { _id: string; years: number; avgAge: number | null; youngest: number; oldest: number }[]>>();
  t.deepEqual(rows, [
    { _id: 'Arlington', years: 45, avgAge: 45, youngest: 45, oldest: 45 },
    { _id: 'London', years: 77, avgAge: 38.5, youngest: 36, oldest: 41 },
  ]);
});

test('$unwind then $group by the element, $count, $addFields/$unset: the documents follow each stage', async (t) => {
  const perTag = await patients().aggregate([
    { $match: { tags: marker } },
    { $unwind: '$tags' },
    { $group: { _id: '$tags', n: { $sum: 1 } } },
    { $sort: { n: -1, _id: 1 } },
    { $limit: 2 },
  ]).toArray();
  expectType<Equal<typeof perTag, { _id: string; n: number }[]>>();
  t.deepEqual(perTag, [{ _id: marker, n: 3 }, { _id: 'cobol', n: 1 }]);

  const counted = await patients().aggregate([{ $match: { tags: marker, age: { $gte: 40 } } }, { $count: 'over40' }]).toArray();
  expectType<Equal<typeof counted, { over40: number }[]>>();
  t.deepEqual(counted, [{ over40: 2 }]);

  const reshaped = await patients().aggregate([
    { $match: { tags: marker, name: 'Ada' } },
    { $addFields: { label: 'patient' } },
    { $unset: ['tags', 'ssn', '_id', 'city'] },
  ]).toArray();
  expectType<Equal<typeof reshaped, { name: string; age: number; phone: string; label: 'patient' }[]>>();
  t.deepEqual(reshaped, [{ name: 'Ada', age: 36, phone: '555-0001', label: 'patient' }]);
});

requires('groupAccumulators')('$group with $first and $push of encrypted fields: moved whole, decrypted on read', async (t) => {
  const [row] = await patients().aggregate([
    { $match: { tags: marker, city: 'London' } },
    { $sort: { age: 1 } },
    { $group: { _id: '$city', firstSsn: { $first: '$ssn' }, phones: { $push: '$phone' }, names: { $addToSet: '$name' } } },
  ]).toArray();
  expectType<Equal<typeof row, { _id: string; firstSsn: string; phones: string[]; names: string[] }>>();
  t.is(row.firstSsn, '100-00-0001');
  t.deepEqual(row.phones, ['555-0001', '555-0003']);
  t.deepEqual(row.names.slice().sort(), ['Ada', 'Alan']);
});

requires('lookup')('lookup(Model, …) joins the documents of a model without encrypted fields, typed', async (t) => {
  const rows = await patients().aggregate([
    { $match: { tags: marker, name: 'Grace' } },
    lookup(Clinic, { localField: 'city', foreignField: 'city', as: 'clinics' }),
    { $project: { _id: 0, name: 1, phone: 1, clinics: 1 } },
  ]).toArray();
  expectType<Equal<typeof rows, { name: string; phone: string; clinics: { _id: ObjectId; name: string; city: string }[] }[]>>();
  t.is(rows.length, 1);
  t.is(rows[0].phone, '555-0002');
  t.deepEqual(rows[0].clinics.map((c) => [c.name, c.city]), [['Walter Reed', 'Arlington']]);
});

test('lookup builds a plain $lookup stage on the model\'s collection, and refuses models with encrypted fields', (t) => {
  t.deepEqual(lookup(Clinic, { localField: 'city', foreignField: 'city', as: 'clinics' }) as unknown, { $lookup: { from: 'clinics', localField: 'city', foreignField: 'city', as: 'clinics' } });
  const refused = t.throws(() => lookup(Patient as never, { localField: 'city', foreignField: 'city', as: 'x' } as never), { instanceOf: EncryptedQueryError });
  t.is(refused?.code, 'QUERY_LOOKUP_ENCRYPTED_TARGET');
  t.regex(refused!.message, /Patient/);
  const unknown = t.throws(() => lookup(Clinic, { localField: 'city', foreignField: 'town' as never, as: 'x' }));
  t.is((unknown as { code?: string } | undefined)?.code, 'INPUT_UNKNOWN_FIELD');
});

test('an untyped pipeline (a Document[] value) compiles to Document and is still refused by the run-time policy', async (t) => {
  const stages: Document[] = [{ $match: { tags: marker } }, { $sort: { phone: 1 } }];
  const cursor = patients().aggregate(stages);
  expectType<Equal<Awaited<ReturnType<typeof cursor.toArray>>, Document[]>>();
  const refused = await t.throwsAsync(cursor.toArray(), { instanceOf: EncryptedQueryError });
  t.is(refused?.code, 'QUERY_SORT_ON_ENCRYPTED');
  const named = await patients().aggregate<{ n: number }>([{ $match: { tags: marker } }, { $count: 'n' }]).toArray();
  t.deepEqual(named, [{ n: 3 }]);
});

test('$addFields stores 0, 1, true and false as values (not keep-flags): a later $match reads them as plain fields', async (t) => {
  const pipeline: Document[] = [
    { $match: { tags: marker, name: 'Alan' } },
    { $group: { _id: '$name', n: { $sum: 1 } } },
    { $addFields: { seen: true, hidden: false, one: 1, zero: 0, n: 1 } },
    { $match: { seen: true, one: 1, n: 1 } },
    { $project: { _id: 1, seen: 1, hidden: 1, one: 1, zero: 1, n: 1 } },
  ];
  const rows = await patients().aggregate<Document>(pipeline).toArray();
  t.deepEqual(rows, [{ _id: 'Alan', seen: true, hidden: false, one: 1, zero: 0, n: 1 }]);
  // Writing a literal where the model keeps ciphertext stays refused: it would be stored in plaintext.
  const error = await t.throwsAsync(patients().aggregate<Document>([{ $addFields: { phone: 1 } }]).toArray(), { instanceOf: EncryptedQueryError });
  t.is(error?.code, 'QUERY_PIPELINE_WRITES_ENCRYPTED');
});

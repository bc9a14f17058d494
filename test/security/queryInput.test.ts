/**
 * Hostile filters, updates and documents through the repository, property-based, against the
 * real server with command monitoring:
 *  - a user value in a value position ($eq/$in operands, $set values, document fields) never
 *    becomes an operator: nothing extra matches, nothing is deleted or changed;
 *  - no input shape sends a value of an encrypted field to the server unencrypted, and nothing
 *    is stored unencrypted where the model says encrypted;
 *  - keys like __proto__ and constructor, anywhere, cannot pollute prototypes;
 *  - every failure is a typed StrongboxError.
 */
import test from 'ava';
import fc from 'fast-check';
import { BSON, Binary, MongoServerError, ObjectId, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { StrongboxError } from '../../src/errors';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import type { ModelShape } from '../../src/metadata/types';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from '../repository/models';
import { runs, untyped } from './support';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);

/** A free-form object field: paths below it are the application's, so they reach the encoders unchecked by the model. */
@Model({ db: DB, collection: 'notes', keyAltName: 'notes' })
class Note {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) ref!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) body!: Random<string>;
}

/** Repositories as JavaScript callers see them: any shape goes in. */
interface LooseRepo {
  insertOne(doc: unknown): Promise<unknown>;
  insertMany(docs: unknown): Promise<unknown>;
  find(filter: unknown, options?: unknown): { toArray(): Promise<unknown[]> };
  findOne(filter: unknown, options?: unknown): Promise<unknown>;
  count(filter: unknown): Promise<number>;
  exists(filter: unknown): Promise<boolean>;
  updateOne(filter: unknown, update: unknown, options?: unknown): Promise<{ matchedCount: number; modifiedCount: number }>;
  updateMany(filter: unknown, update: unknown, options?: unknown): Promise<{ matchedCount: number; modifiedCount: number }>;
  replaceOne(filter: unknown, doc: unknown, options?: unknown): Promise<{ matchedCount: number }>;
  deleteOne(filter: unknown): Promise<{ deletedCount: number }>;
  deleteMany(filter: unknown): Promise<{ deletedCount: number }>;
  findOneAndUpdate(filter: unknown, update: unknown, options?: unknown): Promise<unknown>;
  findOneAndReplace(filter: unknown, doc: unknown, options?: unknown): Promise<unknown>;
  findOneAndDelete(filter: unknown, options?: unknown): Promise<unknown>;
  aggregate(pipeline: unknown): { toArray(): Promise<unknown[]> };
  bulkWrite(ops: unknown): Promise<unknown>;
}

let client: StrongboxClient;
let raw: MongoClient;
const commands: CommandStartedEvent[] = [];
const patients = () => client.repository(Patient) as unknown as LooseRepo;
const notes = () => client.repository(Note) as unknown as LooseRepo;
const tally = { valuePositions: 0, shapes: 0, pollution: 0, refusals: new Map<string, number>(), serverRefused: 0 };

const SEEDS = 4;
const seedName = (i: number) => `seed-${i}-${DB}`;
const seedPatient = (i: number) => ({
  name: seedName(i), age: 30 + i, tags: ['seed'],
  address: { street: `${i} Main St`, city: 'Springfield', zip: `seedzip-${i}` },
  contacts: [{ kind: 'home', phone: `seedphone-${i}`, note: `seednote-${i}` }],
  phone: `seedphone-${i}`, ssn: `seedssn-${i}`, score: i, medical: { bloodType: 'O+', allergies: ['none'] },
});

test.before(async () => {
  client = await testClient([Patient, Note], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (e) => commands.push(e));
  raw = await rawClient();
  await client.ensureDataKeys();
  await patients().insertMany(Array.from({ length: SEEDS }, (_, i) => seedPatient(i)));
});
test.after.always(async () => {
  console.log(`query hostile inputs tried: ${tally.valuePositions + tally.shapes + tally.pollution} (value positions ${tally.valuePositions}, encryption shapes ${tally.shapes}, pollution keys ${tally.pollution}); refused by the server after encoding ${tally.serverRefused}`);
  await client?.close();
  await raw?.close();
});

function refused(err: StrongboxError): void {
  tally.refusals.set(err.code, (tally.refusals.get(err.code) ?? 0) + 1);
}

/**
 * Runs an operation: its result, or undefined when Strongbox refused it with a typed error. With
 * `serverMayRefuse`, a request Strongbox encoded and sent may be refused by the server too (FerretDB
 * v1 lacks arrayFilters and some stages; `$[]` cannot upsert): that property is about what was
 * sent, which the caller checks. Any other failure fails the property.
 */
async function attempt<R>(op: () => Promise<R>, serverMayRefuse = false): Promise<R | undefined> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof StrongboxError) { refused(err); return undefined; }
    if (serverMayRefuse && err instanceof MongoServerError) { tally.serverRefused++; return undefined; }
    throw new Error(untyped(err));
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Values never become operators

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    { $ne: null }, { $ne: 'x' }, { $gt: '' }, { $gte: -1e9 }, { $exists: true }, { $where: 'sleep(50) || true' }, { $expr: { $eq: [1, 1] } },
    { $regex: '.*' }, { $in: [null, ''] }, { $nin: [] }, { $not: { $eq: 'x' } }, { $elemMatch: {} }, { $type: 'string' }, { $size: 1 },
    { $function: { body: 'return true', args: [], lang: 'js' } }, { $jsonSchema: {} }, [{ $ne: null }], { a: { $gt: '' } }, { a: 1, $or: [{}] },
    '$phone', '$$ROOT', '$where', '{"$ne":null}',
  ),
  fc.dictionary(fc.constantFrom('$ne', '$gt', '$where', '$expr', '$exists', '$regex', '$in', 'a', 'b'), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"a":{"__proto__":{"polluted":true}}}').map((j) => JSON.parse(j)),
);

const count = (p: Promise<unknown[]>) => p.then((r) => r.length);
/** Each position puts the value where a value belongs and reports how many documents it reached. */
const VALUE_POSITIONS: Array<[string, (v: unknown) => Promise<number>]> = [
  ['find { name: { $eq: v } }', (v) => count(patients().find({ name: { $eq: v } }).toArray())],
  ['find { phone: { $eq: v } } (Deterministic)', (v) => count(patients().find({ phone: { $eq: v } }).toArray())],
  ['find { phone: { $in: [v] } }', (v) => count(patients().find({ phone: { $in: [v] } }).toArray())],
  ['find { name: { $in: [v] } }', (v) => count(patients().find({ name: { $in: [v] } }).toArray())],
  ['find { "address.zip": { $eq: v } }', (v) => count(patients().find({ 'address.zip': { $eq: v } }).toArray())],
  ['find { "contacts.phone": { $eq: v } }', (v) => count(patients().find({ 'contacts.phone': { $eq: v } }).toArray())],
  ['find { contacts: { $elemMatch: { phone: { $eq: v } } } }', (v) => count(patients().find({ contacts: { $elemMatch: { phone: { $eq: v } } } }).toArray())],
  ['find { _id: { $eq: v } }', (v) => count(patients().find({ _id: { $eq: v } }).toArray())],
  ['count { $or: [{ name: { $eq: v } }] }', (v) => patients().count({ $or: [{ name: { $eq: v } }] })],
  ['exists { age: { $eq: v } }', (v) => patients().exists({ age: { $eq: v } }).then(Number)],
  ['aggregate $match { name: { $eq: v } }', (v) => count(patients().aggregate([{ $match: { name: { $eq: v } } }]).toArray())],
  ['deleteMany { name: { $eq: v } }', (v) => patients().deleteMany({ name: { $eq: v } }).then((r) => r.deletedCount)],
  ['deleteOne { phone: { $eq: v } }', (v) => patients().deleteOne({ phone: { $eq: v } }).then((r) => r.deletedCount)],
  ['updateMany { name: { $eq: v } } $set tags', (v) => patients().updateMany({ name: { $eq: v } }, { $set: { tags: ['touched'] } }).then((r) => r.matchedCount)],
  ['findOneAndDelete { name: { $in: [v] } }', (v) => patients().findOneAndDelete({ name: { $in: [v] } }).then((r) => Number(r !== null))],
  // Writes: the value is stored as a value (or refused), and touches no other document.
  ['updateMany $set { name: v } where name is absent', (v) => patients().updateMany({ name: `absent-${DB}` }, { $set: { name: v } }).then((r) => r.matchedCount)],
  ['updateMany $set { phone: v } where name is absent', (v) => patients().updateMany({ name: `absent-${DB}` }, { $set: { phone: v, 'address.zip': v } }).then((r) => r.matchedCount)],
  ['insertOne { name: v } then delete it', async (v) => {
    const id = new ObjectId();
    // FerretDB v1 refuses some literal values MongoDB stores (nested arrays): a refusal, not an injection.
    const inserted = await attempt(() => patients().insertOne({ _id: id, name: v }), true);
    if (inserted !== undefined) {
      const stored = await raw.db(DB).collection('patients').findOne({ _id: id });
      if (stored && BSON.EJSON.stringify(stored.name ?? null) !== BSON.EJSON.stringify(v ?? null)) throw new Error(`stored ${BSON.EJSON.stringify(stored.name)} for ${JSON.stringify(v)}`);
      await raw.db(DB).collection('patients').deleteOne({ _id: id });
    }
    return 0;
  }],
];

test.serial('a user value in a value position never becomes an operator: nothing extra matches, is deleted or changed', async (t) => {
  await fc.assert(fc.asyncProperty(fc.nat(VALUE_POSITIONS.length - 1), hostileValue, async (position, value) => {
    tally.valuePositions++;
    const [name, run] = VALUE_POSITIONS[position];
    const reached = await attempt(() => run(value));
    if (reached !== undefined && reached !== 0) throw new Error(`${name} with ${JSON.stringify(value)} reached ${reached} document(s)`);
    const intact = await raw.db(DB).collection('patients').countDocuments({ name: { $in: Array.from({ length: SEEDS }, (_, i) => seedName(i)) }, tags: ['seed'] });
    if (intact !== SEEDS) throw new Error(`${name} with ${JSON.stringify(value)} changed or deleted seed documents`);
    if (({} as Record<string, unknown>).polluted !== undefined) throw new Error(`${name} with ${JSON.stringify(value)} polluted Object.prototype`);
  }), { ...runs(400), examples: VALUE_POSITIONS.map((_, i): [number, unknown] => [i, { $ne: null }]) });
  t.is(await raw.db(DB).collection('patients').countDocuments({}), SEEDS, 'exactly the seed documents remain');
});

// ---------------------------------------------------------------------------------------------
// 2. No shape sends or stores an encrypted field's value in the clear

/** Distinctive plaintexts: a random part from fast-check (any unicode) inside markers base64 never produces. */
const secretText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 });
type Secrets = () => string;
const contact = (s: Secrets) => ({ kind: 'work', phone: s(), note: s() });
const address = (s: Secrets) => ({ street: 'High St', city: 'Shelbyville', zip: s() });
const fullPatient = (s: Secrets) => ({ name: `p-${DB}`, age: 50, tags: ['t'], address: address(s), contacts: [contact(s)], phone: s(), ssn: s(), score: 7, medical: { bloodType: s(), allergies: [s()] } });

/** Filters that carry plaintexts of encrypted fields, in every form the encoders know (and some they must refuse). */
const FILTERS: Array<(s: Secrets) => Document> = [
  (s) => ({ phone: s() }),
  (s) => ({ phone: { $eq: s() } }),
  (s) => ({ phone: { $ne: s() }, name: `p-${DB}` }),
  (s) => ({ phone: { $in: [s(), s()] } }),
  (s) => ({ phone: { $nin: [s()] }, name: `p-${DB}` }),
  (s) => ({ 'address.zip': s() }),
  (s) => ({ address: address(s) }),
  (s) => ({ address: { $in: [address(s)] } }),
  (s) => ({ 'contacts.phone': s() }),
  (s) => ({ contacts: { $elemMatch: { phone: s(), kind: 'work' } } }),
  (s) => ({ contacts: { $elemMatch: { phone: { $in: [s()] } } } }),
  (s) => ({ $or: [{ phone: s() }, { 'address.zip': s() }] }),
  (s) => ({ $and: [{ $nor: [{ phone: s() }] }, { name: `p-${DB}` }] }),
  (s) => ({ phone: { $not: { $eq: s() } } }),
  (s) => ({ phone: { $regex: s() } }),
  (s) => ({ phone: { $gt: s() } }),
  (s) => ({ ssn: s() }),
  (s) => ({ 'contacts.note': s() }),
  (s) => ({ 'medical.bloodType': s() }),
  (s) => ({ contacts: { $all: [contact(s)] } }),
  (s) => ({ contacts: contact(s) }),
  (s) => ({ address: { $elemMatch: { zip: s() } } }),
  (s) => ({ $expr: { $eq: ['$phone', s()] } }),
  (s) => ({ $where: `this.phone == '${s()}'` }),
  () => ({ name: `p-${DB}` }),
];

/** Updates that write plaintexts of encrypted fields, in every operator and path form. */
const UPDATES: Array<(s: Secrets) => Document> = [
  (s) => ({ $set: { ssn: s(), phone: s() } }),
  (s) => ({ $set: { 'address.zip': s() } }),
  (s) => ({ $set: { address: address(s) } }),
  (s) => ({ $set: { 'contacts.0.phone': s(), 'contacts.0.note': s() } }),
  (s) => ({ $set: { 'contacts.0': contact(s) } }),
  (s) => ({ $set: { 'contacts.$[].phone': s() } }),
  (s) => ({ $set: { contacts: [contact(s), contact(s)] } }),
  (s) => ({ $set: { medical: { bloodType: s(), allergies: [s()] } } }),
  (s) => ({ $set: { 'medical.bloodType': s() } }),
  (s) => ({ $setOnInsert: { ssn: s(), 'address.zip': s() }, $set: { name: `p-${DB}` } }),
  (s) => ({ $push: { contacts: contact(s) } }),
  (s) => ({ $push: { contacts: { $each: [contact(s)], $position: 0 } } }),
  (s) => ({ $addToSet: { contacts: contact(s) } }),
  (s) => ({ $push: { 'address.zip': s() } }),
  (s) => ({ $pull: { contacts: { phone: s() } } }),
  (s) => ({ $pull: { contacts: { phone: { $in: [s()] } } } }),
  (s) => ({ $pullAll: { contacts: [contact(s)] } }),
  (s) => ({ $max: { address: { street: 'zzz', city: 'zzz', zip: s() } } }),
  (s) => ({ $min: { address: { street: '', city: '', zip: s() } } }),
  (s) => ({ $max: { ssn: s() } }),
  (s) => ({ $inc: { score: 1 }, $set: { ssn: s() } }),
  (s) => ({ $rename: { name: 'ssn' }, $set: { phone: s() } }),
  (s) => ({ $currentDate: { ssn: true }, $set: { phone: s() } }),
  (s) => ({ $set: { phone: s() }, $unset: { ssn: '' } }),
];

/** Pipelines with plaintexts of encrypted fields in matches, facets, computed or written values. */
const PIPELINES: Array<(s: Secrets) => Document[]> = [
  (s) => [{ $match: { phone: s() } }],
  (s) => [{ $match: { $or: [{ 'address.zip': s() }, { 'contacts.phone': s() }] } }, { $limit: 5 }],
  (s) => [{ $facet: { a: [{ $match: { phone: s() } }] } }],
  (s) => [{ $project: { phone: s(), name: 1 } }],
  (s) => [{ $project: { 'address.zip': s() } }],
  (s) => [{ $addFields: { ssn: s() } }],
  (s) => [{ $set: { address: { zip: s() } } }],
  (s) => [{ $set: { contacts: [contact(s)] } }],
  (s) => [{ $replaceWith: { ssn: s() } }],
  (s) => [{ $replaceRoot: { newRoot: { phone: s() } } }],
  (s) => [{ $set: { ssn: s() } }, { $merge: { into: 'patients' } }],
  (s) => [{ $addFields: { x: s() } }, { $out: 'patients_copy' }],
  (s) => [{ $unionWith: { coll: 'patients', pipeline: [{ $match: { phone: s() } }] } }],
  (s) => [{ $graphLookup: { from: 'patients', startWith: '$name', connectFromField: 'name', connectToField: 'name', as: 'g', restrictSearchWithMatch: { phone: s() } } }],
  (s) => [{ $geoNear: { near: [0, 0], distanceField: 'd', query: { phone: s() } } }],
  (s) => [{ $project: { x: { $eq: ['$phone', s()] } } }],
  (s) => [{ $match: { phone: s() } }, { $group: { _id: '$name', n: { $sum: 1 } } }],
];

const PROJECTIONS: Array<(s: Secrets) => Document> = [
  (s) => ({ contacts: { $elemMatch: { phone: s() } } }),
  (s) => ({ phone: s() }),
  (s) => ({ x: { $eq: ['$phone', s()] } }),
  () => ({ phone: 1, ssn: 1, address: 1 }),
  () => ({ contacts: { $slice: 1 } }),
];

type Operation = { kind: string; run: (s: Secrets) => Promise<unknown> };
const OPERATIONS: Operation[] = [
  { kind: 'insertOne', run: (s) => patients().insertOne(fullPatient(s)) },
  { kind: 'insertMany', run: (s) => patients().insertMany([fullPatient(s), fullPatient(s)]) },
  ...FILTERS.flatMap((f, i): Operation[] => [
    { kind: `find#${i}`, run: (s) => patients().find(f(s)).toArray() },
    { kind: `count#${i}`, run: (s) => patients().count(f(s)) },
    { kind: `deleteMany#${i}`, run: (s) => patients().deleteMany({ ...f(s), name: `p-${DB}` }) },
  ]),
  ...UPDATES.flatMap((u, i): Operation[] => [
    { kind: `updateMany#${i}`, run: (s) => patients().updateMany({ name: `p-${DB}` }, u(s)) },
    { kind: `upsert#${i}`, run: (s) => patients().updateOne({ name: `p-${DB}`, phone: s() }, u(s), { upsert: true }) },
    { kind: `findOneAndUpdate#${i}`, run: (s) => patients().findOneAndUpdate({ 'address.zip': s() }, u(s), { upsert: true }) },
    { kind: `bulk updateOne#${i}`, run: (s) => patients().bulkWrite([{ updateOne: { filter: { phone: s() }, update: u(s), upsert: true } }]) },
  ]),
  { kind: 'replaceOne', run: (s) => patients().replaceOne({ phone: s() }, fullPatient(s), { upsert: true }) },
  { kind: 'findOneAndReplace', run: (s) => patients().findOneAndReplace({ name: `p-${DB}` }, fullPatient(s), { upsert: true }) },
  { kind: 'bulk insert/replace', run: (s) => patients().bulkWrite([{ insertOne: { document: fullPatient(s) } }, { replaceOne: { filter: { 'contacts.phone': s() }, replacement: fullPatient(s), upsert: true } }]) },
  { kind: 'arrayFilters', run: (s) => patients().updateMany({ name: `p-${DB}` }, { $set: { 'contacts.$[c].note': s() } }, { arrayFilters: [{ 'c.phone': s() }] }) },
  ...PIPELINES.map((p, i): Operation => ({ kind: `aggregate#${i}`, run: (s) => patients().aggregate(p(s)).toArray() })),
  ...PROJECTIONS.flatMap((p, i): Operation[] => [
    { kind: `find projection#${i}`, run: (s) => patients().find({ name: `p-${DB}` }, { projection: p(s) }).toArray() },
    { kind: `findOneAndUpdate projection#${i}`, run: (s) => patients().findOneAndUpdate({ name: `p-${DB}` }, { $set: { age: 1 } }, { projection: p(s) }) },
  ]),
  { kind: 'notes: insert and query', run: async (s) => { await notes().insertOne({ title: 't', ref: s(), body: s(), meta: { k: 'v' } }); return notes().find({ ref: s() }).toArray(); } },
];

/** Every encrypted path of a stored document must hold BinData subtype 6 (or nothing). */
function unencrypted(shape: ModelShape, doc: Document, prefix = ''): string[] {
  const out: string[] = [];
  for (const field of shape.fields.values()) {
    const value = doc?.[field.name];
    if (value === undefined || value === null) continue;
    const at = `${prefix}${field.name}`;
    if (field.encrypted) {
      if (!(value instanceof Binary && value.sub_type === 6)) out.push(at);
    } else if (field.embedded) {
      for (const [i, item] of (field.isArray && Array.isArray(value) ? value : [value]).entries()) {
        if (item && typeof item === 'object') out.push(...unencrypted(field.embedded, item, `${at}${field.isArray ? `.${i}` : ''}.`));
      }
    }
  }
  return out;
}

test.serial('no input shape sends a value of an encrypted field unencrypted, and nothing is stored unencrypted', async (t) => {
  tally.refusals.clear();
  const patientMeta = client.registry.get(Patient);
  const noteMeta = client.registry.get(Note);
  await fc.assert(fc.asyncProperty(fc.array(fc.nat(OPERATIONS.length - 1), { minLength: 1, maxLength: 3 }), fc.array(secretText, { minLength: 4, maxLength: 4 }), async (picks, texts) => {
    const secrets: string[] = [];
    let n = 0;
    const s: Secrets = () => { const v = `«${texts[n % texts.length]}:${tally.shapes}:${n++}»`; secrets.push(v); return v; };
    // Each run starts from the seed documents alone, so what is stored afterwards is this run's doing.
    await raw.db(DB).collection('patients').deleteMany({ name: { $nin: Array.from({ length: SEEDS }, (_, i) => seedName(i)) } });
    await raw.db(DB).collection('notes').deleteMany({});
    const from = commands.length;
    for (const pick of picks) {
      tally.shapes++;
      await attempt(() => OPERATIONS[pick].run(s), true);
    }
    const leaks: string[] = [];
    for (const event of commands.slice(from)) {
      const text = BSON.EJSON.stringify(event.command);
      const bytes = Buffer.from(BSON.serialize(event.command));
      for (const v of secrets) if (text.includes(v) || bytes.includes(Buffer.from(v))) leaks.push(`${event.commandName} carried ${v}`);
    }
    const stored = [
      ...(await raw.db(DB).collection('patients').find({}).toArray()).flatMap((d) => unencrypted(patientMeta, d).map((p) => `patients ${String(d._id)}.${p}`)),
      ...(await raw.db(DB).collection('notes').find({}).toArray()).flatMap((d) => unencrypted(noteMeta, d).map((p) => `notes ${String(d._id)}.${p}`)),
    ];
    if (leaks.length || stored.length) throw new Error(`operations ${picks.map((p) => OPERATIONS[p].kind).join(', ')}: ${[...leaks, ...stored.map((p) => `${p} stored unencrypted`)].join('; ')}`);
  }), {
    ...runs(300),
    // Every shape at least once per run, whatever the random combinations pick.
    examples: OPERATIONS.map((_, i): [number[], string[]] => [[i], ['a', 'é', '😀', ' ']]),
  });
  t.log(`refused with typed errors: ${[...tally.refusals].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ×${k}`).join(', ')}`);
  t.pass();
});

// ---------------------------------------------------------------------------------------------
// 3. Prototype pollution

const POLLUTING_PATHS = ['__proto__.polluted', 'constructor.prototype.polluted', 'meta.__proto__.polluted', 'meta.constructor.prototype.polluted', 'prototype.polluted', '__proto__'];
const pollutingKey = fc.constantFrom(...POLLUTING_PATHS);
const pollutingDoc = fc.constantFrom(
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}',
  '{"title":"t","meta":{"__proto__":{"polluted":true}}}', '{"title":"t","meta":{"a":[{"__proto__":{"polluted":true}}]}}',
).map((j) => JSON.parse(j) as Document);

const POLLUTION: Array<(key: string, doc: Document) => Promise<unknown>> = [
  (k) => notes().find({ [k]: 'yes' }).toArray(),
  (k) => notes().find({ $or: [{ [k]: 'yes' }] }).toArray(),
  (k) => notes().find({ title: { [k]: 'yes' } }).toArray(),
  (k) => notes().updateOne({ title: 'none' }, { $set: { [k]: 'yes' } }),
  (k) => notes().updateOne({ [k]: 'yes' }, { $set: { title: 'x' } }),
  (k) => notes().updateOne({ title: 'none' }, { $setOnInsert: { [k]: 'yes' }, $set: { title: 'none' } }, { upsert: false }),
  (k) => notes().updateOne({ title: 'none' }, { [k]: { title: 'yes' } }),
  (k) => notes().updateOne({ title: 'none' }, { $set: { 'meta.a': 1 } }, { arrayFilters: [{ [k]: 'yes' }] }),
  (k) => notes().find({}, { sort: { [k]: 1 } }).toArray(),
  (k) => notes().find({}, { projection: { [k]: 1 } }).toArray(),
  (k) => notes().aggregate([{ $match: { [k]: 'yes' } }]).toArray(),
  (k) => notes().aggregate([{ [k]: {} }]).toArray(),
  (k) => notes().bulkWrite([{ [k]: { document: { title: 'x' } } }]),
  (_k, d) => notes().insertOne(d),
  (_k, d) => notes().replaceOne({ title: 'none' }, d),
  (_k, d) => notes().updateOne({ title: 'none' }, { $set: d }),
  (_k, d) => notes().updateOne({ title: 'none' }, { $set: { meta: d } }),
  (_k, d) => notes().find(d).toArray(),
  (_k, d) => notes().find({ meta: d }).toArray(),
];

test.serial('keys like __proto__ and constructor, anywhere in any input, never pollute a prototype', async (t) => {
  const before = Object.getOwnPropertyNames(Object.prototype).join();
  await fc.assert(fc.asyncProperty(fc.nat(POLLUTION.length - 1), pollutingKey, pollutingDoc, async (which, key, doc) => {
    tally.pollution++;
    await attempt(() => POLLUTION[which](key, doc), true);
    const polluted = ({} as Record<string, unknown>).polluted !== undefined || Object.getOwnPropertyNames(Object.prototype).join() !== before || (Note.prototype as unknown as Record<string, unknown>).polluted !== undefined;
    if (polluted) {
      delete (Object.prototype as Record<string, unknown>).polluted;
      throw new Error(`form #${which} with key ${key} / ${JSON.stringify(doc)} polluted a prototype`);
    }
  }), { ...runs(300), examples: POLLUTION.map((_, i): [number, string, Document] => [i, '__proto__.polluted', JSON.parse('{"__proto__":{"polluted":true}}')]) });
  t.pass();
});

test.serial('a stored document with __proto__ and constructor keys (planted on the server) reads back without polluting anything', async (t) => {
  const planted = JSON.parse('{"title":"planted","__proto__":{"polluted":true},"meta":{"constructor":{"prototype":{"polluted":true}}}}');
  const key = await client.keyVault.ensureDataKey('notes');
  const encrypted = await client.engine.encrypt('planted body', 'Random', key);
  const ref = await client.engine.encrypt('planted ref', 'Deterministic', key);
  await raw.db(DB).collection('notes').insertOne({ ...planted, ref, body: encrypted });
  for (const repo of [client.repository(Note), client.repository(Note, { onUndecryptable: 'marker' })]) {
    const found = (await repo.findOne({ title: 'planted' }))!;
    t.true(found instanceof Note);
    t.is(Object.getPrototypeOf(found), Note.prototype, 'the instance keeps its class');
    t.is(found.body, 'planted body');
  }
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

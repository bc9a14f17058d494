/**
 * Round-25b adversarial pass: tries to break the round-25 fixes (input copies and what save() of a
 * new entity puts back on the entity, snapshots taken before sending, refused driver options,
 * undefined comparands, the 16 MiB bound on encrypted values). Plain JavaScript against the public
 * API (repositories cast to any), the raw driver to see what is stored, command monitoring to see
 * commands.
 *
 * Each test asserts the correct behaviour. Serial: tests hook the shared client's command events.
 */
import test from 'ava';
import { ObjectId, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { ArrayField, BeforeInsert, CreatedAt, Embedded, Encrypted, Field, Id, Model, StrongboxError, Version, type Random, type Deterministic, EmbeddedArray } from '../../src/index';
import { describe, outcome, uniq, untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineFleet } from '../repository/models';

const DB = uniqueDbName(__filename);

class Address {
  @Field() city!: string;
  @Field({ optional: true }) street?: string;
}

/** A before-insert hook that changes values in place, or removes a field, as its title asks. */
@Model({ db: DB, collection: 'inplace', keyAltName: 'inplace' })
class InPlace {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Embedded(() => Address, { optional: true }) address?: Address;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @Field({ optional: true }) nick?: string;
  @BeforeInsert() normalize() {
    if (this.title.includes('nested')) { if (this.address) this.address.city = this.address.city.toUpperCase(); this.tags?.push('hooked'); }
    if (this.title.includes('drop')) delete this.nick;
  }
}

@Model({ db: DB, collection: 'stamped', keyAltName: 'stamped' })
class Stamped {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @CreatedAt() createdAt!: Date;
}

@Model({ db: DB, collection: 'versioned', keyAltName: 'versioned' })
class Versioned {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ optional: true }) note?: string;
  @Version() version!: number;
}

@Model({ db: DB, collection: 'loose', keyAltName: 'loose' })
class Loose {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
  @Field({ bsonType: 'array', optional: true }) items?: unknown[];
}

class SecretAddress {
  @Field() city!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) zip?: Deterministic<string>;
}
@Model({ db: DB, collection: 'holders', keyAltName: 'holders' })
class Holder {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Embedded(() => SecretAddress, { optional: true }) home?: SecretAddress;
  @EmbeddedArray(() => SecretAddress, { optional: true }) homes?: SecretAddress[];
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) code?: Deterministic<string>;
}

@Model({ db: DB, collection: 'big', keyAltName: 'big' })
class Big {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) a?: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) b?: Random<string>;
}

const { Vehicle, Car } = defineFleet(DB);

let client: StrongboxClient;
let raw: MongoClient;
const repo = (model: Function) => untypedRepository(client, model);

test.before(async () => {
  client = await testClient([InPlace, Stamped, Versioned, Loose, Big, Vehicle, Holder], { driverOptions: { monitorCommands: true } });
  raw = await rawClient();
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

const strip = (d: Document | null | undefined) => { if (!d) return d; const { _id, ...rest } = d; return rest; };

// ---------------------------------------------------------------------------------------------
// save() of a new entity: what the insert filled goes onto the entity

test.serial('save (new entity): a @BeforeInsert hook that changes a nested value in place (address.city, tags.push) leaves entity = stored, and the next save() keeps it', async (t) => {
  const title = uniq('nested');
  const entity: any = Object.assign(new InPlace(), { title, address: { city: 'paris' }, tags: ['a'] });
  await repo(InPlace).save(entity);
  const stored = await raw.db(DB).collection('inplace').findOne({ title });
  const onEntity = { address: { ...entity.address }, tags: [...entity.tags] };
  await repo(InPlace).save(entity);
  const after = await raw.db(DB).collection('inplace').findOne({ title });
  t.deepEqual({ entity: onEntity, afterNextSave: { address: after?.address, tags: after?.tags } }, { entity: { address: { city: 'PARIS' }, tags: ['a', 'hooked'] }, afterNextSave: { address: { city: 'PARIS' }, tags: ['a', 'hooked'] } },
    `stored ${JSON.stringify(strip(stored))}: the hook's in-place change reached the server but not the entity save() returned, and the next save() sent the entity's stale values back`);
});

test.serial('save (new entity): a @BeforeInsert hook that deletes a field leaves entity = stored', async (t) => {
  const title = uniq('drop');
  const entity: any = Object.assign(new InPlace(), { title, nick: 'temp' });
  await repo(InPlace).save(entity);
  const stored = await raw.db(DB).collection('inplace').findOne({ title });
  const onEntity = entity.nick;
  await repo(InPlace).save(entity);
  const after = await raw.db(DB).collection('inplace').findOne({ title });
  t.is(stored?.nick, undefined, 'the hook removed nick before the insert');
  t.is(onEntity, stored?.nick, 'the entity save() returned still holds the field the hook removed');
  t.is(after?.nick, undefined, 'the next save() wrote back the field the hook removed');
});

test.serial('save (new entity): a field with a getter and no setter that the insert fills fails before anything is written, or save() succeeds', async (t) => {
  const title = uniq('getter');
  const entity: any = Object.assign(new Stamped(), { title });
  Object.defineProperty(entity, 'createdAt', { get: () => undefined, enumerable: true, configurable: true });
  const { error } = await outcome(() => repo(Stamped).save(entity));
  const stored = await raw.db(DB).collection('stamped').countDocuments({ title });
  if (error) {
    t.is(stored, 0, `save() failed with ${describe(error)} AFTER the document was inserted (a retry inserts it again or fails on the _id)`);
    t.true(error instanceof StrongboxError, describe(error));
  } else {
    t.is(stored, 1);
  }
});

test.serial('save (new entity) called twice concurrently on the same entity stores one document, and the entity\'s _id and snapshot name the same one', async (t) => {
  const title = uniq('twice');
  const entity: any = Object.assign(new Versioned(), { title });
  const results = await Promise.allSettled([repo(Versioned).save(entity), repo(Versioned).save(entity)]);
  const stored = await raw.db(DB).collection('versioned').find({ title }).toArray();
  entity.note = 'changed';
  const { error } = await outcome(() => repo(Versioned).save(entity));
  const mine = await raw.db(DB).collection('versioned').findOne({ _id: entity._id });
  t.log(`after the next save(): ${error ? describe(error) : 'ok'}; stored ${JSON.stringify((await raw.db(DB).collection('versioned').find({ title }).toArray()).map((d) => [String(d._id), d.note ?? null, d.version]))}`);
  t.is(stored.length, 1, `two documents inserted for one entity (${results.map((r) => r.status).join(', ')}); entity._id ${entity._id}, stored ${stored.map((d) => d._id).join(', ')}`);
  t.is(mine?.note, 'changed', `the next save() (${error ? describe(error) : 'ok'}) did not update the document the entity's _id names`);
});

test.serial('save (new entity) through a variant\'s repository (defineFleet Car): the discriminator it fills is on the entity, and the next save() keeps it', async (t) => {
  const name = uniq('car');
  const entity: any = Object.assign(new Car(), { name, vin: 'VIN-1' });
  await repo(Car).save(entity);
  const stored = await raw.db(DB).collection('vehicles').findOne({ name });
  const onEntity = entity.kind;
  entity.vin = 'VIN-2';
  const { error } = await outcome(() => repo(Car).save(entity));
  const after = await raw.db(DB).collection('vehicles').findOne({ name });
  const found = await outcome(() => repo(Car).findOne({ name }));
  t.deepEqual({ entity: onEntity ?? null, stored: stored?.kind, afterNextSave: after?.kind ?? null, nextSave: error ? describe(error) : 'ok', foundByCar: found.error ? describe(found.error) : found.value ? 'found' : 'missing' },
    { entity: 'car', stored: 'car', afterNextSave: 'car', nextSave: 'ok', foundByCar: 'found' });
});

test.serial('save (new entity) of a @Version model: after save(), entity.version = stored version, and a change then saves', async (t) => {
  const title = uniq('ver');
  const entity: any = Object.assign(new Versioned(), { title });
  await repo(Versioned).save(entity);
  entity.note = 'x';
  await repo(Versioned).save(entity);
  const stored = await raw.db(DB).collection('versioned').findOne({ title });
  t.deepEqual([stored?.version, stored?.note], [entity.version, 'x']);
});

// ---------------------------------------------------------------------------------------------
// undefined in filters

/** Filters on a free-form object (meta) and array (items) that, with undefined read as null, match the document without them. */
const UNDEFINED_FILTERS: Array<[string, Document]> = [
  ['$and: [undefined]', { $and: [undefined] }],
  ['$or: [{ title: other }, undefined]', { $or: [{ title: 'nobody' }, undefined] }],
  ['$nor: [undefined]', { $nor: [{ title: 'nobody' }, undefined] }],
  ["'meta.x': { $gte: undefined }", { 'meta.x': { $gte: undefined } }],
  ["'meta.x': { $lte: undefined }", { 'meta.x': { $lte: undefined } }],
  ["'meta.x': { $all: [undefined] }", { 'meta.x': { $all: [undefined] } }],
  ["'meta.x': { $not: { $ne: undefined } }", { 'meta.x': { $not: { $ne: undefined } } }],
  ["items: { $elemMatch: { x: undefined } }", { items: { $elemMatch: { x: undefined } } }],
  ["'meta.x': { $exists: undefined }", { 'meta.x': { $exists: undefined } }],
  ["'meta.x': { $not: undefined }", { 'meta.x': { $not: undefined } }],
  ["items: { $elemMatch: undefined }", { items: { $elemMatch: undefined } }],
  ["'meta.x': { $in: [1, undefined] }", { 'meta.x': { $in: [1, undefined] } }],
  ["meta: { $eq: undefined }", { meta: { $eq: undefined } }],
  ["'items.0': undefined", { 'items.0': undefined }],
];

test.serial('filters: undefined anywhere in a filter (an undefined member of $and/$or, $gte, $all, $elemMatch, $exists…) never matches a document the filter does not name', async (t) => {
  const keep = uniq('keep');
  await raw.db(DB).collection('loose').insertOne({ title: keep, meta: { x: 1 }, items: [{ x: 1 }] });
  await raw.db(DB).collection('loose').insertOne({ title: keep });
  const problems: string[] = [];
  for (const [what, filter] of UNDEFINED_FILTERS) {
    const { value, error } = await outcome(() => repo(Loose).count({ $and: [{ title: keep }, filter] }));
    if (error) { if (!(error instanceof StrongboxError)) problems.push(`${what}: ${describe(error)}`); continue; }
    if ((value as number) > 0) problems.push(`${what}: matched ${value}`);
  }
  t.deepEqual(problems, [], 'undefined read as null (or as an empty filter) widened the match');
});

test.serial('filters: undefined compared with an embedded document holding encrypted fields, or with an encrypted field, is refused or matches nothing', async (t) => {
  const title = uniq('holder');
  await repo(Holder).insertOne({ title });
  const problems: string[] = [];
  for (const [what, filter] of [
    ['home: undefined', { home: undefined }], ['home: { $eq: undefined }', { home: { $eq: undefined } }], ['home: { $in: [undefined] }', { home: { $in: [undefined] } }],
    ['homes: undefined', { homes: undefined }], ['homes: { $all: [undefined] }', { homes: { $all: [undefined] } }], ["'home.zip': undefined", { 'home.zip': undefined }],
    ['code: undefined', { code: undefined }], ['code: { $in: [undefined] }', { code: { $in: [undefined] } }], ['homes: { $elemMatch: { zip: undefined } }', { homes: { $elemMatch: { zip: undefined } } }],
  ] as Array<[string, Document]>) {
    const { value, error } = await outcome(() => repo(Holder).count({ title, ...filter }));
    if (error) { if (!(error instanceof StrongboxError)) problems.push(`${what}: ${describe(error)}`); continue; }
    if ((value as number) > 0) problems.push(`${what}: matched ${value}`);
  }
  t.deepEqual(problems, []);
});

test.serial('writes with the whole filter undefined (updateMany, replaceOne, deleteOne, deleteMany, findOneAndDelete, bulkWrite) are refused, not run as {}', async (t) => {
  const problems: string[] = [];
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['updateMany(undefined, …)', () => repo(Loose).updateMany(undefined, { $set: { meta: { wiped: true } } })],
    ['bulkWrite([{ updateMany: { filter: undefined } }])', () => repo(Loose).bulkWrite([{ updateMany: { filter: undefined, update: { $set: { meta: { wiped: true } } } } }])],
    ['replaceOne(undefined, …)', () => repo(Loose).replaceOne(undefined, { title: 'replaced', meta: { wiped: true } })],
    ['deleteOne(undefined)', () => repo(Loose).deleteOne(undefined)],
    ['findOneAndDelete(undefined)', () => repo(Loose).findOneAndDelete(undefined)],
    ['deleteMany(undefined)', () => repo(Loose).deleteMany(undefined)],
    ['bulkWrite([{ deleteMany: { filter: undefined } }])', () => repo(Loose).bulkWrite([{ deleteMany: { filter: undefined } }])],
  ];
  for (const [what, run] of attempts) {
    await raw.db(DB).collection('loose').insertMany([{ title: uniq('keep') }, { title: uniq('keep') }]);
    const before = await raw.db(DB).collection('loose').countDocuments({});
    const { error } = await outcome(run);
    const wiped = await raw.db(DB).collection('loose').countDocuments({ 'meta.wiped': true });
    const left = await raw.db(DB).collection('loose').countDocuments({});
    if (!error || wiped > 0 || left < before) problems.push(`${what}: ${error ? describe(error) : 'accepted'}; ${wiped} documents rewritten, ${before - left} deleted`);
    await raw.db(DB).collection('loose').deleteMany({ 'meta.wiped': true });
  }
  t.deepEqual(problems, [], 'a filter variable left undefined by mistake wrote to or deleted documents it never named');
});

test.serial('updates: undefined in arrayFilters and $pull conditions is refused, not read as null (which matches elements without the field)', async (t) => {
  const title = uniq('arr');
  await raw.db(DB).collection('loose').insertOne({ title, items: [{ x: 1 }, { y: 2 }] });
  const problems: string[] = [];
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['arrayFilters [{ e.x: undefined }]', () => repo(Loose).updateMany({ title }, { $set: { 'items.$[e].hit': true } }, { arrayFilters: [{ 'e.x': undefined }] })],
    ['$pull { items: { x: undefined } }', () => repo(Loose).updateMany({ title }, { $pull: { items: { x: undefined } } })],
    ['$pull { items: { x: { $in: [undefined] } } }', () => repo(Loose).updateMany({ title }, { $pull: { items: { x: { $in: [undefined] } } } })],
  ];
  for (const [what, run] of attempts) {
    const { error } = await outcome(run);
    const doc = await raw.db(DB).collection('loose').findOne({ title });
    const json = JSON.stringify(doc?.items);
    if (!error || json !== JSON.stringify([{ x: 1 }, { y: 2 }])) problems.push(`${what}: ${error ? describe(error) : 'accepted'}; items now ${json}`);
    await raw.db(DB).collection('loose').updateOne({ title }, { $set: { items: [{ x: 1 }, { y: 2 }] } });
  }
  t.deepEqual(problems, []);
});

test.serial('reads: undefined in aggregate $match, distinct, findOneAndDelete, deleteOne and find filters is refused', async (t) => {
  const keep = uniq('keep');
  await raw.db(DB).collection('loose').insertOne({ title: keep });
  const problems: string[] = [];
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['aggregate $match { meta: undefined }', () => repo(Loose).aggregate([{ $match: { title: keep, meta: undefined } }]).toArray()],
    ['distinct filter { meta: undefined }', () => repo(Loose).distinct('title', { title: keep, meta: undefined })],
    ['findOneAndDelete { meta: undefined }', () => repo(Loose).findOneAndDelete({ title: keep, meta: undefined })],
    ['deleteOne { "meta.x": undefined }', () => repo(Loose).deleteOne({ title: keep, 'meta.x': undefined })],
    ['find { "meta.x": { $in: [undefined] } }', () => repo(Loose).find({ title: keep, 'meta.x': { $in: [undefined] } }).toArray()],
  ];
  for (const [what, run] of attempts) {
    const { value, error } = await outcome(run);
    const matched = Array.isArray(value) ? value.length : value === null || value === undefined ? 0 : typeof value === 'object' && 'deletedCount' in (value as object) ? (value as { deletedCount: number }).deletedCount : 1;
    if (!error && matched > 0) problems.push(`${what}: matched ${matched}`);
    else if (error && !(error instanceof StrongboxError)) problems.push(`${what}: ${describe(error)}`);
  }
  const left = await raw.db(DB).collection('loose').countDocuments({ title: keep });
  t.is(left, 1, 'a delete with an undefined comparand deleted the document without the field');
  t.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------
// 16 MiB

/** A string whose ciphertext is about `mib` MiB. */
const bigString = (mib: number, c = 'S') => c.repeat(Math.floor(mib * 1024 * 1024));

test.serial('updates setting encrypted values whose ciphertexts together exceed 16 MiB (updateOne, save of a loaded entity, findOneAndUpdate, bulkWrite updateOne) are refused with ENCRYPT_DOCUMENT_TOO_LARGE before encryption', async (t) => {
  const problems: string[] = [];
  const attempts: Array<[string, (title: string) => Promise<unknown>]> = [
    ['updateOne $set a, b', (title) => repo(Big).updateOne({ title }, { $set: { a: bigString(8.5, 'A'), b: bigString(8.5, 'B') } })],
    ['save() of a loaded entity changing a, b', async (title) => {
      const entity: any = await repo(Big).findOne({ title });
      Object.assign(entity, { a: bigString(8.5, 'A'), b: bigString(8.5, 'B') });
      return repo(Big).save(entity);
    }],
    ['findOneAndUpdate $set a, b', (title) => repo(Big).findOneAndUpdate({ title }, { $set: { a: bigString(8.5, 'A'), b: bigString(8.5, 'B') } })],
    ['bulkWrite updateOne $set a, b', (title) => repo(Big).bulkWrite([{ updateOne: { filter: { title }, update: { $set: { a: bigString(8.5, 'A'), b: bigString(8.5, 'B') } } } }])],
  ];
  for (const [what, run] of attempts) {
    const title = uniq('big');
    await repo(Big).insertOne({ title });
    const contexts = client.engine.commands.batches;
    const started: string[] = [];
    const listener = (e: CommandStartedEvent) => { if (e.databaseName === DB && e.commandName !== 'find') started.push(e.commandName); };
    client.dataClient.on('commandStarted', listener);
    const { error } = await outcome(() => run(title));
    client.dataClient.off('commandStarted', listener);
    if ((error as StrongboxError)?.code !== 'ENCRYPT_DOCUMENT_TOO_LARGE' || started.length > 0) {
      problems.push(`${what}: ${error ? describe(error) : 'accepted'} after ${client.engine.commands.batches - contexts} encryption batch(es); commands started: ${started.join(', ') || 'none'}`);
    }
  }
  t.deepEqual(problems, [], 'each $set value is its own encryption group, so no group is over 16 MiB: the values are encrypted and the command fails in the driver\'s serializer');
});

test.serial('a too-large document is refused while another insert started in the same turn succeeds', async (t) => {
  const small = uniq('small');
  const [big, ok] = await Promise.allSettled([
    repo(Big).insertOne({ title: uniq('big'), a: bigString(8.5, 'A'), b: bigString(8.5, 'B') }),
    repo(Big).insertOne({ title: small, a: 'fine' }),
  ]);
  t.is(big.status, 'rejected');
  t.is(((big as PromiseRejectedResult).reason as StrongboxError)?.code, 'ENCRYPT_DOCUMENT_TOO_LARGE', describe((big as PromiseRejectedResult).reason));
  t.is(ok.status, 'fulfilled', ok.status === 'rejected' ? describe(ok.reason) : '');
  t.is(await raw.db(DB).collection('big').countDocuments({ title: small }), 1);
});

test.serial('replaceOne with encrypted values whose ciphertexts together exceed 16 MiB is refused with ENCRYPT_DOCUMENT_TOO_LARGE', async (t) => {
  const title = uniq('big');
  await repo(Big).insertOne({ title });
  const { error } = await outcome(() => repo(Big).replaceOne({ title }, { title, a: bigString(8.5, 'A'), b: bigString(8.5, 'B') }));
  t.is((error as StrongboxError)?.code, 'ENCRYPT_DOCUMENT_TOO_LARGE', describe(error));
});

// ---------------------------------------------------------------------------------------------
// Snapshots and @Version

test.serial('save (loaded, @Version): a ConcurrencyError leaves entity and snapshot as they were; after reloading, the change saves', async (t) => {
  const title = uniq('conflict');
  await repo(Versioned).insertOne({ title });
  const entity: any = await repo(Versioned).findOne({ title });
  await raw.db(DB).collection('versioned').updateOne({ title }, { $inc: { version: 1 }, $set: { note: 'theirs' } });
  entity.note = 'mine';
  const { error } = await outcome(() => repo(Versioned).save(entity));
  t.true(error instanceof StrongboxError, describe(error));
  t.is(entity.version, 1, 'the failed save stamped the entity');
  const again = await outcome(() => repo(Versioned).save(entity));
  t.true(again.error instanceof StrongboxError, `a second save of the stale entity: ${again.error ? describe(again.error) : 'accepted'}`);
  const stored = await raw.db(DB).collection('versioned').findOne({ title });
  t.deepEqual([stored?.note, stored?.version], ['theirs', 2]);
});

test.serial('save (loaded, @Version) twice concurrently: entity.version ends equal to the stored version and later saves go through', async (t) => {
  const title = uniq('concurrent');
  await repo(Versioned).insertOne({ title });
  const entity: any = await repo(Versioned).findOne({ title });
  entity.note = 'one';
  const first = repo(Versioned).save(entity);
  entity.note = 'two';
  const results = await Promise.allSettled([first, repo(Versioned).save(entity)]);
  const stored = await raw.db(DB).collection('versioned').findOne({ title });
  t.log(results.map((r) => (r.status === 'rejected' ? describe(r.reason) : 'ok')).join(' | '));
  t.is(entity.version, stored?.version);
  entity.note = 'three';
  await outcome(() => repo(Versioned).save(entity));
  const later = await raw.db(DB).collection('versioned').findOne({ title });
  t.true(later?.note === 'three' || later?.note === stored?.note, `stored ${later?.note}`);
});

/**
 * Round-29 adversarial pass (69cc399, 93f6205): UndecryptableValue markers (toBSON refuses, save()
 * compares them by what they stand for, the snapshot keeps them), ENCRYPT_VALUE_NOT_BSON causes,
 * free-form values copied once through BSON. Plain JavaScript against the public API
 * (repositories cast to any), the raw driver to plant ciphertext and compare stored bytes, command
 * monitoring. FINDING tests assert the correct behaviour: each failed when written and passes since its fix;
 * "held" tests passed from the start.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { inspect } from 'node:util';
import { Binary, BSON, Long, ObjectId, type Document } from 'mongodb';
import { Embedded, EmbeddedArray, Encrypted, Field, Id, Model, UndecryptableValue, Version, type Deterministic, type Random } from '../../src/index';
import { bytesOf, outcomeOf, plantMarkers, storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { uniqueDbName } from '../harness/server';
import { secretString } from './leakDetector';
import { exposedText } from './support';

const DB = uniqueDbName(__filename);

class Line {
  @Field() kind!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
}
class Place {
  @Field() city!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) zip!: Deterministic<string>;
}

@Model({ db: DB, collection: 'docs', keyAltName: 'adv29' })
class Doc {
  @Id() _id!: ObjectId;
  @Field({ optional: true }) name?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) phone?: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', optional: true }) whole?: any;
  @Field({ bsonType: 'long', optional: true }) count?: Long;
  @Field({ bsonType: 'binData', optional: true }) blob?: Binary;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
  @Field({ bsonType: 'array', optional: true }) list?: unknown[];
  @Embedded(() => Place, { optional: true }) place?: Place;
  @EmbeddedArray(() => Line, { optional: true }) lines?: Line[];
}

@Model({ db: DB, collection: 'versioned', keyAltName: 'adv29v' })
class Versioned {
  @Id() _id!: ObjectId;
  @Field({ optional: true }) name?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) phone?: Deterministic<string>;
  @Version() v!: number;
}

const watched = watchedClient(DB, [Doc, Versioned]);
const sent = watched.sent;
const repo = () => untypedRepository(watched.client, Doc);
const lenient = () => watched.client.repository(Doc as never, { onUndecryptable: 'marker' } as never) as any;
const coll = (name = 'docs') => watched.raw.db(DB).collection(name);
let n = 0;
const secret = () => secretString(29_000 + n++);

const storedRaw = (id: unknown, name = 'docs') => storedIn(coll(name), id);
const storedBytes = async (id: unknown, name = 'docs') => Buffer.from((await coll(name).findOne({ _id: id as ObjectId }, { raw: true })) as unknown as Uint8Array);
const commandText = () => sent.map((c) => BSON.EJSON.stringify(c.command, { relaxed: false })).join('\n');
const updates = () => sent.filter((c) => c.commandName === 'update');

const withMarkers = (doc: Document, paths: Record<string, 'phone' | 'ssn'>) => plantMarkers(repo(), coll(), doc, paths);

class Holder { constructor(public inner: unknown) {} }

// ---------------------------------------------------------------------------------------------
// Findings (each asserts the correct behaviour; fails today)
// ---------------------------------------------------------------------------------------------

test.serial('FINDING: save() of an entity holding a marker and a long field is refused (keepWritten serializes the marker); it must send the other change', async (t) => {
  const { id, before } = await withMarkers({ name: 'a', ssn: 'x', count: 5n }, { ssn: 'phone' });
  const loaded = await lenient().findById(id);
  t.true(loaded.ssn instanceof UndecryptableValue);
  loaded.name = 'b';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(loaded)), 'ok', 'save() succeeds');
  const after = await storedRaw(id);
  t.is(after.name, 'b');
  t.true(bytesOf(after.ssn).equals(bytesOf(before.ssn)), 'the ciphertext behind the marker is untouched');
});

test.serial('FINDING: save() of an entity holding a Map in a free-form field and a marker elsewhere is refused; it must send the Map', async (t) => {
  const { id, before } = await withMarkers({ name: 'a', ssn: 'x' }, { ssn: 'phone' });
  const loaded = await lenient().findById(id);
  loaded.extra = { m: new Map([['k', 1]]) };
  t.is(await outcomeOf(lenient().save(loaded)), 'ok');
  const after = await storedRaw(id);
  t.deepEqual(after.extra, { m: { k: after.extra.m.k } });
  t.true(bytesOf(after.ssn).equals(bytesOf(before.ssn)));
});

test.serial('FINDING: the second save() of an entity holding a marker is refused (INPUT_UNDECRYPTABLE_WRITE_BACK); it must send only the change', async (t) => {
  const { id, before } = await withMarkers({ name: 'a', ssn: 'x' }, { ssn: 'phone' });
  const loaded = await lenient().findById(id);
  loaded.name = 'b';
  t.is(await outcomeOf(lenient().save(loaded)), 'ok', 'the first save() works');
  loaded.name = 'c';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(loaded)), 'ok', 'the second save() works too');
  t.deepEqual(updates().map((u) => Object.keys(u.command.updates[0].u.$set ?? {})), [['name']]);
  const after = await storedRaw(id);
  t.is(after.name, 'c');
  t.true(bytesOf(after.ssn).equals(bytesOf(before.ssn)));
});

test.serial('FINDING: save() of a loaded entity whose field encrypted whole now holds a key with a NUL byte throws a raw BSONError quoting the key', async (t) => {
  const s = secret();
  const entity = await repo().insertOne({ whole: { a: 1 } });
  entity.whole = { [`${s}\0`]: 1 };
  sent.length = 0;
  const err = await t.throwsAsync(repo().save(entity));
  t.false(exposedText(err).includes(s.slice(1, 12)), `the error quotes the key: ${String(err)}`);
  t.is((err as { code?: string }).code, 'INPUT_NUL_CHARACTER', 'refused as insertOne, updateOne and a new entity\'s save() refuse it');
  t.is(updates().length, 0);
});

test.serial('FINDING: save() of a loaded entity whose field encrypted whole now holds a Map with a number key throws an untyped TypeError (insertOne: EncryptionError)', async (t) => {
  const entity = await repo().insertOne({ whole: { a: 1 } });
  entity.whole = new Map<unknown, unknown>([[1, secret()]]);
  const err = await t.throwsAsync(repo().save(entity));
  t.is(err!.constructor.name === 'TypeError' ? 'TypeError' : 'typed', 'typed', `${err!.constructor.name} ${(err as any).code}`);
  t.is(updates().length, 0);
});

test.serial('FINDING: a bigint outside the int64 range in a field encrypted whole is stored wrapped (2^70 + 5 as 5); a long field refuses it (INPUT_OUT_OF_RANGE)', async (t) => {
  const typed = await outcomeOf(repo().insertOne({ count: 2n ** 70n + 5n }));
  t.is(typed, 'INPUT_OUT_OF_RANGE');
  const whole = await repo().insertOne({ whole: { n: 2n ** 70n + 5n } }).then((e: any) => e, (e: unknown) => e);
  if (whole instanceof Error) { t.is((whole as any).code, 'INPUT_OUT_OF_RANGE'); return; }
  const read = await repo().findById(whole._id);
  t.is(BigInt(read.whole.n), 2n ** 70n + 5n, `stored ${read.whole.n}, entity says ${whole.whole.n}`);
});

test.serial('FINDING: a Map subclass whose iterator differs from entries() is stored as its iterator says, not as the driver writes it', async (t) => {
  class EvilMap extends Map<string, unknown> {
    override *[Symbol.iterator](): any { yield ['iterated', 1]; }
  }
  const given = new EvilMap([['real', 2]]);
  const saved = await repo().insertOne({ extra: { m: given } });
  const stored = await storedBytes(saved._id);
  t.true(stored.includes(Buffer.from(BSON.serialize(given))), `stored ${inspect((await storedRaw(saved._id)).extra)}, the driver writes ${inspect(BSON.deserialize(BSON.serialize(given)))}`);
});

test.serial('FINDING: an unchanged Map with number-like keys in a field encrypted whole is re-encrypted and sent by every save()', async (t) => {
  const saved = await repo().insertOne({ whole: new Map([['z', 1], ['0', 2]]) });
  sent.length = 0;
  await repo().save(saved);
  t.is(updates().length, 0, BSON.EJSON.stringify(updates().map((u) => u.command.updates)).slice(0, 200));
});

// ---------------------------------------------------------------------------------------------
// What held (these pass)
// ---------------------------------------------------------------------------------------------

const NESTED = { ssn: 'phone', whole: 'phone', 'place.zip': 'ssn', 'lines.0.phone': 'ssn', 'extra.deep.1.x': 'phone', 'list.1': 'phone' } as const;
const nestedDoc = () => ({ name: 'a', ssn: 'x', whole: { a: 1 }, place: { city: 'c', zip: 'z' }, lines: [{ kind: 'k', phone: 'p' }, { kind: 'k2', phone: 'p2' }], extra: { deep: [1, { x: 1 }] }, list: [1, 2] });

test.serial('held: save() of an entity holding markers in an embedded document, an array of embedded documents, a value encrypted whole, a free-form object and an untyped array sends only the other changes', async (t) => {
  const { id, before } = await withMarkers(nestedDoc(), { ...NESTED });
  const loaded = await lenient().findById(id);
  for (const path of Object.keys(NESTED)) t.true(path.split('.').reduce((v: any, k) => v[k], loaded) instanceof UndecryptableValue, path);
  t.notThrows(() => JSON.stringify(loaded));
  t.notThrows(() => inspect(loaded));
  loaded.name = 'b';
  loaded.place.city = 'new';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(loaded)), 'ok');
  t.deepEqual(updates().map((u) => u.command.updates[0].u), [{ $set: { name: 'b', 'place.city': 'new' } }]);
  const after = await storedRaw(id);
  for (const k of ['ssn', 'whole', 'lines', 'extra', 'list']) t.true(bytesOf(after[k]).equals(bytesOf(before[k])), k);
  t.true(bytesOf(after.place.zip).equals(bytesOf(before.place.zip)));
});

test.serial('held: a marker moved or copied to another field, into a free-form object, a Map, an untyped array, another array item or a value encrypted whole is refused, nothing sent', async (t) => {
  const { id, before } = await withMarkers(nestedDoc(), { ...NESTED });
  const moves: Array<[string, (e: any) => void]> = [
    ['ssn -> phone', (e) => { e.phone = e.ssn; }],
    ['zip -> lines.1.phone', (e) => { e.lines[1].phone = e.place.zip; }],
    ['lines reversed', (e) => { e.lines.reverse(); }],
    ['lines item pushed again', (e) => { e.lines.push(e.lines[0]); }],
    ['into extra', (e) => { e.extra.m = e.ssn; }],
    ['into a Map in extra', (e) => { e.extra.m = new Map([['k', e.ssn]]); }],
    ['into an instance in extra', (e) => { e.extra.m = new Holder(e.ssn); }],
    ['into list', (e) => { e.list.push(e.ssn); }],
    ['into whole', (e) => { e.whole = { m: e.ssn }; }],
    ['whole -> ssn', (e) => { e.ssn = e.whole; }],
    ['extra changed beside its marker', (e) => { e.extra.other = 1; }],
  ];
  for (const [name, move] of moves) {
    const e = await lenient().findById(id);
    move(e);
    sent.length = 0;
    const r = await outcomeOf(lenient().save(e));
    t.true(r === 'INPUT_UNDECRYPTABLE_WRITE_BACK' || r === 'INPUT_WRONG_TYPE', `${name}: ${r}`);
    t.is(updates().length, 0, name);
  }
  const after = await storedRaw(id);
  t.true(bytesOf(after).equals(bytesOf(before)));
});

test.serial('held: markers in updateOne $set / $push, findOneAndUpdate, upsert, replaceOne, insertMany, bulkWrite and filters are refused; nothing is stored', async (t) => {
  const { id, before } = await withMarkers(nestedDoc(), { ...NESTED });
  const m = (await lenient().findById(id)).ssn;
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['$set extra', () => repo().updateOne({ _id: id }, { $set: { extra: { m } } })],
    ['$set extra Map', () => repo().updateOne({ _id: id }, { $set: { extra: { m: new Map([['k', m]]) } } })],
    ['$set whole instance', () => repo().updateOne({ _id: id }, { $set: { whole: new Holder(m) } })],
    ['$push list', () => repo().updateOne({ _id: id }, { $push: { list: m } })],
    ['$push list Map', () => repo().updateOne({ _id: id }, { $push: { list: new Map([['k', m]]) } })],
    ['$set name', () => repo().updateOne({ _id: id }, { $set: { name: m } })],
    ['findOneAndUpdate', () => repo().findOneAndUpdate({ _id: id }, { $set: { 'extra.m': m } })],
    ['upsert', () => repo().updateOne({ _id: new ObjectId() }, { $setOnInsert: { extra: { m } } }, { upsert: true })],
    ['replaceOne', () => repo().replaceOne({ _id: id }, { _id: id, name: 'r', extra: { m: [m] } })],
    ['insertMany', () => repo().insertMany([{ list: [new Holder(m)] }])],
    ['bulkWrite', () => repo().bulkWrite([{ updateOne: { filter: { _id: id }, update: { $set: { list: [m] } } } }, { insertOne: { document: { whole: { toBSON: () => ({ m }) } } } }])],
    ['filter plain', () => repo().find({ name: m }).toArray()],
    ['filter Deterministic', () => repo().find({ phone: m }).toArray()],
    ['filter free-form', () => repo().find({ 'extra.x': { $in: [m] } }).toArray()],
  ];
  for (const [name, call] of calls) {
    sent.length = 0;
    const r = await outcomeOf(call());
    t.not(r, 'ok', name);
    t.false(sent.some((c) => ['update', 'insert', 'findAndModify'].includes(c.commandName)), `${name} sent a write`);
  }
  t.true(bytesOf(await storedRaw(id)).equals(bytesOf(before)));
});

test.serial('held: BSON refusals inside a value encrypted whole (NUL keys, NUL in a RegExp, a Code scope key) quote nothing in insert, insertMany, updateOne, replaceOne, bulkWrite and a new entity\'s save()', async (t) => {
  const s = secret();
  const values: Array<() => unknown> = [
    () => ({ [`${s}\0`]: 1 }), () => new Holder({ [`${s}\0`]: 1 }), () => new Holder(new Map([[`${s}\0`, 1]])),
    () => ({ r: new RegExp(`${s}\0`) }), () => new Holder(new RegExp(`${s}\0`)), () => new Map([[`${s}\0`, 1]]),
  ];
  for (const make of values) {
    const ops: Array<() => Promise<unknown>> = [
      () => repo().insertOne({ whole: make() }), () => repo().insertMany([{ whole: make() }]),
      () => repo().updateOne({ _id: new ObjectId() }, { $set: { whole: make() } }), () => repo().replaceOne({ _id: new ObjectId() }, { whole: make() }),
      () => repo().bulkWrite([{ insertOne: { document: { whole: make() } } }]), () => repo().save(Object.assign(new Doc(), { whole: make() })),
    ];
    for (const op of ops) {
      sent.length = 0;
      const err = await op().then(() => undefined, (e: unknown) => e);
      t.truthy(err);
      t.false(exposedText(err).includes(s.slice(1, 12)), exposedText(err).slice(0, 200));
      t.false(commandText().includes(s.slice(1, 12)));
    }
  }
});

test.serial('held: free-form copies of instances holding Maps, toBSON results (instance, primitive), typed arrays, boxed primitives and Sets are stored as the driver writes them; the next save() sends nothing', async (t) => {
  const values: Array<() => unknown> = [
    () => new Holder(new Map([['k', new Map([['a', 1]])]])), () => ({ toBSON: () => new Holder(5) }), () => ({ toBSON: () => 'str' }),
    () => new Float64Array([1.5, 2]), () => new Int8Array([1, -2]), () => new String('abc'), () => new Number(5), () => new Set([1]), () => new Uint8Array([1]).buffer,
  ];
  for (const make of values) {
    for (const where of ['whole', 'extra', 'list'] as const) {
      const given = make();
      const saved = await repo().insertOne(where === 'whole' ? { whole: given } : where === 'extra' ? { extra: { v: given } } : { list: [given] });
      const storedValue = where === 'whole' ? (await repo().findById(saved._id)).whole : (await storedRaw(saved._id))[where];
      const expected = where === 'whole' ? given : where === 'extra' ? { v: given } : [given];
      t.true(bytesOf(storedValue).equals(bytesOf(expected)), `${inspect(given)} @${where}`);
      sent.length = 0;
      await repo().save(saved);
      t.is(updates().length, 0);
    }
  }
});

test.serial('held: distinct, find and aggregate under the opt-in list markers (each one, not deduplicated) and read the rest', async (t) => {
  const a = await withMarkers({ name: 'dist', phone: 'p-a' }, { phone: 'ssn' });
  const b = await withMarkers({ name: 'dist', phone: 'p-b' }, { phone: 'ssn' });
  const values = await lenient().distinct('phone', { name: 'dist' });
  t.is(values.filter((v: unknown) => v instanceof UndecryptableValue).length, 2);
  const found = await lenient().find({ name: 'dist' }).toArray();
  t.deepEqual(found.map((d: any) => d.phone instanceof UndecryptableValue), [true, true]);
  const agg = await lenient().aggregate([{ $match: { name: 'dist' } }, { $project: { phone: 1 } }]).toArray();
  t.is(agg.filter((d: any) => d.phone instanceof UndecryptableValue).length, 2);
  await lenient().remove(found[0]);
  t.is(await coll().countDocuments({ _id: { $in: [a.id, b.id] } }), 1);
});

test.serial('held: with @Version, save() of an entity holding a marker after another write changed the document is a ConcurrencyError, nothing changed', async (t) => {
  const r = untypedRepository(watched.client, Versioned);
  const lenientV = watched.client.repository(Versioned as never, { onUndecryptable: 'marker' } as never) as any;
  const saved = await r.insertOne({ name: 'a', ssn: 'x', phone: 'p' });
  const donor = await coll('versioned').findOne({ _id: saved._id });
  await coll('versioned').updateOne({ _id: saved._id }, { $set: { ssn: donor!.phone } });
  const loaded = await lenientV.findById(saved._id);
  t.true(loaded.ssn instanceof UndecryptableValue);
  await r.updateOne({ _id: saved._id }, { $set: { name: 'other' } });
  const before = await storedRaw(saved._id, 'versioned');
  loaded.name = 'mine';
  const err = await outcomeOf(lenientV.save(loaded));
  t.is(err, 'CONCURRENCY_STALE_VERSION');
  t.true(bytesOf(await storedRaw(saved._id, 'versioned')).equals(bytesOf(before)));
});

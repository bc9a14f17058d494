/**
 * Round-27 adversarial pass on large byte values in change tracking: after a write the snapshot
 * keeps a SHA-256 digest (subtype, length) of a Binary of 64 KiB or more in a plain field save()
 * compares whole; and an embedded document given something that is not a document is refused
 * (INPUT_NOT_A_DOCUMENT). Plain JavaScript against the public API (repositories cast to any), the
 * raw driver to compare stored bytes with the entity's, command monitoring to see commands.
 * Serial: tests hook the shared client's command events.
 */
import test from 'ava';
import { inspect } from 'node:util';
import { Binary, BSON, ObjectId, UUID, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { BeforeUpdate, Embedded, Encrypted, Field, Id, Model, Variant, Version, type Random } from '../../src/index';
import { describe, outcome, untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const K = 64 * 1024;
/** Just above the threshold: every value here is digested, and the documents stay small enough for a quick file. */
const LARGE = 66 * 1024;

class Inner {
  @Field({ bsonType: 'binData' }) data!: Binary;
  @Field({ optional: true }) note?: string;
}

class Meta {
  @Field() label!: string;
  @Field({ bsonType: 'binData' }) thumb!: Binary;
  @Embedded(() => Inner, { optional: true }) inner?: Inner;
}

class Loose {
  @Field({ optional: true }) a?: string;
  @Field({ optional: true }) b?: number;
}

@Model({ db: DB, collection: 'uploads', keyAltName: 'uploads27' })
class Upload {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field({ bsonType: 'binData' }) image!: Binary;
  @Field({ bsonType: 'binData', optional: true }) any?: Binary;
  @Embedded(() => Meta, { optional: true }) meta?: Meta;
  @Embedded(() => Loose, { optional: true }) loose?: Loose;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) scan?: Random<Binary>;
}

let hookMutation: ((e: any) => void) | undefined;

@Model({ db: DB, collection: 'hooked', keyAltName: 'hooked27' })
class Hooked {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'binData' }) image!: Binary;
  @Version() version!: number;
  @BeforeUpdate() touch(this: any) { hookMutation?.(this); }
}

@Model({ db: DB, collection: 'docs', keyAltName: 'docs27', discriminator: 'kind' })
class Doc {
  @Id() _id!: ObjectId;
  @Field() kind!: string;
  @Field({ bsonType: 'binData' }) body!: Binary;
}
@Variant('pic')
class Pic extends Doc {
  @Field({ bsonType: 'binData' }) preview!: Binary;
  @Embedded(() => Meta, { optional: true }) meta?: Meta;
}

let client: StrongboxClient;
let raw: MongoClient;
const repo = (model: Function) => untypedRepository(client, model);
const commands: CommandStartedEvent[] = [];

test.before(async () => {
  client = await testClient([Upload, Hooked, Doc], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (e) => { if (e.databaseName === DB) commands.push(e); });
  raw = await rawClient();
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

const templates = new Map<string, Buffer>();
/** A fresh buffer of `size` bytes from `seed` (each pattern generated once: generating 100 KiB per call made the file take minutes). */
const bytes = (size: number, seed: number) => {
  let template = templates.get(`${size}:${seed}`);
  if (!template) templates.set(`${size}:${seed}`, template = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff)));
  return Buffer.from(template);
};
/** The bytes the driver writes for a value. */
const ser = (v: unknown) => Buffer.from(BSON.serialize({ v }));
const same = (a: unknown, b: unknown) => ser(a).equals(ser(b));
const storedDoc = (coll: string, id: unknown) => raw.db(DB).collection(coll).findOne({ _id: id as ObjectId });
const at = (doc: any, path: string) => path.split('.').reduce((v, k) => v?.[k], doc);
const updatesSince = (n: number) => commands.slice(n).filter((c) => c.commandName === 'update');
const noDigestIn = (x: unknown) => !/digest|BytesDigest|change tracking reached/i.test(typeof x === 'string' ? x : inspect(x, { depth: 6 }));

function upload(name: string, size = LARGE): Document {
  return { name, image: new Binary(bytes(size, 1)), meta: { label: 'm', thumb: new Binary(bytes(size, 2)), inner: { data: new Binary(bytes(size, 3)) } } };
}

/** Each way of changing a large value in place or replacing it; each must reach the stored document. */
const mutations: Array<[string, (e: any) => void]> = [
  ['buffer byte', (e) => { e.image.buffer[LARGE - 1] ^= 0xff; }],
  ['binary.write at end', (e) => { e.image.write(Buffer.from([9, 9, 9]), LARGE - 3); }],
  ['binary.put grows', (e) => { e.image.put(7); }],
  ['position shrinks', (e) => { e.image.position -= 1; }],
  ['position to below 64 KiB', (e) => { e.image.position = K - 1; }],
  ['buffer swapped, same length', (e) => { e.image.buffer = bytes(LARGE, 77); }],
  ['sub_type 0 -> 5', (e) => { e.image.sub_type = 5; }],
  ['sub_type 0 -> 2 (old binary)', (e) => { e.image.sub_type = 2; }],
  ['sub_type 0 -> 128', (e) => { e.image.sub_type = 128; }],
  ['replaced by a Buffer of other bytes', (e) => { e.image = bytes(LARGE, 5); }],
  ['replaced by a Uint8Array of other bytes', (e) => { e.image = new Uint8Array(bytes(LARGE, 6)); }],
  ['replaced by a Uint8Array view with offset', (e) => { e.image = new Uint8Array(bytes(LARGE + 8, 1).buffer, 1, LARGE); }],
  ['replaced by a Binary subclass', (e) => { class B extends Binary {} e.image = new B(bytes(LARGE, 8)); }],
  ['replaced by a Proxy of a Binary with other bytes', (e) => { e.image = new Proxy(new Binary(bytes(LARGE, 9)), {}); }],
  ['replaced by a small UUID', (e) => { e.image = new UUID(); }],
  ['meta.thumb byte', (e) => { e.meta.thumb.buffer[3] ^= 0xff; }],
  ['meta.thumb sub_type', (e) => { e.meta.thumb.sub_type = 4; }],
  ['meta.inner.data byte', (e) => { e.meta.inner.data.buffer[LARGE - 2] ^= 0xff; }],
  ['meta.inner.data position', (e) => { e.meta.inner.data.position = 10; }],
  ['meta replaced with a class-free copy, inner changed', (e) => { e.meta = { label: 'm', thumb: e.meta.thumb, inner: { data: new Binary(bytes(LARGE, 10)) } }; }],
  ['any: a large Binary', (e) => { e.any = new Binary(bytes(LARGE, 11)); }],
];

const checkedPaths = ['image', 'meta.thumb', 'meta.inner.data', 'any'];

async function expectStoredEqualsEntity(t: any, coll: string, entity: any, label: string): Promise<void> {
  const doc = await storedDoc(coll, entity._id);
  for (const path of checkedPaths) {
    const held = at(entity, path);
    if (held === undefined) continue;
    t.true(same(at(doc, path), held), `${label}: stored ${path} is the entity's bytes`);
  }
}

test.serial('held: every in-place change or replacement of a large byte value after insertOne reaches the stored document', async (t) => {
  t.timeout(120_000);
  for (const [label, mutate] of mutations) {
    const entity: any = await repo(Upload).insertOne(upload(label));
    mutate(entity);
    const r = await outcome(() => repo(Upload).save(entity));
    t.falsy(r.error, `${label}: ${describe(r.error)}`);
    await expectStoredEqualsEntity(t, 'uploads', entity, label);
    const n = commands.length;
    await repo(Upload).save(entity);
    t.is(updatesSince(n).length, 0, `${label}: nothing to send after saving`);
  }
});

/** One change of each kind (in place, subtype, replacement, one and two levels down): the test above runs them all. */
const sampled = mutations.filter(([label]) => ['buffer byte', 'sub_type 0 -> 5', 'replaced by a Buffer of other bytes', 'meta.thumb byte', 'meta.inner.data position'].includes(label));

test.serial('held: the same changes after save() of a new entity, after insertMany, and after a save', async (t) => {
  t.timeout(120_000);
  t.is(sampled.length, 5);
  for (const [label, mutate] of sampled) {
    const viaSave: any = Object.assign(new Upload(), upload(label));
    await repo(Upload).save(viaSave);
    const [viaMany]: any[] = await repo(Upload).insertMany([upload(label), upload(label)]);
    const twice: any = await repo(Upload).insertOne(upload(label));
    twice.name = 'x';
    await repo(Upload).save(twice);
    for (const [kind, entity] of [['save new', viaSave], ['insertMany', viaMany], ['saved twice', twice]] as const) {
      mutate(entity);
      const r = await outcome(() => repo(Upload).save(entity));
      t.falsy(r.error, `${kind} ${label}: ${describe(r.error)}`);
      await expectStoredEqualsEntity(t, 'uploads', entity, `${kind} ${label}`);
    }
  }
});

test.serial('held: sizes around 64 KiB, growing and shrinking across the threshold', async (t) => {
  t.timeout(120_000);
  for (const size of [K - 1, K, K + 1]) {
    for (const next of [K - 1, K, K + 1]) {
      const entity: any = await repo(Upload).insertOne(upload(`s${size}`, size));
      // Same leading bytes, other length: a prefix or an extension.
      entity.image = new Binary(bytes(next, 1));
      await repo(Upload).save(entity);
      const doc = await storedDoc('uploads', entity._id);
      t.true(same(doc!.image, entity.image), `${size} -> ${next}`);
    }
  }
});

test.serial('held: a large value changed while insertOne, save() of a new entity or save() is in flight is sent by the next save', async (t) => {
  t.timeout(120_000);
  const mutateSoon = (e: any, when: 'sync' | 'micro' | 'immediate') => {
    const run = () => { e.image.buffer[0] ^= 0xff; e.meta.thumb.sub_type = 5; e.meta.inner.data.position -= 1; };
    if (when === 'sync') run(); else if (when === 'micro') queueMicrotask(run); else setImmediate(run);
  };
  for (const when of ['sync', 'micro', 'immediate'] as const) {
    // save() of a new entity: the entity's own values are what the insert reads.
    const fresh: any = Object.assign(new Upload(), upload(`new ${when}`));
    const p = repo(Upload).save(fresh);
    mutateSoon(fresh, when);
    await p;
    await repo(Upload).save(fresh);
    await expectStoredEqualsEntity(t, 'uploads', fresh, `save new, ${when}`);

    const loaded: any = await repo(Upload).insertOne(upload(`loaded ${when}`));
    loaded.image = new Binary(bytes(LARGE, 40));
    const q = repo(Upload).save(loaded);
    mutateSoon(loaded, when);
    await q;
    await repo(Upload).save(loaded);
    await expectStoredEqualsEntity(t, 'uploads', loaded, `save loaded, ${when}`);
  }
});

test.serial('held: two concurrent saves of the same entity leave the stored bytes equal to the entity', async (t) => {
  t.timeout(120_000);
  const entity: any = await repo(Upload).insertOne(upload('concurrent'));
  entity.image.buffer[1] ^= 0xff;
  const a = repo(Upload).save(entity);
  entity.image.buffer[2] ^= 0xff;
  entity.meta.thumb = new Binary(bytes(LARGE, 50));
  const b = repo(Upload).save(entity);
  await Promise.all([a, b]);
  await repo(Upload).save(entity);
  await expectStoredEqualsEntity(t, 'uploads', entity, 'concurrent');
});

test.serial('held: a @BeforeUpdate hook changing the large value is saved', async (t) => {
  t.timeout(120_000);
  const entity: any = await repo(Hooked).insertOne({ image: new Binary(bytes(LARGE, 1)) });
  hookMutation = (e) => { e.image.buffer[5] ^= 0xff; };
  try {
    entity.image.buffer[6] ^= 0xff;
    await repo(Hooked).save(entity);
    hookMutation = (e) => { e.image = new Binary(bytes(LARGE, 60)); };
    await repo(Hooked).save(entity);
  } finally { hookMutation = undefined; }
  const doc = await storedDoc('hooked', entity._id);
  t.true(same(doc!.image, entity.image));
});

test.serial('held: variants keep digests of their own fields and save each change', async (t) => {
  t.timeout(120_000);
  const pic: any = await repo(Doc).insertOne({ kind: 'pic', body: new Binary(bytes(LARGE, 1)), preview: new Binary(bytes(LARGE, 2)), meta: { label: 'l', thumb: new Binary(bytes(LARGE, 3)) } });
  pic.preview.buffer[0] ^= 0xff;
  pic.body.sub_type = 5;
  pic.meta.thumb.position -= 5;
  await repo(Doc).save(pic);
  const doc = await storedDoc('docs', pic._id);
  t.true(same(doc!.preview, pic.preview) && same(doc!.body, pic.body) && same(doc!.meta.thumb, pic.meta.thumb));
});

test.serial('held: an embedded field replaced on the entity by a non-document is refused by save() with INPUT_NOT_A_DOCUMENT, no digest in the error, nothing sent', async (t) => {
  t.timeout(120_000);
  const replacements: Array<[string, () => unknown]> = [
    ['Binary', () => new Binary(bytes(LARGE, 1))], ['Buffer', () => bytes(LARGE, 1)], ['Date', () => new Date()], ['array', () => []],
    ['Map', () => new Map([['label', 'x']])], ['Set', () => new Set()], ['boxed string', () => Object('abc')], ['Uint8Array', () => new Uint8Array(4)],
  ];
  for (const [label, make] of replacements) {
    const entity: any = await repo(Upload).insertOne(upload(label));
    entity.meta = make();
    const n = commands.length;
    const r = await outcome(() => repo(Upload).save(entity));
    t.is((r.error as any)?.code, 'INPUT_NOT_A_DOCUMENT', `${label}: ${describe(r.error)}`);
    t.true(noDigestIn(r.error), `${label}: the error names no digest`);
    t.is(updatesSince(n).length, 0, `${label}: nothing sent`);
    const doc = await storedDoc('uploads', entity._id);
    t.true(same(doc!.meta.thumb, new Binary(bytes(LARGE, 2))), `${label}: stored meta untouched`);
  }
});

test.serial('held: legitimate embedded documents are accepted on insert and save (class instances, subclasses, null prototype, entities read back)', async (t) => {
  t.timeout(120_000);
  class MetaPlus extends Meta { extra() { return 1; } }
  const inputs: Array<[string, () => unknown]> = [
    ['class instance', () => Object.assign(new Meta(), { label: 'c', thumb: new Binary(bytes(LARGE, 2)) })],
    ['subclass instance', () => Object.assign(new MetaPlus(), { label: 'c', thumb: new Binary(bytes(LARGE, 2)) })],
    ['null prototype', () => Object.assign(Object.create(null), { label: 'c', thumb: new Binary(bytes(LARGE, 2)) })],
  ];
  for (const [label, make] of inputs) {
    const r = await outcome(() => repo(Upload).insertOne({ name: label, image: new Binary(bytes(LARGE, 1)), meta: make() }));
    t.falsy(r.error, `insert ${label}: ${describe(r.error)}`);
    const entity: any = await repo(Upload).insertOne(upload(label));
    entity.meta = make();
    entity.meta.label = 'changed';
    const s = await outcome(() => repo(Upload).save(entity));
    t.falsy(s.error, `save ${label}: ${describe(s.error)}`);
    const doc = await storedDoc('uploads', entity._id);
    t.is(doc!.meta.label, 'changed', label);
  }
  const first: any = await repo(Upload).insertOne(upload('read back'));
  const read: any = await repo(Upload).findById(first._id);
  const second: any = await repo(Upload).insertOne({ name: 'copy', image: read.image, meta: read.meta });
  t.truthy(second._id);
  first.meta = read.meta;
  first.meta.label = 'from read';
  await repo(Upload).save(first);
  t.is((await storedDoc('uploads', first._id))!.meta.label, 'from read');
});

test.serial('held: a Proxy of a Date, a Map or a Uint8Array given for an embedded document is refused (not stored as {})', async (t) => {
  t.timeout(120_000);
  const disguised: Array<[string, () => unknown]> = [
    ['Proxy of a Date', () => new Proxy(new Date(), {})],
    ['Proxy of a Map', () => new Proxy(new Map([['a', 'x']]), {})],
    ['Proxy of an empty Uint8Array', () => new Proxy(new Uint8Array(0), {})],
  ];
  for (const [label, make] of disguised) {
    const r = await outcome(() => repo(Upload).insertOne({ name: label, image: new Binary(bytes(16, 1)), loose: make() }));
    const stored = r.error ? null : await storedDoc('uploads', (r.value as any)._id);
    // Refused before sending: as not a document, or (a Proxy of a Date, whose methods refuse the Proxy) as input it cannot process.
    t.true(['INPUT_NOT_A_DOCUMENT', 'INPUT_MALFORMED'].includes((r.error as any)?.code), `${label}: ${describe(r.error)}; insert stored loose = ${JSON.stringify(stored?.loose)}`);
  }
});

test.serial('save() of a new entity whose embedded class instance hands out other bytes on a second read: the next save() makes the stored bytes the entity\'s', async (t) => {
  t.timeout(120_000);
  const first = new Binary(bytes(LARGE, 21));
  const later = new Binary(bytes(LARGE, 22));
  let reads = 0;
  const meta = Object.assign(new Meta(), { label: 'g' });
  Object.defineProperty(meta, 'thumb', { get: () => (reads++ === 0 ? first : later), enumerable: true, configurable: true });
  const entity: any = Object.assign(new Upload(), { name: 'getter', image: new Binary(bytes(LARGE, 1)), meta });
  await repo(Upload).save(entity);
  await repo(Upload).save(entity);
  const doc = await storedDoc('uploads', entity._id);
  t.true(same(doc!.meta.thumb, entity.meta.thumb), `stored meta.thumb is the bytes the entity holds (stored seed ${doc!.meta.thumb.buffer[0]}, entity seed ${entity.meta.thumb.buffer[0]})`);
});

test.serial('an embedded class instance whose toBSON differs from its fields: a later change to the fields is saved', async (t) => {
  t.timeout(120_000);
  class Shown extends Meta { toBSON() { return { label: 'shown', thumb: this.thumb }; } }
  const meta = Object.assign(new Shown(), { label: 'real', thumb: new Binary(bytes(LARGE, 2)) });
  const entity: any = await repo(Upload).insertOne({ name: 'tobson', image: new Binary(bytes(LARGE, 1)), meta });
  t.is((await storedDoc('uploads', entity._id))!.meta.label, 'real', 'the insert stores the fields');
  entity.meta.label = 'shown';
  await repo(Upload).save(entity);
  t.is((await storedDoc('uploads', entity._id))!.meta.label, 'shown', 'the change to "shown" is stored');
});

test.serial('a large byte value replaced in an embedded class instance while save() of a new entity or insertOne is in flight is sent by the next save', async (t) => {
  t.timeout(120_000);
  for (const when of ['micro', 'immediate', 'timeout'] as const) {
    const meta = Object.assign(new Meta(), { label: 'i', thumb: new Binary(bytes(LARGE, 2)) });
    const entity: any = Object.assign(new Upload(), { name: `inflight ${when}`, image: new Binary(bytes(LARGE, 1)), meta, scan: new Binary(bytes(16, 1)) });
    const p = repo(Upload).save(entity);
    const run = () => { entity.meta.thumb = new Binary(bytes(LARGE, 33)); entity.meta.thumb.sub_type = 5; };
    if (when === 'micro') queueMicrotask(run); else if (when === 'immediate') setImmediate(run); else setTimeout(run, 1);
    await p;
    await repo(Upload).save(entity);
    const doc = await storedDoc('uploads', entity._id);
    t.log(`save new ${when} same=${same(doc!.meta.thumb, entity.meta.thumb)}`);
    t.true(same(doc!.meta.thumb, entity.meta.thumb), `save new, ${when}: stored sub_type ${doc!.meta.thumb.sub_type}, entity ${entity.meta.thumb.sub_type}`);

    const input = { name: `insertOne ${when}`, image: new Binary(bytes(LARGE, 1)), meta: Object.assign(new Meta(), { label: 'i', thumb: new Binary(bytes(LARGE, 2)) }), scan: new Binary(bytes(16, 1)) };
    const q = repo(Upload).insertOne(input);
    const swap = () => { input.meta.thumb = new Binary(bytes(LARGE, 34)); input.meta.thumb.sub_type = 5; };
    if (when === 'micro') queueMicrotask(swap); else if (when === 'immediate') setImmediate(swap); else setTimeout(swap, 1);
    const inserted: any = await q;
    await repo(Upload).save(inserted);
    const doc2 = await storedDoc('uploads', inserted._id);
    t.log(`insertOne ${when} same=${same(doc2!.meta.thumb, inserted.meta.thumb)}`);
    t.true(same(doc2!.meta.thumb, inserted.meta.thumb), `insertOne, ${when}: stored sub_type ${doc2!.meta.thumb.sub_type}, entity ${inserted.meta.thumb.sub_type}`);
  }
});

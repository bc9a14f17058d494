/**
 * Round 58 (brief adv58, on 7545cd0, after 4c4c479 fixed round 57's Binary-view aliasing and the
 * driver's `fieldsAsRaw: {}`): more of the same two classes, through the public API, called as plain
 * JavaScript would.
 *
 * Attacks:
 *  A. aliasing — a value the application receives sharing mutable memory (Binary/ObjectId/Decimal128
 *     bytes, Long bits, Dates, arrays, embedded and free-form objects) with the change-tracking
 *     snapshot, another entity, the input it passed or the command sent: entities from insertOne,
 *     insertMany (one input twice too), save() of a new entity, findById, find, findOneAndUpdate
 *     (before/after), findOneAndReplace, after a save(); defaults handing out one shared object;
 *     @CreatedAt/@UpdatedAt stamps; a projected (partial) entity; binaries of 64 KiB and more (kept
 *     as a SHA-256 digest after a write: a byte, the last byte, grown with write(), in an embedded
 *     document, an array of them, a free-form object); encrypted fields (Random binData/date/
 *     objectId/long/decimal/object, Deterministic binData/date/objectId, a document encrypted whole)
 *     changed in place; the command a monitoring listener keeps; bulkWrite's insertedIds;
 *     populate()'s copies; the instance a @BeforeInsert hook ran on.
 *  B. deserialization — the same stored document through findById, findOne, find, findOneAndUpdate
 *     (before/after), aggregate and distinct; an unchanged save() sends nothing; a read-modify-save
 *     of one key leaves every other stored value byte-identical: int64 (small, above int32, beyond
 *     2^53), integral doubles, regexes with x/s flags, a Map's key order, keys named after
 *     Object.prototype members (arrays and documents under them), 90 levels of nesting, declared
 *     fields holding another stored type. FerretDB v1 refuses keys starting with '$' (so no
 *     DBRef-shaped document can be stored) and closes the connection on Symbol, Code with scope,
 *     MinKey, MaxKey (and Decimal128 in the clear): logged as skips. BSON undefined is stored as null.
 *
 * 15 tests: 10 held, 5 broke on 7545cd0 (four causes, the free-form one tested for data written
 * through Strongbox and for data planted raw). Fixed in the same commit as this file:
 *  - populate() returned shallow copies: the result's Binaries, Dates, arrays, embedded documents
 *    and free-form objects were the item entity's, so a change to the "copy" was saved with the
 *    entity. Now each result is the item read once into copies (as a write reads an entity) and
 *    hydrated again.
 *  - the instance a @BeforeInsert hook ran on shared its values with the entity insertOne returned
 *    (only the fields the hook changed were copied again): a hook that kept `this` changed the
 *    entity. Now every field is copied after a hook.
 * Open (three tests kept as test.failing, counted as known failures until fixed):
 *  - free-form values (an `object` field, an untyped `array`, a Random `object`) are read with the
 *    driver's promotions (DocumentReader.readRaw, the value cipher, the driver for findOneAnd*) and
 *    written back whole when any key in them changes (entity/changes.ts): an int64 written by
 *    Strongbox itself becomes an int32 (or a double above 2^31), a double 2.0 an int32 (for data
 *    inserted through Strongbox and for data planted raw), a regex loses its x flag.
 *  - the same read-modify-save reorders a free-form Map's keys ({ b, 1 } -> { 1, b }): an exact-match
 *    filter on the sub-document stops matching.
 * Added in review: a generated attack (fast-check, 60 entities populated and 60 inserted through a
 * hook that keeps its instance, every mutable value at every depth changed in place, 900+ changes):
 * save() sends nothing; it fails with either fix taken out.
 * Held: no aliasing between an entity and its snapshot, its input, a sibling entity, a default's
 * value, the update command; digests and encrypted values detect in-place changes; all read paths
 * agree on every stored type the server keeps. Observation (documented in docs/entities.md): the
 * insert command a monitoring listener keeps holds the very Binary/embedded/free-form objects the
 * entity returned by insertOne holds (never the snapshot or the stored bytes). Errors carry no values
 * (ValidationIssue: path, rule, message), so none was tested for aliasing.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { Binary, BSON, BSONRegExp, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import {
  ArrayField, BeforeInsert, CreatedAt, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, Ref, UpdatedAt, Version, type Random, type StrongboxClient,
} from '../../src/index';
import { describe, localKeyClient, unwrapLocalKey, untypedRepository, type AnyRepo } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY = 'a58-main';

// ---------------------------------------------------------------------------------------------
// Models

class Leaf58 {
  @Field({ bsonType: 'int', optional: true }) n?: number;
  @Field({ bsonType: 'string', optional: true }) s?: string;
  @Field({ bsonType: 'binData', optional: true }) blob?: Binary;
  @Field({ bsonType: 'date', optional: true }) at?: Date;
  @Field({ bsonType: 'objectId', optional: true }) ref?: ObjectId;
}

/** One Binary every default call hands out: the same object for every insert. */
const SHARED_DEFAULT = new Binary(Buffer.from('default-bytes'));
const SHARED_LIST: Document[] = [{ n: 1 }];

@Model({ db: DB, collection: 'plain' })
class Plain58 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) tag?: string;
  @Field({ bsonType: 'int', optional: true }) n?: number;
  @Field({ bsonType: 'date', optional: true }) at?: Date;
  @Field({ bsonType: 'binData', optional: true }) bin?: Binary;
  @Field({ bsonType: 'objectId', optional: true }) ref?: ObjectId;
  @Field({ bsonType: 'long', optional: true }) l?: Long;
  @ArrayField({ of: 'int', optional: true }) ints?: number[];
  @Embedded(() => Leaf58, { optional: true }) emb?: Leaf58;
  @EmbeddedArray(() => Leaf58, { optional: true }) list?: Leaf58[];
  @Field({ bsonType: 'object', optional: true }) meta?: Document;
  @Field({ bsonType: 'array', optional: true }) arr?: unknown[];
  @Field({ bsonType: 'binData', optional: true, default: () => SHARED_DEFAULT }) dflt?: Binary;
  @Field({ bsonType: 'object', optional: true, default: () => ({ list: SHARED_LIST }) }) dobj?: Document;
}

@Model({ db: DB, collection: 'stamped' })
class Stamped58 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) tag?: string;
  @Field({ bsonType: 'binData', optional: true }) bin?: Binary;
  @Field({ bsonType: 'object', optional: true }) meta?: Document;
  @CreatedAt() createdAt?: Date;
  @UpdatedAt() updatedAt?: Date;
  @Version() version?: number;
}

@Model({ db: DB, collection: 'sec', keyAltName: KEY })
class Sec58 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) tag?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) rbin?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'date', optional: true }) rdate?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'objectId', optional: true }) roid?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', optional: true }) rlong?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'decimal', optional: true }) rdec?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', optional: true }) dbin?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'date', optional: true }) ddate?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId', optional: true }) doid?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'object', optional: true }) robj?: any;
  @Encrypted({ algorithm: 'Random', optional: true }) @Embedded(() => Leaf58, { optional: true }) sealed?: Random<Leaf58>;
}

@Model({ db: DB, collection: 'owner' })
class Owner58 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) name?: string;
}

@Model({ db: DB, collection: 'owned' })
class Owned58 {
  @Id() _id!: ObjectId;
  @Ref(() => Owner58, { optional: true }) owner?: ObjectId;
  @Field({ bsonType: 'binData', optional: true }) bin?: Binary;
  @Field({ bsonType: 'date', optional: true }) at?: Date;
  @ArrayField({ of: 'int', optional: true }) ints?: number[];
  @Embedded(() => Leaf58, { optional: true }) emb?: Leaf58;
  @Field({ bsonType: 'object', optional: true }) meta?: Document;
}

/** Instances a @BeforeInsert hook was run on, kept by the hook (an outbox, an audit queue). */
const HOOKED: any[] = [];
@Model({ db: DB, collection: 'hooked' })
class Hooked58 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) tag?: string;
  @Field({ bsonType: 'binData', optional: true }) bin?: Binary;
  @Field({ bsonType: 'object', optional: true }) meta?: Document;
  @BeforeInsert() keep(): void { HOOKED.push(this); this.tag = 'hooked'; }
}

const MODELS = [Plain58, Stamped58, Sec58, Owner58, Owned58, Hooked58];

let client: StrongboxClient;
let raw: MongoClient;
let masterKey: Buffer;
let dataKey: Buffer;
const sent: CommandStartedEvent[] = [];
const KEY_VAULT = `sb_keys_a58_${randomBytes(3).toString('hex')}.__keyVault`;
const repo = (model: Function): AnyRepo => untypedRepository(client, model);
const coll = (name: string) => raw.db(DB).collection(name);

test.before(async () => {
  raw = await rawClient();
  masterKey = randomBytes(96);
  client = await localKeyClient(MODELS, masterKey, KEY_VAULT);
  client.dataClient.on('commandStarted', (e) => { if (e.databaseName === DB) sent.push(e); });
  await repo(Sec58).insertOne({ tag: 'init', rbin: new Binary(Buffer.from('x')) });
  const [vdb, vcoll] = KEY_VAULT.split('.');
  const k = (await raw.db(vdb).collection(vcoll).findOne({ keyAltNames: KEY }))!;
  dataKey = unwrapLocalKey(masterKey, Buffer.from((k.keyMaterial as Binary).buffer));
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await raw?.db(KEY_VAULT.split('.')[0]).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close()]);
});

// ---------------------------------------------------------------------------------------------
// Helpers

function updatesSent(): Document[] {
  return sent.filter((c) => c.commandName === 'update').flatMap((c) => (c.command.updates as Document[]).map((u) => u.u as Document));
}
const keysSent = (): string[] => updatesSent().flatMap((u) => [...Object.keys(u.$set ?? {}), ...Object.keys(u.$unset ?? {})]);
async function storedBytes(name: string, id: unknown): Promise<Uint8Array> {
  const b = await coll(name).findOne({ _id: id as ObjectId }, { raw: true } as never);
  return new Uint8Array(b as unknown as Uint8Array);
}
/** The stored document, every value as BSON stores it (no promotion, no DBRef, no raw arrays). */
const exact = (bytes: Uint8Array): Document => BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false, bsonRegExp: true, fieldsAsRaw: Object.create(null) } as never);
/** Each top-level value (or each key of `under`) as its BSON bytes, hex. */
function bytesByKey(doc: Document): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(doc)) out[k] = Buffer.from(BSON.serialize({ v: doc[k] })).toString('hex');
  return out;
}
/** Keys whose stored BSON differs between two reads of one document, `except` left out. */
function changedKeys(before: Document, after: Document, except: string[]): string[] {
  const a = bytesByKey(before);
  const b = bytesByKey(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !except.includes(k) && a[k] !== b[k]);
}
async function saveOk(r: AnyRepo, e: unknown): Promise<string> {
  sent.length = 0;
  return r.save(e).then(() => 'ok', (err: unknown) => describe(err));
}
/** The plaintext BSON value of a Random/Deterministic ciphertext (its MAC not checked: the test only reads what it wrote). */
function open(blob: Binary): { type: number; bytes: Buffer } {
  const b = Buffer.from(blob.buffer);
  const d = createDecipheriv('aes-256-cbc', dataKey.subarray(32, 64), b.subarray(18, 34));
  return { type: b[17], bytes: Buffer.concat([d.update(b.subarray(34, b.length - 32)), d.final()]) };
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const big = (n: number, fill = 0x41): Binary => new Binary(Buffer.alloc(n, fill));

// ---------------------------------------------------------------------------------------------
// A. aliasing

/** In-place mutations of an entity of Plain58, the top-level field save() must then send, and how the stored document shows it. */
const IN_PLACE: Array<[string, (e: any) => void, string, (s: Document) => boolean]> = [
  ['bin bytes', (e) => { e.bin.buffer[0] = 0x5a; }, 'bin', (s) => Buffer.from(s.bin.buffer)[0] === 0x5a],
  ['ref ObjectId bytes (.id)', (e) => { e.ref.id[0] ^= 0xff; }, 'ref', (s) => s.ref.id[0] === (0x5f ^ 0xff)],
  ['at Date.setTime', (e) => { e.at.setTime(424242); }, 'at', (s) => s.at.getTime() === 424242],
  ['l Long.low', (e) => { e.l.low = 77; }, 'l', (s) => Number(s.l) === 77],
  ['ints push', (e) => { e.ints.push(9); }, 'ints', (s) => s.ints.length === 2],
  ['emb.blob bytes', (e) => { e.emb.blob.buffer[0] = 0x5a; }, 'emb', (s) => Buffer.from(s.emb.blob.buffer)[0] === 0x5a],
  ['emb.at setTime', (e) => { e.emb.at.setTime(5); }, 'emb', (s) => s.emb.at.getTime() === 5],
  ['list[0].blob bytes', (e) => { e.list[0].blob.buffer[0] = 0x5a; }, 'list', (s) => Buffer.from(s.list[0].blob.buffer)[0] === 0x5a],
  ['list[0].ref bytes', (e) => { e.list[0].ref.id[1] ^= 0xff; }, 'list', (s) => s.list[0].ref.id[1] === 0xff],
  ['meta.deep.bin bytes', (e) => { e.meta.deep.bin.buffer[0] = 0x5a; }, 'meta', (s) => Buffer.from(s.meta.deep.bin.buffer)[0] === 0x5a],
  ['meta.deep.at setTime', (e) => { e.meta.deep.at.setTime(6); }, 'meta', (s) => s.meta.deep.at.getTime() === 6],
  ['meta.deep.arr push', (e) => { e.meta.deep.arr.push(1); }, 'meta', (s) => s.meta.deep.arr.length === 2],
  ['arr[0] bytes', (e) => { e.arr[0].buffer[0] = 0x5a; }, 'arr', (s) => Buffer.from(s.arr[0].buffer)[0] === 0x5a],
  ['dflt bytes (a default)', (e) => { e.dflt.buffer[0] = 0x5a; }, 'dflt', (s) => Buffer.from(s.dflt.buffer)[0] === 0x5a],
  ['dobj.list push (a default)', (e) => { e.dobj.list.push({ n: 2 }); }, 'dobj', (s) => s.dobj.list.length === 2],
];

const fresh = (): Document => ({
  tag: 'a', n: 1, at: new Date(1000), bin: new Binary(Buffer.from('clear')), ref: new ObjectId('5f0000000000000000000058'), l: Long.fromNumber(5), ints: [1],
  emb: { n: 1, blob: new Binary(Buffer.from('emb')), at: new Date(2000), ref: new ObjectId() },
  list: [{ s: 'x', blob: new Binary(Buffer.from('lst')), ref: new ObjectId('000000000000000000000000') }],
  meta: { deep: { bin: new Binary(Buffer.from('meta')), at: new Date(3000), arr: [0] } }, arr: [new Binary(Buffer.from('arr'))],
});

/** Reads a Plain58 entity in one of the ways an application gets one. */
const SOURCES: Array<[string, (r: AnyRepo) => Promise<any>]> = [
  ['insertOne', (r) => r.insertOne(fresh())],
  ['insertMany', async (r) => (await r.insertMany([fresh(), fresh()]))[1]],
  ['save(new)', async (r) => { const e = Object.assign(new Plain58(), fresh()); await r.save(e); return e; }],
  ['findById', async (r) => r.findById((await r.insertOne(fresh()))._id)],
  ['find', async (r) => (await r.find({ _id: (await r.insertOne(fresh()))._id }).toArray())[0]],
  ['findOneAndUpdate after', async (r) => r.findOneAndUpdate({ _id: (await r.insertOne(fresh()))._id }, { $set: { n: 2 } })],
  ['findOneAndUpdate before', async (r) => r.findOneAndUpdate({ _id: (await r.insertOne(fresh()))._id }, { $set: { n: 2 } }, { returnDocument: 'before' })],
  ['findOneAndReplace after', async (r) => r.findOneAndReplace({ _id: (await r.insertOne(fresh()))._id }, fresh())],
  ['after a save() of a change', async (r) => { const e = await r.findById((await r.insertOne(fresh()))._id); e.n = 3; await r.save(e); return e; }],
];

test.serial('held: from insertOne, insertMany, save() of a new entity, findById, find, findOneAndUpdate (before/after), findOneAndReplace and after a save(), each in-place change to a Binary\'s bytes, an ObjectId\'s bytes, a Date, a Long\'s bits, an array (top level, embedded, in an array of embedded documents, in a free-form object, a default\'s value) makes save() send exactly that field, store it, and a second save() send nothing', async (t) => {
  const wrong: string[] = [];
  const r = repo(Plain58);
  for (const [source, read] of SOURCES) {
    for (const [name, change, path, check] of IN_PLACE) {
      const e = await read(r);
      sent.length = 0;
      const unchanged = await saveOk(r, e);
      if (unchanged !== 'ok' || updatesSent().length) { wrong.push(`${source} ${name}: unchanged save ${unchanged} sent ${JSON.stringify(keysSent())}`); continue; }
      change(e);
      const res = await saveOk(r, e);
      const keys = keysSent();
      if (res !== 'ok') wrong.push(`${source} ${name}: save ${res}`);
      else if (keys.length === 0 || keys.some((k) => k !== path && !k.startsWith(`${path}.`))) wrong.push(`${source} ${name}: save sent ${JSON.stringify(keys)}, expected ${path}`);
      const stored = BSON.deserialize(await storedBytes('plain', e._id));
      if (!check(stored)) wrong.push(`${source} ${name}: stored document lacks the change`);
      if ((await saveOk(r, e)) !== 'ok' || updatesSent().length) wrong.push(`${source} ${name}: second save sent ${JSON.stringify(keysSent())}`);
    }
  }
  if (Buffer.from(SHARED_DEFAULT.buffer).toString() !== 'default-bytes' || SHARED_LIST.length !== 1) wrong.push('a default\'s shared value was changed through an entity');
  t.deepEqual(wrong.slice(0, 12), []);
});

test.serial('held: the input document passed to insertOne, insertMany, findOneAndReplace and save() shares nothing with the entity returned or its snapshot: changing the input in place after the call changes neither the entity nor what save() sends', async (t) => {
  const wrong: string[] = [];
  const r = repo(Plain58);
  const mutateInput = (d: Document): void => {
    d.bin.buffer[0] = 0x21; d.ref.id[0] = 0x21; d.at.setTime(1); d.l.low = 1; d.ints.push(1); d.emb.blob.buffer[0] = 0x21; d.emb.at.setTime(1);
    d.list[0].blob.buffer[0] = 0x21; d.list.push({ s: 'in' }); d.meta.deep.bin.buffer[0] = 0x21; d.meta.deep.arr.push(1); d.arr[0].buffer[0] = 0x21;
  };
  const calls: Array<[string, (d: Document) => Promise<any>]> = [
    ['insertOne', (d) => r.insertOne(d)],
    ['insertMany', async (d) => (await r.insertMany([d]))[0]],
    ['insertMany of one input twice', async (d) => { const [a, b] = await r.insertMany([d, d]); a.bin.buffer[1] = 0x5a; a.meta.deep.arr.push(7); return b; }],
    ['findOneAndReplace', async (d) => r.findOneAndReplace({ _id: (await r.insertOne(fresh()))._id }, d)],
  ];
  for (const [name, call] of calls) {
    const input = fresh();
    const e = await call(input);
    const shapeBefore = hex(BSON.serialize(e));
    mutateInput(input);
    if (hex(BSON.serialize(e)) !== shapeBefore) wrong.push(`${name}: the entity changed with the input`);
    if ((await saveOk(r, e)) !== 'ok' || updatesSent().length) wrong.push(`${name}: save after the input changed sent ${JSON.stringify(keysSent())}`);
  }
  // save() of a new entity: the entity is the application's own object, but what save() filled in (defaults) must not be the default's value.
  const e = Object.assign(new Plain58(), fresh());
  await r.save(e);
  if ((e as any).dflt === SHARED_DEFAULT || (e as any).dobj.list === SHARED_LIST) wrong.push('save(new): a default\'s value is the very object the default function returns');
  t.deepEqual(wrong, []);
});

test.serial('held: entities returned by one insertMany or one find share no mutable object (stamps, defaults, Binaries, Dates, ObjectIds, arrays)', async (t) => {
  const wrong: string[] = [];
  const stampedMany = await repo(Stamped58).insertMany([{ tag: 'a', bin: new Binary(Buffer.from('s')), meta: { a: [1] } }, { tag: 'b', bin: new Binary(Buffer.from('s')), meta: { a: [1] } }]);
  const [s0, s1] = stampedMany;
  for (const k of ['createdAt', 'updatedAt', 'bin', 'meta']) if (s0[k] === s1[k]) wrong.push(`insertMany Stamped58: ${k} shared`);
  s0.createdAt.setTime(1);
  s0.updatedAt.setTime(1);
  if (s1.createdAt.getTime() === 1 || s1.updatedAt.getTime() === 1) wrong.push('insertMany: stamps follow another entity');
  if ((await saveOk(repo(Stamped58), s1)) !== 'ok' || updatesSent().length) wrong.push(`insertMany: untouched sibling's save sent ${JSON.stringify(keysSent())}`);
  const many = await repo(Plain58).insertMany([fresh(), fresh(), {}]);
  const all = (e: any): unknown[] => [e.dflt, e.dflt?.buffer, e.dobj, e.dobj?.list, e._id, e.at, e.bin, e.emb, e.list, e.meta, e.arr].filter((x) => x !== undefined);
  const seen = new Set(all(many[0]));
  for (const o of [...all(many[1]), ...all(many[2])]) if (seen.has(o)) wrong.push(`insertMany Plain58: shared ${(o as object)?.constructor?.name}`);
  many[0].dflt.buffer[1] = 0x5a;
  if (many[1].dflt.buffer[1] === 0x5a || many[2].dflt.buffer[1] === 0x5a) wrong.push('insertMany: default Binary bytes shared between entities');
  // Save of a loaded entity stamped: the new updatedAt Date must not be shared with the snapshot.
  const loaded = await repo(Stamped58).findById(s1._id);
  loaded.tag = 'c';
  await repo(Stamped58).save(loaded);
  loaded.updatedAt.setTime(99);
  const r = await saveOk(repo(Stamped58), loaded);
  if (r !== 'ok' || !keysSent().includes('updatedAt')) wrong.push(`updatedAt changed in place after save: save ${r} sent ${JSON.stringify(keysSent())}`);
  t.deepEqual(wrong, []);
});

test.serial('held: an entity read with a projection is refused by save() (its snapshot is partial), and its Binary is still not the bytes another read of the same document holds', async (t) => {
  const r = repo(Plain58);
  const { _id } = await r.insertOne(fresh());
  const [p] = await r.find({ _id }, { projection: { bin: 1, emb: 1 } }).toArray();
  const full = await r.findById(_id);
  p.bin.buffer[0] = 0x5a;
  const res = await saveOk(r, p);
  t.regex(res, /INPUT_ENTITY_PARTIAL/);
  t.is(updatesSent().length, 0);
  t.is(Buffer.from(full.bin.buffer).toString(), 'clear');
});

test.serial('held: binaries of 64 KiB and more (kept by change tracking as a SHA-256 digest after a write), top level, in an embedded document, in an array of them and in a free-form object, changed in place (one byte, the last byte, the subtype, grown with write()) after insertOne, save() of a new entity and findById (after a save() and findOneAndUpdate: see the first test): save() sends the field and stores the change; unchanged, nothing', async (t) => {
  const wrong: string[] = [];
  const r = repo(Plain58);
  const N = 70 * 1024;
  const doc = (): Document => ({ tag: 'big', bin: big(N), emb: { blob: big(N, 0x42) }, list: [{ blob: big(N, 0x43) }], meta: { deep: { bin: big(N, 0x44) } } });
  const changes: Array<[string, (e: any) => void, string, (s: Document) => boolean]> = [
    ['bin first byte', (e) => { e.bin.buffer[0] = 0x5a; }, 'bin', (s) => s.bin.buffer[0] === 0x5a],
    ['bin last byte', (e) => { e.bin.buffer[e.bin.position - 1] = 0x5a; }, 'bin', (s) => s.bin.buffer[N - 1] === 0x5a],
    ['bin grown with write()', (e) => { e.bin.write(Buffer.from('zz'), e.bin.position); }, 'bin', (s) => s.bin.position === N + 2],
    ['emb.blob byte', (e) => { e.emb.blob.buffer[100] = 0x5a; }, 'emb', (s) => s.emb.blob.buffer[100] === 0x5a],
    ['list[0].blob byte', (e) => { e.list[0].blob.buffer[100] = 0x5a; }, 'list', (s) => s.list[0].blob.buffer[100] === 0x5a],
    ['meta.deep.bin byte', (e) => { e.meta.deep.bin.buffer[100] = 0x5a; }, 'meta', (s) => s.meta.deep.bin.buffer[100] === 0x5a],
  ];
  const sources: Array<[string, () => Promise<any>]> = [
    ['insertOne', () => r.insertOne(doc())],
    ['save(new)', async () => { const e = Object.assign(new Plain58(), doc()); await r.save(e); return e; }],
    ['findById', async () => r.findById((await r.insertOne(doc()))._id)],
  ];
  for (const [source, read] of sources) {
    for (const [name, change, path, check] of changes) {
      const e = await read();
      if ((await saveOk(r, e)) !== 'ok' || updatesSent().length) wrong.push(`${source} ${name}: unchanged save sent ${JSON.stringify(keysSent())}`);
      change(e);
      const res = await saveOk(r, e);
      const keys = keysSent();
      if (res !== 'ok') wrong.push(`${source} ${name}: save ${res}`);
      else if (keys.length === 0 || keys.some((k) => k !== path && !k.startsWith(`${path}.`))) wrong.push(`${source} ${name}: save sent ${JSON.stringify(keys)}, expected ${path}`);
      const stored = exact(await storedBytes('plain', e._id));
      if (!check(stored)) wrong.push(`${source} ${name}: stored document lacks the change`);
      if ((await saveOk(r, e)) !== 'ok' || updatesSent().length) wrong.push(`${source} ${name}: second save sent ${JSON.stringify(keysSent())}`);
    }
  }
  t.deepEqual(wrong, []);
});

test.serial('held: encrypted fields (Random binData/date/objectId/long/decimal/object, Deterministic binData/date/objectId, an embedded document encrypted whole) whose plaintext is changed in place after insertOne, findById, find and findOneAndUpdate: save() re-encrypts and sends that field, a later read gives the change, and the command holds no plaintext', async (t) => {
  const wrong: string[] = [];
  const r = repo(Sec58);
  const doc = (): Document => ({
    tag: 's', rbin: new Binary(Buffer.from('A58-rbin-plain')), rdate: new Date(1000), roid: new ObjectId('5f0000000000000000000058'), rlong: Long.fromNumber(5),
    rdec: Decimal128.fromString('1.5'), dbin: new Binary(Buffer.from('A58-dbin-plain')), ddate: new Date(2000), doid: new ObjectId('5e0000000000000000000058'),
    robj: { bin: new Binary(Buffer.from('A58-robj-plain')), at: new Date(3000), list: [1] }, sealed: { blob: new Binary(Buffer.from('A58-seal-plain')), at: new Date(4000) },
  });
  const changes: Array<[string, (e: any) => void, (e: any) => boolean]> = [
    ['rbin', (e) => { e.rbin.buffer[0] = 0x5a; }, (e) => e.rbin.buffer[0] === 0x5a],
    ['rdate', (e) => { e.rdate.setTime(77); }, (e) => e.rdate.getTime() === 77],
    ['roid', (e) => { e.roid.id[0] = 0x11; }, (e) => e.roid.id[0] === 0x11],
    ['rlong', (e) => { e.rlong.low = 99; }, (e) => Number(e.rlong) === 99],
    ['rdec', (e) => { e.rdec.bytes[0] ^= 1; }, (e) => e.rdec.toString() !== '1.5'],
    ['dbin', (e) => { e.dbin.buffer[0] = 0x5a; }, (e) => e.dbin.buffer[0] === 0x5a],
    ['ddate', (e) => { e.ddate.setTime(88); }, (e) => e.ddate.getTime() === 88],
    ['doid', (e) => { e.doid.id[0] = 0x11; }, (e) => e.doid.id[0] === 0x11],
    ['robj', (e) => { e.robj.bin.buffer[0] = 0x5a; }, (e) => e.robj.bin.buffer[0] === 0x5a],
    ['robj', (e) => { e.robj.list.push(2); }, (e) => e.robj.list.length === 2],
    ['sealed', (e) => { e.sealed.blob.buffer[0] = 0x5a; }, (e) => e.sealed.blob.buffer[0] === 0x5a],
    ['sealed', (e) => { e.sealed.at.setTime(9); }, (e) => e.sealed.at.getTime() === 9],
  ];
  const sources: Array<[string, () => Promise<any>]> = [
    ['insertOne', () => r.insertOne(doc())],
    ['findById', async () => r.findById((await r.insertOne(doc()))._id)],
    ['find', async () => (await r.find({ _id: (await r.insertOne(doc()))._id }).toArray())[0]],
    ['findOneAndUpdate before', async () => r.findOneAndUpdate({ _id: (await r.insertOne(doc()))._id }, { $set: { tag: 't' } }, { returnDocument: 'before' })],
  ];
  let refused = '';
  for (const [source, read] of sources) {
    for (const [field, change, check] of changes) {
      const e = await read().catch((err: unknown) => err);
      if (e instanceof Error) { refused = describe(e); break; }
      if ((await saveOk(r, e)) !== 'ok' || updatesSent().length) wrong.push(`${source} ${field}: unchanged save sent ${JSON.stringify(keysSent())}`);
      change(e);
      const res = await saveOk(r, e);
      const keys = keysSent();
      if (res !== 'ok') wrong.push(`${source} ${field}: save ${res}`);
      else if (JSON.stringify(keys) !== JSON.stringify([field])) wrong.push(`${source} ${field}: save sent ${JSON.stringify(keys)}`);
      for (const c of sent) if (Buffer.from(BSON.serialize(c.command)).includes(Buffer.from('-plain'))) wrong.push(`${source} ${field}: ${c.commandName} holds plaintext`);
      const back = await r.findById(e._id);
      if (!check(back)) wrong.push(`${source} ${field}: a later read does not have the change`);
    }
  }
  if (refused) t.log(`an encrypted value refused: ${refused}`);
  t.is(refused, '');
  t.deepEqual(wrong, []);
});

test.serial('held: after save() of a loaded entity, changing the entity in place does not change the update command a monitoring listener received; after insertOne only the values docs/entities.md says the command and the entity share (its one reading of the input) follow the entity, never the stored bytes or the snapshot', async (t) => {
  const wrong: string[] = [];
  const r = repo(Plain58);
  sent.length = 0;
  const e = await r.insertOne(fresh());
  const insert = sent.find((c) => c.commandName === 'insert');
  const before = insert ? bytesByKey(insert.command.documents[0]) : {};
  const stored = hex(await storedBytes('plain', e._id));
  e.bin.buffer[0] = 0x5a; e.at.setTime(1); e.ref.id[0] = 1; e.emb.blob.buffer[0] = 0x5a; e.ints.push(3); e.meta.deep.arr.push(5); e.dflt.buffer[0] = 0x5a;
  const followed = insert ? changedKeys(before as never, bytesByKey(insert.command.documents[0]) as never, []) : ['no insert command'];
  // Observation (documented: "The encryption, the command, the snapshot and the entity an insert returns all hold that one reading").
  t.log(`insertOne: the listener's insert command document follows the entity at ${JSON.stringify(followed)}`);
  if (hex(await storedBytes('plain', e._id)) !== stored) wrong.push('insertOne: the stored document changed');
  const res = await saveOk(r, e);
  if (res !== 'ok' || keysSent().length !== 7) wrong.push(`insertOne: save after in-place changes ${res} sent ${JSON.stringify(keysSent())}`);
  const loaded = await r.findById(e._id);
  loaded.bin = new Binary(Buffer.from('new'));
  loaded.meta = { deep: { at: new Date(5) } };
  await saveOk(r, loaded);
  const update = sent.find((c) => c.commandName === 'update');
  const u = update ? hex(BSON.serialize(update.command)) : '';
  loaded.bin.buffer[0] = 0x5a; loaded.meta.deep.at.setTime(6);
  if (!update || hex(BSON.serialize(update.command)) !== u) wrong.push('save: the listener\'s update command changed with the entity');
  t.deepEqual(wrong, []);
});

test.serial('held: bulkWrite\'s result (insertedIds, upsertedIds) shares no ObjectId with the input operations: changing the input\'s _id in place after the call changes neither the result nor what is stored', async (t) => {
  const r = repo(Plain58);
  const id = new ObjectId();
  const doc = { _id: id, tag: 'bulk', bin: new Binary(Buffer.from('bulk')) };
  const result = await r.bulkWrite([{ insertOne: { document: doc } }, { insertOne: { document: { tag: 'bulk2' } } }]);
  const before = result.insertedIds[0].toHexString();
  id.id[0] ^= 0xff;
  doc.bin.buffer[0] = 0x5a;
  t.is(result.insertedIds[0].toHexString(), before);
  const stored = await coll('plain').findOne({ _id: new ObjectId(before) });
  t.is(Buffer.from((stored!.bin as Binary).buffer).toString(), 'bulk');
});

test.serial('fixed: populate() returns a copy of its item that shares none of the item\'s Binaries, Dates, arrays, embedded documents and free-form objects: a change made to the populated copy leaves the tracked entity, and what save() of the entity sends, unchanged (it changed both)', async (t) => {
  // What is wrong: src/repository/populate.ts:97-99, copyOf is Object.assign(Object.create(proto), item):
  // a shallow copy. Only the embedded documents on the way to a populated reference are copied
  // (holdersAlong, populate.ts:78-92); every other value of the result (a Binary, Date, array, embedded
  // document, free-form object) IS the item's. The doc comment (populate.ts:19-20: "The items are not
  // changed: each result is a copy of its item") and Repository.populate ("Returns copies of the items")
  // promise a copy. An application that edits the populated view (to render or to send elsewhere)
  // changes the entity it read, and the entity's next save() stores what it never changed on it.
  // Reproduction: e = await owned.findById(id); [p] = await owned.populate([e], ['owner']);
  // p.ints.push(9); p.bin.buffer[0] = 0x5a; p.emb.s = 'via copy'; await owned.save(e) -> $set ints, bin, emb.s.
  const owner = await repo(Owner58).insertOne({ name: 'o' });
  const saved = await repo(Owned58).insertOne({ owner: owner._id, bin: new Binary(Buffer.from('owned')), at: new Date(1000), ints: [1], emb: { s: 'e' }, meta: { a: [1] } });
  const e = await repo(Owned58).findById(saved._id);
  const [p] = await repo(Owned58).populate([e], ['owner']);
  const wrong: string[] = [];
  if (p.owner?.name !== 'o') wrong.push('populate did not populate');
  for (const k of ['bin', 'at', 'ints', 'emb', 'meta']) if (p[k] === e[k]) wrong.push(`the copy's ${k} is the entity's`);
  p.ints.push(9); p.bin.buffer[0] = 0x5a; p.at.setTime(5); p.emb.s = 'via copy'; p.meta.a.push(2);
  const res = await saveOk(repo(Owned58), e);
  if (keysSent().length) wrong.push(`save() of the untouched entity ${res} sent ${JSON.stringify(keysSent())}`);
  t.deepEqual(wrong, []);
});

/** Every mutable value inside `value` (arrays, objects, Binaries, Dates, ObjectIds), changed in place; returns how many. */
function mutateAll(value: unknown): number {
  if (value instanceof Binary) { if (value.position > 0) value.buffer[0] ^= 0xff; return 1; }
  if (value instanceof Date) { value.setTime(value.getTime() + 1); return 1; }
  if (value instanceof ObjectId) { value.id = new Uint8Array(12).fill(7); return 1; }
  if (Array.isArray(value)) { let n = 1; for (const item of value) n += mutateAll(item); value.push('added'); return n; }
  if (value !== null && typeof value === 'object' && !('_bsontype' in value)) {
    let n = 1;
    for (const key of Object.keys(value)) n += mutateAll((value as Document)[key]);
    (value as Document).added = 'x';
    return n;
  }
  return 0;
}

const genKey = fc.constantFrom('a', 'b', 'c', 'list', 'when', 'blob', 'ref');
const genLeaf = fc.oneof(
  fc.string({ maxLength: 6 }), fc.integer({ min: -1000, max: 1000 }), fc.boolean(),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => new Binary(b)),
  fc.integer({ min: 0, max: 2 ** 40 }).map((ms) => new Date(ms)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
);
const genFree = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, genLeaf, tie('list'), tie('doc')),
  // No array directly in an array: FerretDB v1 refuses nested arrays.
  list: fc.array(fc.oneof({ depthSize: 'small' }, genLeaf, tie('doc')), { maxLength: 3 }),
  doc: fc.dictionary(genKey, tie('value'), { maxKeys: 3 }),
})).doc as fc.Arbitrary<Document>;
const genOwned = fc.record({
  bin: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => new Binary(b)),
  at: fc.integer({ min: 0, max: 2 ** 40 }).map((ms) => new Date(ms)),
  ints: fc.array(fc.integer({ min: -100, max: 100 }), { maxLength: 4 }),
  emb: fc.record({ s: fc.string({ maxLength: 5 }), blob: fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => new Binary(b)), at: fc.integer({ min: 0, max: 2 ** 40 }).map((ms) => new Date(ms)) }, { requiredKeys: [] }),
  meta: genFree,
}, { requiredKeys: [] });

test.serial('held (generated, after the fixes): 60 generated entities, populated and then every mutable value of the populated copy changed in place (Binaries, Dates, ObjectIds, arrays, embedded and free-form objects at every depth): save() of the entity sends nothing; and 60 generated documents inserted through a @BeforeInsert hook that keeps its instance, every value of the kept instance changed in place: save() of the returned entity sends nothing', async (t) => {
  const owner = await repo(Owner58).insertOne({ name: 'gen' });
  const wrong: string[] = [];
  let changed = 0;
  for (const doc of fc.sample(genOwned, { numRuns: 60, seed: 58 })) {
    const saved = await repo(Owned58).insertOne({ ...doc, owner: owner._id });
    const e = await repo(Owned58).findById(saved._id);
    const [p] = await repo(Owned58).populate([e], ['owner']);
    if (p.owner?.name !== 'gen') wrong.push(`${saved._id}: not populated`);
    for (const key of ['bin', 'at', 'ints', 'emb', 'meta']) changed += mutateAll(p[key]);
    const res = await saveOk(repo(Owned58), e);
    if (res !== 'ok' || keysSent().length) wrong.push(`populate ${saved._id}: save() of the untouched entity ${res} sent ${JSON.stringify(keysSent())}`);
  }
  for (const doc of fc.sample(genOwned, { numRuns: 60, seed: 580 })) {
    HOOKED.length = 0;
    const e = await repo(Hooked58).insertOne({ bin: doc.bin ?? new Binary(Buffer.from('b')), meta: doc.meta ?? {} });
    const kept = HOOKED[0];
    for (const key of ['_id', 'bin', 'meta']) changed += mutateAll(kept[key]);
    const res = await saveOk(repo(Hooked58), e);
    if (res !== 'ok' || keysSent().length) wrong.push(`hook ${e._id}: save() of the untouched entity ${res} sent ${JSON.stringify(keysSent())}`);
  }
  t.log(`${changed} values changed in place through populated copies and kept hook instances`);
  t.true(changed > 500);
  t.deepEqual(wrong.slice(0, 5), []);
});

// ---------------------------------------------------------------------------------------------
// B. what a stored document reads as

/** Reads one Plain58 document through every path. */
const READS: Array<[string, (r: AnyRepo, id: ObjectId) => Promise<any>]> = [
  ['findById', (r, id) => r.findById(id)],
  ['findOne', (r, id) => r.findOne({ _id: id })],
  ['find', async (r, id) => (await r.find({ _id: id }).toArray())[0]],
  ['findOneAndUpdate before', (r, id) => r.findOneAndUpdate({ _id: id }, { $set: { tag: 'touched' } }, { returnDocument: 'before' })],
  ['findOneAndUpdate after', (r, id) => r.findOneAndUpdate({ _id: id }, { $set: { tag: 'touched' } })],
  ['aggregate', async (r, id) => (await r.aggregate([{ $match: { _id: id } }]).toArray())[0]],
];
const ejson = (v: unknown): string => { try { return BSON.EJSON.stringify(v as Document, { relaxed: false }); } catch (err) { return `unserializable ${(err as Error).message}`; } };
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v !== 'object') return typeof v;
  return (v as { _bsontype?: string })._bsontype ?? (Array.isArray(v) ? 'array' : Object.getPrototypeOf(v)?.constructor?.name ?? 'null-proto');
}

/** Plants `meta` raw, checks every read path reads it alike, an unchanged save() sends nothing, and meta.note changed saves every other value of meta byte-identical. */
async function plantAndRewrite(t: { log: (...a: unknown[]) => void }, name: string, meta: Document): Promise<string[]> {
  const wrong: string[] = [];
  const id = new ObjectId();
  const ok = await coll('plain').insertOne({ _id: id, tag: name, n: new Int32(0), meta: { note: 'a', ...meta } } as Document).then(() => '', (err: unknown) => describe(err));
  if (ok) { t.log(`${name}: refused by the server, skipped: ${ok}`); return wrong; }
  const bytes = await storedBytes('plain', id);
  const r = repo(Plain58);
  const seen: Array<[string, string]> = [];
  for (const [how, read] of READS) {
    const e = await read(r, id).catch((err: unknown) => err);
    if (e instanceof Error) { wrong.push(`${name} ${how}: ${describe(e)}`); continue; }
    seen.push([how, Object.keys(meta).map((k) => `${k}:${kindOf(e.meta?.[k])}:${ejson({ v: e.meta?.[k] })}`).join(' ')]);
    if (how === 'aggregate') continue;
    const unchanged = await saveOk(r, e);
    if (unchanged !== 'ok' || updatesSent().length) wrong.push(`${name} ${how}: unchanged save ${unchanged} sent ${ejson(updatesSent())}`);
  }
  for (const [how, s] of seen) if (s !== seen[0][1]) wrong.push(`${name}: ${how} reads ${s}, ${seen[0][0]} reads ${seen[0][1]}`);
  // distinct of meta: the values as the driver returns them.
  const d = await r.distinct('meta', { _id: id }).catch((err: unknown) => err);
  if (d instanceof Error) t.log(`${name}: distinct meta: ${describe(d)}`);
  else {
    const s = Object.keys(meta).map((k) => `${k}:${kindOf(d[0]?.[k])}:${ejson({ v: d[0]?.[k] })}`).join(' ');
    if (s !== seen[0]?.[1]) wrong.push(`${name}: distinct reads ${s}, ${seen[0]?.[0]} reads ${seen[0]?.[1]}`);
  }
  // Read, change meta.note, save: every other value of meta must stay as stored.
  for (const [how, read] of READS.filter(([h]) => h !== 'aggregate')) {
    await coll('plain').replaceOne({ _id: id }, BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false, bsonRegExp: true, fieldsAsRaw: Object.create(null) } as never));
    const before = exact(await storedBytes('plain', id));
    const e = await read(r, id).catch((err: unknown) => err);
    if (e instanceof Error) continue;
    e.meta.note = 'b';
    const res = await saveOk(r, e);
    if (res !== 'ok') { t.log(`${name} ${how}: save of meta.note refused: ${res}`); continue; }
    const after = exact(await storedBytes('plain', id));
    const top = changedKeys(before, after, ['meta', 'tag']);
    if (top.length) wrong.push(`${name} ${how}: save of meta.note changed stored ${top.join(', ')}`);
    const inner = changedKeys(before.meta, after.meta, ['note']);
    if (inner.length) wrong.push(`${name} ${how}: save of meta.note rewrote meta.${inner.join(', meta.')}: stored ${inner.map((k) => `${ejson({ v: before.meta[k] })} -> ${ejson({ v: after.meta[k] })}`).join('; ')}`);
  }
  return wrong;
}

test.serial.failing('open bug (a known failure until fixed; docs/models.md, "Known bug (open)"): a free-form object (plain `object`, untyped `array`, Random `object`) written through Strongbox with a Long and a Double, read and saved after a change to one other key, is stored with an int32 where the Long and the Double were: values the application never touched change BSON type', async (t) => {
  // What is wrong: every read path deserializes with js-bson's promoteLongs/promoteValues (find, findById,
  // findOne: src/repository/reader.ts:308 `BSON.deserialize(new Uint8Array(bytes))`; findOneAnd*: the
  // driver's defaults, and src/repository/repository.ts:1062 `BSON.serialize(doc)` as the snapshot;
  // a Random value's plaintext likewise), so inside a value with no declared type below it an int64 7
  // reads as the number 7 and a double 2.0 as the number 2. save() compares such a field whole
  // (src/repository/entity/changes.ts:35-36, sameValue) and, when anything in it changed, sends
  // `$set: { meta: <the entity's value> }`, which BSON writes as int32 7 and int32 2 (a Long above
  // 2^31 as a double). The insert wrote them as int64 and double, as docs/entities.md promises ("a
  // `Double` holding 2, a `Long` ... what is stored is byte for byte what the driver would have written");
  // docs/models.md: "A read returns each type as one JavaScript type, so a loaded entity written back
  // stores exactly what was read." Queries on the type ($type: 'long'), sums that must not overflow
  // int32, and other readers of the collection see the silent change.
  // Reproduction: e = await repo.insertOne({ meta: { note: 'a', count: Long.fromNumber(7), ratio: new Double(2) } });
  // stored meta.count is int64, meta.ratio double. e2 = await repo.findById(e._id); e2.meta.note = 'b';
  // await repo.save(e2) -> stored meta.count is int32 7, meta.ratio int32 2. The same for an untyped array
  // (arr: [Long(7), Double(2), 'x'], arr.push) and inside a Random-encrypted object (the re-encrypted plaintext).
  const wrong: string[] = [];
  const typesOf = (doc: Document, keys: string[]): string => keys.map((k) => `${k}:${kindOf(doc?.[k])}`).join(' ');
  for (const [how, read] of READS.filter(([h]) => h !== 'aggregate')) {
    // A plain free-form object and an untyped array.
    const r = repo(Plain58);
    const e = await r.insertOne({ tag: 'ff', meta: { note: 'a', count: Long.fromNumber(7), ratio: new Double(2), big: Long.fromNumber(2 ** 40) }, arr: [Long.fromNumber(7), new Double(2), 'x'] });
    const first = exact(await storedBytes('plain', e._id));
    const want = 'count:Long ratio:Double big:Long';
    if (typesOf(first.meta, ['count', 'ratio', 'big']) !== want) { wrong.push(`insertOne stored ${typesOf(first.meta, ['count', 'ratio', 'big'])}`); continue; }
    const loaded = await read(r, e._id);
    loaded.meta.note = 'b';
    loaded.arr.push('y');
    const res = await saveOk(r, loaded);
    const after = exact(await storedBytes('plain', e._id));
    if (res !== 'ok') wrong.push(`${how}: save ${res}`);
    if (typesOf(after.meta, ['count', 'ratio', 'big']) !== want) wrong.push(`${how}: after meta.note = 'b' and save(), stored meta holds ${typesOf(after.meta, ['count', 'ratio', 'big'])} (was ${want})`);
    if (typesOf(after.arr, ['0', '1']) !== 'Long Double'.replace(/^(\w+) (\w+)$/, '0:$1 1:$2')) wrong.push(`${how}: after arr.push and save(), stored arr holds ${typesOf(after.arr, ['0', '1'])} (was 0:Long 1:Double)`);
  }
  // A Random-encrypted free-form object: the plaintext inside the ciphertext.
  const sr = repo(Sec58);
  const s = await sr.insertOne({ tag: 'robj', robj: { note: 'a', count: Long.fromNumber(7), ratio: new Double(2) } });
  const plaintextTypes = async (): Promise<string> => {
    const { bytes } = open(exact(await storedBytes('sec', s._id)).robj as Binary);
    return typesOf(BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false } as never), ['count', 'ratio']);
  };
  const was = await plaintextTypes();
  const loaded = await sr.findById(s._id);
  loaded.robj.note = 'b';
  await saveOk(sr, loaded);
  const now = await plaintextTypes();
  if (was !== 'count:Long ratio:Double') wrong.push(`Random robj: insertOne encrypted ${was}`);
  if (now !== was) wrong.push(`Random robj: after robj.note = 'b' and save(), the re-encrypted plaintext holds ${now} (was ${was})`);
  t.deepEqual(wrong, []);
});

test.serial.failing('open bug (a known failure until fixed; docs/models.md, "Known bug (open)"): a stored free-form object (planted raw) read through each path and saved after a change to one of its keys keeps none of its other values\' types: int64 -> int32 or double, integral double -> int32, a regex\'s x flag dropped; an int64 beyond 2^53 is kept', async (t) => {
  // Same cause as the test above (reader.ts:308, repository.ts:1062, changes.ts:35-36): the values are
  // read promoted (a regex as a JavaScript RegExp, which has no x, l or u flag: js-bson drops them) and
  // written back whole. Reproduction: raw insert { meta: { note: 'a', v: new BSONRegExp('a b', 'x') } };
  // e = findById; e.meta.note = 'b'; save(e) -> stored meta.v is /a b/ without x (another pattern's meaning).
  const wrong: string[] = [];
  const cases: Array<[string, Document]> = [
    ['int64 small', { v: Long.fromNumber(7) }],
    ['int64 above int32', { v: Long.fromNumber(2 ** 40) }],
    ['int64 beyond 2^53', { v: Long.fromString('9007199254740993') }],
    ['double integral', { v: new Double(2) }],
    ['regex x flag', { v: new BSONRegExp('a b', 'x') }],
    ['regex s flag', { v: new BSONRegExp('a.b', 's') }],
    ['in an array', { v: [Long.fromNumber(7), new Double(3)] }],
  ];
  for (const [name, meta] of cases) {
    const found = await plantAndRewrite(t, name, meta);
    // One line per case: the first path's message, and how many paths did the same.
    if (found.length) wrong.push(`${found[0]} (and ${found.length - 1} more paths)`);
  }
  t.deepEqual(wrong, []);
});

test.serial('held: DBRef-shaped documents, Code with scope, MinKey, MaxKey (skipped: FerretDB refuses them), keys named after Object.prototype members (arrays and documents under them, at depth) and nesting 90 levels deep inside a free-form object read alike through findById, findOne, find, findOneAndUpdate, aggregate and distinct, an unchanged save() sends nothing, and a save() of a sibling change keeps them byte-identical', async (t) => {
  const wrong: string[] = [];
  let deep: Document = { leaf: new Int32(1) };
  for (let i = 0; i < 90; i++) deep = { d: deep };
  const hostile = (inner: unknown): Document => ({ toString: [inner], constructor: { valueOf: [inner] }, hasOwnProperty: inner, valueOf: [{ toString: [1] }] });
  const cases: Array<[string, Document]> = [
    // FerretDB v1 refuses keys starting with '$' (so no stored DBRef-shaped document, which js-bson would read as a DBRef) and closes the connection on Code, MinKey, MaxKey, Symbol: logged as skips.
    ['dbref in order', { link: { $ref: 'c', $id: new Int32(1) } }],
    ['dbref $id first', { link: { $id: new Int32(1), $ref: 'c' } }],
    ['dbref $db null', { link: { $ref: 'c', $id: new Int32(1), $db: null } }],
    ['code with scope', { v: new Code('f()', { a: new Int32(1) }) }],
    ['minkey maxkey', { v: new MinKey(), w: new MaxKey() }],
    ['hostile keys', { h: hostile(hostile({ k: new Int32(1) })) }],
    ['deep', { deep }],
  ];
  for (const [name, meta] of cases) wrong.push(...await plantAndRewrite(t, name, meta));
  t.deepEqual(wrong, []);
});

test.serial.failing('open bug (a known failure until fixed; docs/models.md, "Known bug (open)"): a Map inside a free-form object, written through Strongbox with a number-like key after another ({ b, "1" }, stored in that order), is stored with its keys reordered ("1" first) by a save() that changed only a sibling key', async (t) => {
  // What is wrong: a Map in a free-form value is written "its entries in their order" (docs/entities.md),
  // and so stored; every read deserializes it into a JavaScript object (src/repository/reader.ts:308),
  // which puts integer-like keys first, and save() sends the free-form field whole when anything in it
  // changed (src/repository/entity/changes.ts:35-36): the stored { b, 1 } becomes { 1, b }. MongoDB
  // compares embedded documents by key order, so a filter { 'meta.inner': { b: 1, '1': 2 } } written the
  // way the application wrote the Map stops matching (and a unique index on it no longer sees a duplicate).
  // Reproduction: insertOne({ meta: { note: 'a', inner: new Map([['b', 1], ['1', 2]]) } }); e = findById;
  // e.meta.note = 'x'; save(e) -> the stored meta.inner's keys are 1, b.
  const r = repo(Plain58);
  const e = await r.insertOne({ tag: 'order', meta: { note: 'a', inner: new Map<string, unknown>([['b', new Int32(1)], ['1', new Int32(2)]]) } });
  /** The key order of the stored meta.inner, read from the bytes (a JavaScript object would reorder it). */
  const order = async (): Promise<string> => {
    const bytes = Buffer.from(await storedBytes('plain', e._id));
    // Int32 elements (type 0x10) named b and 1.
    return [['b', bytes.indexOf(Buffer.from([0x10, 0x62, 0]))], ['1', bytes.indexOf(Buffer.from([0x10, 0x31, 0]))]].filter(([, i]) => (i as number) >= 0).sort((x, y) => (x[1] as number) - (y[1] as number)).map(([k]) => k).join(',');
  };
  t.is(await order(), 'b,1', 'the insert stored the Map\'s order');
  const matches = async (): Promise<number> => coll('plain').countDocuments({ _id: e._id, 'meta.inner': new Map<string, unknown>([['b', new Int32(1)], ['1', new Int32(2)]]) } as Document);
  const before = await matches();
  const loaded = await r.findById(e._id);
  loaded.meta.note = 'x';
  t.is(await saveOk(r, loaded), 'ok');
  const now = await order();
  t.log(`stored key order after save(): ${now}; an exact-match filter on meta.inner as written matched ${before} before, ${await matches()} after`);
  t.is(now, 'b,1');
});

test.serial('held: declared fields holding another stored type (planted raw: an int field holding an int64, a double 2.5 or a string; a long field an int32 or a double 7.0; a date field an int64; an objectId field a string; a binData field a string) read the same through findById, findOne, find, findOneAndUpdate and distinct (or are refused alike), an unchanged save() sends nothing, and a save() of another field leaves them byte-identical', async (t) => {
  const wrong: string[] = [];
  const cases: Array<[string, string, unknown]> = [
    ['int as int64', 'n', Long.fromNumber(7)], ['int as double 2.5', 'n', new Double(2.5)], ['int as string', 'n', '7'],
    ['long as int32', 'l', new Int32(7)], ['long as double 7.0', 'l', new Double(7)], ['long as int64 beyond 2^53', 'l', Long.fromString('9007199254740993')],
    ['date as int64', 'at', Long.fromNumber(1000)], ['objectId as string', 'ref', '5f0000000000000000000058'], ['binData as string', 'bin', 'clear'],
    ['ints holding an int64 and a double', 'ints', [Long.fromNumber(1), new Double(2)]],
  ];
  const r = repo(Plain58);
  for (const [name, key, value] of cases) {
    const id = new ObjectId();
    await coll('plain').insertOne({ _id: id, tag: name, [key]: value } as Document);
    const seen: Array<[string, string]> = [];
    for (const [how, read] of [...READS.filter(([h]) => h !== 'aggregate'), ['distinct', async (rr: AnyRepo, i: ObjectId) => ({ [key]: key === 'ints' ? await rr.distinct(key, { _id: i }) : (await rr.distinct(key, { _id: i }))[0] })] as [string, (r: AnyRepo, id: ObjectId) => Promise<any>]]) {
      const e = await read(r, id).catch((err: unknown) => err);
      seen.push([how, e instanceof Error ? `refused ${(e as { code?: string }).code}` : `${kindOf(e?.[key])}:${ejson({ v: e?.[key] })}`]);
      if (e instanceof Error || how === 'distinct') continue;
      const unchanged = await saveOk(r, e);
      if (unchanged !== 'ok' || updatesSent().length) wrong.push(`${name} ${how}: unchanged save ${unchanged} sent ${ejson(updatesSent())}`);
    }
    // distinct lists array elements one by one: compared only where the field is no array.
    for (const [how, s] of seen) if (s !== seen[0][1] && !(how === 'distinct' && key === 'ints')) wrong.push(`${name}: ${how} reads ${s}, ${seen[0][0]} reads ${seen[0][1]}`);
    const before = exact(await storedBytes('plain', id));
    const e = await r.findById(id).catch((err: unknown) => err);
    if (e instanceof Error) continue;
    e.tag = 'changed';
    const res = await saveOk(r, e);
    const changed = changedKeys(before, exact(await storedBytes('plain', id)), ['tag']);
    if (changed.length) wrong.push(`${name}: save() of tag (${res}) changed stored ${changed.join(', ')}`);
    t.log(`${name}: ${seen.map(([h, s]) => `${h} ${s}`).join(' | ')}; save of tag: ${res}`);
  }
  t.deepEqual(wrong, []);
});

test.serial('fixed: the instance a @BeforeInsert hook ran on (kept by the hook) shares no Binary or free-form object with the entity insertOne returns: a later change through the kept instance is not sent by save() of the untouched entity (it was)', async (t) => {
  // What is wrong: prepareNew (src/repository/entity/lifecycle.ts:20-22) runs the hooks on
  // Object.assign(Object.create(proto), doc) and takes back writtenValues(model, entity), a shallow
  // copy: the values the hook left alone are the very objects on the hook's `this`. insertOne's
  // prepareNewDocument (src/repository/repository.ts:664-675) copies again only the fields the hook
  // changed (`handed`), and the returned entity is hydrate(plain) of those values. So an instance of the
  // model handed to application code (a hook that keeps `this`: an outbox, an audit queue, a debounce)
  // shares mutable memory with the tracked entity, and a change through it is saved with the entity.
  // Minor (needs a hook that keeps `this`), but it is the aliasing this round looks for.
  // Reproduction: @BeforeInsert() keep() { KEPT.push(this) }; e = await repo.insertOne({ bin: new Binary(...),
  // meta: { list: [1] } }); KEPT[0].bin.buffer[0] = 0x5a; KEPT[0].meta.list.push(2); await repo.save(e) -> $set bin, meta.
  HOOKED.length = 0;
  const r = repo(Hooked58);
  const e = await r.insertOne({ tag: 'h', bin: new Binary(Buffer.from('hook')), meta: { list: [1] } });
  const kept = HOOKED[0];
  t.truthy(kept);
  const shared = ['bin', 'meta'].filter((k) => kept?.[k] === e[k]);
  kept.bin.buffer[0] = 0x5a;
  kept.meta.list.push(2);
  const res = await saveOk(r, e);
  t.log(`shared with the hook's instance: ${JSON.stringify(shared)}; save of the untouched entity ${res} sent ${JSON.stringify(keysSent())}`);
  t.deepEqual(keysSent(), []);
  t.deepEqual(shared, []);
});

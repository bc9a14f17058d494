/**
 * Round 53 (brief adv53, on c6bd64a): the offset-based in-process AEAD reader (aead.ts
 * decryptMany over AeadSealed {bytes, associatedBytes}), latin1 HMAC digests (hmac.ts), the key-id
 * hex table and string fast path of valueCipher.ts (sealedKeyHex, decryptValues, valueOf), and
 * engine.ts decryptDocuments trying in process before libmongocrypt. Stored values are crafted
 * with the raw driver and, where they must authenticate, sealed here with the data key unwrapped
 * from the key vault (the specification's AEAD); the driver's ClientEncryption.decrypt
 * (libmongocrypt + js-bson) is the reference for what a value reads as. FINDING-1 (fails on c6bd64a):
 * valueCipher.ts valueOf deserializes { v: plaintext } and takes `v`: a plaintext holding a second
 * element named "v" after the value reads as that element (js-bson keeps the last duplicate key),
 * while libmongocrypt (_mongocrypt_buffer_to_bson_value: wrapper key "", first match) reads the first.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Binary, ObjectId, type ClientEncryption, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import { Encrypted, Field, Id, Model, StrongboxError, UndecryptableValue, type StrongboxClient } from '../../src/index';
import { describe, localKeyClient, uniq, unwrapLocalKey } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY = 'a53-main';
const KEY2 = 'a53-second';

@Model({ db: DB, collection: 'vals', keyAltName: KEY })
class Val {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) name!: string;
  @Field({ bsonType: 'int', optional: true }) k?: number;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) s?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: KEY2, optional: true }) s2?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', optional: true }) i?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId', optional: true }) o?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', optional: true }) b?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) rs?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'int', optional: true }) ri?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'double', optional: true }) rd?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'object', optional: true }) robj?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'array', optional: true }) rarr?: any;
}

const MODELS = [Val];
let client: StrongboxClient;
let raw: MongoClient;
let masterKey: Buffer;
const started: CommandStartedEvent[] = [];
const warnings: string[] = [];
const KEY_VAULT = `sb_keys_a53_${randomBytes(3).toString('hex')}.__keyVault`;

test.before(async () => {
  masterKey = randomBytes(96);
  raw = await rawClient();
  client = await localKeyClient(MODELS, masterKey, KEY_VAULT, { warn: (m: string) => warnings.push(m) });
  client.dataClient.on('commandStarted', (e) => started.push(e));
  // Both keys exist and are cached: one write under each.
  await repo().insertOne({ name: uniq('init'), s: 'init', s2: 'init', i: 1, rs: 'x', ri: 2, rd: 1.5, robj: { a: 1 }, rarr: [1], o: new ObjectId(), b: Buffer.from('q') });
  const keys = await dataKeysOf();
  keyA = keys.find((k) => k.altNames.includes(KEY))!;
  keyB = keys.find((k) => k.altNames.includes(KEY2))!;
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await raw?.db(KEY_VAULT.split('.')[0]).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close()]);
});

const repo = (options: Document = {}) => client.repository(Val as never, options as never) as unknown as Record<string, (...a: any[]) => any>;
const coll = () => raw.db(DB).collection('vals');
const enc = (): ClientEncryption => client.encryption;
const engine = () => (client as unknown as { engine: { decryptDocuments(d: Document[]): Promise<{ docs: Document[]; failures: Map<number, Array<{ path: string; detail?: string }>> }>; decryptValue(v: Binary, p?: string): Promise<unknown> } }).engine;

// ---------------------------------------------------------------- the specification's cipher, here

interface DataKey { id: Buffer; altNames: string[]; key: Buffer }
let keyA: DataKey;
let keyB: DataKey;

async function dataKeysOf(): Promise<DataKey[]> {
  const [vdb, vcoll] = KEY_VAULT.split('.');
  const docs = await raw.db(vdb).collection(vcoll).find({}).toArray();
  return docs.map((d) => ({ id: Buffer.from((d._id as unknown as Binary).buffer), altNames: (d.keyAltNames ?? []) as string[], key: unwrapLocalKey(masterKey, Buffer.from((d.keyMaterial as Binary).buffer)) }));
}

const AL = (() => { const b = Buffer.alloc(8); b.writeUInt32BE(18 * 8, 4); return b; })();

/**
 * A stored value sealed as libmongocrypt would (AD = algorithm ‖ key id ‖ type), with the tag
 * correct; `padded` (already a multiple of 16) replaces PKCS#7 padding when given.
 */
function seal(k: DataKey, algorithm: number, type: number, plaintext: Buffer, opts: { padded?: Buffer; id?: Buffer } = {}): Binary {
  const ad = Buffer.concat([Buffer.from([algorithm]), opts.id ?? k.id, Buffer.from([type])]);
  const iv = algorithm === 1
    ? createHmac('sha512', k.key.subarray(64, 96)).update(ad).update(AL).update(plaintext).digest().subarray(0, 16)
    : randomBytes(16);
  const c = createCipheriv('aes-256-cbc', k.key.subarray(32, 64), iv);
  let s: Buffer;
  if (opts.padded) { c.setAutoPadding(false); s = Buffer.concat([c.update(opts.padded), c.final()]); } else s = Buffer.concat([c.update(plaintext), c.final()]);
  const tag = createHmac('sha512', k.key.subarray(0, 32)).update(ad).update(iv).update(s).update(AL).digest().subarray(0, 32);
  return new Binary(Buffer.concat([ad, iv, s, tag]), 6);
}

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const bsonString = (bytes: Buffer, lengthDelta = 0, terminator = true) => Buffer.concat([int32(bytes.length + 1 + lengthDelta), bytes, terminator ? Buffer.from([0]) : Buffer.alloc(0)]);

type Outcome = { value: unknown } | { refused: string };
const settle = (p: Promise<unknown>): Promise<Outcome> => p.then((value) => ({ value }), (e: unknown) => ({ refused: describe(e) }));
const same = (a: Outcome, b: Outcome) => ('refused' in a) === ('refused' in b) && ('refused' in a || inspect((a as { value: unknown }).value, { depth: 9 }) === inspect((b as { value: unknown }).value, { depth: 9 }));
const show = (o: Outcome) => ('refused' in o ? `refused (${o.refused.slice(0, 70)})` : `value ${inspect(o.value).slice(0, 70)}`);

// ---------------------------------------------------------------- 1. crafted stored values

test.serial('held: subtype-6 values of every length 0–200 with algorithm byte 1/2 (or any other byte), the right or another key id, any type byte, random bodies, and values exactly header+IV+tag, never read back as a value: find/findOne/findById/cursor batches/aggregate give an UndecryptableValue (marker) or a DecryptionError naming the field; the other fields still read; decryptDocuments attributes each to its path', async (t) => {
  const name = uniq('len');
  const secret = 'LEN-SECRET-0123456789';
  const goodRs = 'rs-stays-readable';
  const lengths = [...Array(201).keys()];
  const blobs = fc.sample(fc.tuple(
    fc.constantFrom(...lengths),
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    fc.constantFrom('A', 'B', 'rand'),
    fc.constantFrom(0x02, 0x10, 0x07, 0x05, 0x03, 0x04, 0x01, 0x00, 0xff),
  ), { numRuns: 300, seed: 5301 }).map(([len, algo, who, type]) => {
    const bytes = randomBytes(len);
    if (len > 0) bytes[0] = algo;
    if (len >= 17) (who === 'A' ? keyA.id : who === 'B' ? keyB.id : randomBytes(16)).copy(bytes, 1);
    if (len >= 18) bytes[17] = type;
    return new Binary(bytes, 6);
  });
  // Every length once in s (Deterministic string), with the right key id and type.
  for (const len of lengths) {
    const bytes = randomBytes(len);
    if (len > 0) bytes[0] = 1;
    if (len >= 17) keyA.id.copy(bytes, 1);
    if (len >= 18) bytes[17] = 2;
    blobs.push(new Binary(bytes, 6));
  }
  const docs = blobs.map((blob, k) => ({ _id: new ObjectId(), name, k, s: blob, rs: undefined as unknown }));
  const goodRsCipher = await repo().insertOne({ name: uniq('tmp'), rs: goodRs }).then((d: Document) => coll().findOne({ _id: d._id }).then((x) => x!.rs));
  for (const d of docs) d.rs = goodRsCipher;
  await coll().insertMany(docs);
  const wrong: string[] = [];
  const marker = repo({ onUndecryptable: 'marker' });
  const batches: Document[] = [];
  const cursor = marker.find({ name }, { batchSize: 37, sort: { k: 1 } });
  for await (const d of cursor) batches.push(d);
  const agg = await marker.aggregate([{ $match: { name } }, { $sort: { k: 1 } }]).toArray();
  for (const [what, got] of [['find', batches], ['aggregate', agg]] as const) {
    if (got.length !== docs.length) wrong.push(`${what}: ${got.length} documents`);
    for (const d of got) {
      if (!(d.s instanceof UndecryptableValue)) wrong.push(`${what} k=${d.k}: s read as ${inspect(d.s).slice(0, 60)}`);
      else if (!inspect(d.s, { depth: 5 }).includes('s')) wrong.push(`${what} k=${d.k}: marker does not name the field`);
      if (d.rs !== goodRs) wrong.push(`${what} k=${d.k}: rs read as ${inspect(d.rs).slice(0, 40)}`);
    }
  }
  for (const d of docs.filter((_, i) => i % 25 === 0)) {
    const one = await marker.findById(d._id);
    if (!(one?.s instanceof UndecryptableValue) || one.rs !== goodRs) wrong.push(`findById k=${d.k}: ${inspect(one).slice(0, 80)}`);
    const thrown = await repo().findOne({ _id: d._id }).then(() => undefined, (e: unknown) => e);
    if (!(thrown instanceof StrongboxError) || !/DECRYPT_/.test(thrown.code) || !/\bs\b/.test(thrown.message)) wrong.push(`findOne throw k=${d.k}: ${describe(thrown)}`);
  }
  const direct = await engine().decryptDocuments(docs.map(({ _id, k, s, rs }) => ({ _id, k, nest: { arr: [s] }, rs })));
  docs.forEach((d, i) => {
    const out = direct.docs[i];
    if (out.rs !== goodRs) wrong.push(`decryptDocuments ${i}: rs ${inspect(out.rs).slice(0, 40)}`);
    if (!(out.nest.arr[0] instanceof Binary)) wrong.push(`decryptDocuments ${i} (len ${d.s.length()}): read as ${inspect(out.nest.arr[0]).slice(0, 60)}`);
    // libmongocrypt's document decryption leaves values of no known blob subtype in place without an error; any failure names nest.arr.0 only.
    const f = direct.failures.get(i) ?? [];
    if (f.some((x) => x.path !== 'nest.arr.0')) wrong.push(`decryptDocuments ${i}: failures ${inspect(f).slice(0, 80)}`);
    const b0 = d.s.buffer[0];
    if (d.s.length() >= 66 && (b0 === 1 || b0 === 2) && f.length !== 1) wrong.push(`decryptDocuments ${i}: a Deterministic/Random value that does not open is not attributed`);
  });
  t.false(inspect(direct, { depth: 9 }).includes(secret));
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

test.serial('held: authenticated (correct tag) values with invalid PKCS#7 padding (0, 17, 255, inconsistent bytes, no padding block) read exactly as ClientEncryption.decrypt reads them (libmongocrypt checks only the last padding byte: inconsistent padding it accepts, and Strongbox, refusing in process, falls back to it); tag bits flipped, byte 17 relabelled (string → int32/objectId/binData/document), key-id bytes replaced by the other key\'s id, and the same values under the other key never read back as a value; the plaintext shows in no error, warning or command', async (t) => {
  const secret = 'PAD-SECRET-abcdefghijk';
  const p = bsonString(Buffer.from(secret));
  const cases: Array<[string, string, Binary]> = [];
  const pad = (body: Buffer, bytes: number[]) => Buffer.concat([body, Buffer.from(bytes)]);
  // p is 27 bytes: 5 of padding make 32.
  for (const [what, tail] of [['0', [0, 0, 0, 0, 0]], ['17', [17, 17, 17, 17, 17]], ['255', [255, 255, 255, 255, 255]], ['inconsistent', [5, 5, 4, 5, 5]], ['short-claim', [9, 9, 9, 9, 5]], ['claims 16', [16, 16, 16, 16, 16]]] as const) {
    for (const algo of [1, 2]) cases.push([algo === 1 ? 's' : 'rs', `padding ${what} algo ${algo}`, seal(keyA, algo, 2, p, { padded: pad(p, [...tail]) })]);
  }
  const full = Buffer.concat([p, Buffer.alloc(5, 0)]); // 32 bytes: a whole block of padding needed, none given
  cases.push(['s', 'no padding block', seal(keyA, 1, 2, full, { padded: full })]);
  const good = seal(keyA, 1, 2, p);
  for (const bit of fc.sample(fc.integer({ min: 0, max: 32 * 8 - 1 }), { numRuns: 24, seed: 5302 })) {
    const b = Buffer.from(good.buffer); b[b.length - 32 + (bit >> 3)] ^= 1 << (bit & 7); cases.push(['s', `tag bit ${bit}`, new Binary(b, 6)]);
  }
  for (const type of [0x10, 0x07, 0x05, 0x03, 0x04, 0x12, 0x0d, 0x0e]) {
    const b = Buffer.from(good.buffer); b[17] = type; cases.push(['s', `type ${type}`, new Binary(b, 6)]);
    const i = Buffer.from(good.buffer); i[17] = type; cases.push(['i', `int field, type ${type}`, new Binary(i, 6)]);
  }
  const rekeyed = Buffer.from(good.buffer); keyB.id.copy(rekeyed, 1);
  cases.push(['s', 'key id of B', new Binary(rekeyed, 6)], ['s2', 'key id of B in s2', new Binary(rekeyed, 6)]);
  cases.push(['s2', 'sealed under A, labelled B', seal(keyA, 1, 2, p, { id: keyB.id })], ['s', 'sealed under B, labelled A', seal(keyB, 1, 2, p, { id: keyA.id })]);
  const name = uniq('pad');
  const marker = repo({ onUndecryptable: 'marker' });
  const wrong: string[] = [];
  const commandsBefore = started.length;
  const padWrong = await compareWithLibmongocrypt(cases.filter(([, what]) => what.startsWith('padding') || what === 'no padding block').map(([, what, blob]) => [what, blob]));
  wrong.push(...padWrong);
  for (const [f, what, blob] of cases.filter(([, what]) => !what.startsWith('padding'))) {
    const _id = new ObjectId();
    await coll().insertOne({ _id, name, [f]: blob, rd: seal(keyA, 2, 1, Buffer.from(new Float64Array([2.5]).buffer)) });
    const got = await marker.findOne({ _id });
    if (!(got?.[f] instanceof UndecryptableValue)) wrong.push(`${what}: read as ${inspect(got?.[f]).slice(0, 60)}`);
    if (got?.rd !== 2.5) wrong.push(`${what}: rd read as ${inspect(got?.rd)}`);
    const thrown = await repo().findById(_id).then(() => undefined, (e: unknown) => e);
    if (!(thrown instanceof StrongboxError) || !(thrown.message.includes(`"${f}"`) || thrown.message.includes(f))) wrong.push(`${what}: ${describe(thrown)}`);
    if (inspect(thrown, { depth: 9 }).includes(secret)) wrong.push(`${what}: plaintext in the error`);
    const direct = await settle(engine().decryptValue(blob, f));
    if (!('refused' in direct)) wrong.push(`${what}: decryptValue gave ${show(direct)}`);
    else if (direct.refused.includes(secret)) wrong.push(`${what}: plaintext in decryptValue's error`);
  }
  const sentText = started.slice(commandsBefore).map((e) => Buffer.from(JSON.stringify(e.command)).toString('latin1')).join('\n');
  t.false(sentText.includes(secret) || warnings.join('\n').includes(secret));
  t.true(cases.length > 40);
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

test.serial('held: FLE2 and other blob subtypes (byte 0 = 0, 3–20, 255) and subtype-6 values shorter than 17 bytes read as no value; decryptDocuments attributes them and decrypts the rest of the batch', async (t) => {
  const wrong: string[] = [];
  const valid = seal(keyA, 2, 2, bsonString(Buffer.from('keep-me')));
  const odd: Binary[] = [];
  for (const b0 of [0, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 255]) {
    const bytes = Buffer.from(seal(keyA, 2, 2, bsonString(Buffer.from('FLE2-SECRET'))).buffer); bytes[0] = b0; odd.push(new Binary(bytes, 6));
  }
  for (let len = 0; len < 17; len++) odd.push(new Binary(Buffer.alloc(len, 2), 6));
  const r = await engine().decryptDocuments(odd.map((x) => ({ a: x, b: [valid, { c: valid }] })));
  r.docs.forEach((d, i) => {
    if (!(d.a instanceof Binary)) wrong.push(`${i}: read as ${inspect(d.a).slice(0, 60)}`);
    if (d.b[0] !== 'keep-me' || d.b[1].c !== 'keep-me') wrong.push(`${i}: rest ${inspect(d.b)}`);
    // libmongocrypt leaves some such values in place without an error (as the driver's auto-decryption does); any failure names "a" only.
    for (const f of r.failures.get(i) ?? []) if (f.path !== 'a') wrong.push(`${i}: failure at ${f.path}`);
  });
  t.false(inspect(r, { depth: 9 }).includes('FLE2-SECRET'));
  const name = uniq('fle2');
  await coll().insertMany(odd.map((x) => ({ name, s: x, rs: valid })));
  const got = await repo({ onUndecryptable: 'marker' }).find({ name }).toArray();
  for (const d of got) if (!(d.s instanceof UndecryptableValue) || d.rs !== 'keep-me') wrong.push(`find: ${inspect(d).slice(0, 90)}`);
  t.deepEqual(wrong.slice(0, 15), [], wrong.slice(0, 15).join('\n'));
});

// ---------------------------------------------------------------- 2. authenticated, malformed plaintexts

/** Plaintexts for a string (type 2) value: well-formed and malformed BSON strings. */
function stringPlaintexts(): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const s of fc.sample(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 12 })), { numRuns: 30, seed: 5303 })) out.push([`valid ${JSON.stringify(s)}`, bsonString(Buffer.from(s))]);
  out.push(['empty', bsonString(Buffer.alloc(0))], ['NUL inside', bsonString(Buffer.from('a\u0000b'))], ['BOM', bsonString(Buffer.from('\ufeffbom'))], ['BOM only', bsonString(Buffer.from([0xef, 0xbb, 0xbf]))]);
  const bodies: Array<[string, Buffer]> = [
    ['ascii', Buffer.from('MALFORMED-SECRET')], ['0xff', Buffer.from([0x61, 0xff, 0x62])], ['overlong NUL', Buffer.from([0xc0, 0x80])],
    ['CESU surrogate pair', Buffer.from([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80])], ['lone surrogate', Buffer.from([0xed, 0xb0, 0x80])], ['truncated 3-byte', Buffer.from([0x61, 0xe2, 0x82])],
    ['U+FFFD literal', Buffer.from('x\ufffdy')], ['above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])], ['long invalid', Buffer.concat([Buffer.alloc(40, 0x61), Buffer.from([0xff])])],
  ];
  for (const [what, body] of bodies) {
    out.push([`${what}`, bsonString(body)]);
    for (const delta of [-1, 1, -2, 3, -100, 1000]) out.push([`${what} length ${delta > 0 ? '+' : ''}${delta}`, bsonString(body, delta)]);
    out.push([`${what} no terminator`, bsonString(body, 0, false)], [`${what} length counts no terminator`, bsonString(body, -1, false)]);
    out.push([`${what} extra trailing 0`, Buffer.concat([bsonString(body), Buffer.from([0])])]);
    out.push([`${what} negative length`, Buffer.concat([int32(-1), body, Buffer.from([0])])]);
  }
  out.push(['4 bytes', int32(0)], ['length only', int32(1)], ['nothing', Buffer.alloc(0)], ['one 0', Buffer.from([0])]);
  return out;
}

/** Plaintexts for other types, of the right and wrong lengths. */
function otherPlaintexts(): Array<[string, number, Buffer]> {
  const out: Array<[string, number, Buffer]> = [];
  for (let n = 0; n <= 9; n++) out.push([`int32 of ${n} bytes`, 0x10, Buffer.alloc(n, 0x11)], [`double of ${n} bytes`, 0x01, Buffer.alloc(n, 0x3f)], [`long of ${n} bytes`, 0x12, Buffer.alloc(n, 0x01)]);
  for (const n of [0, 11, 12, 13]) out.push([`objectId of ${n}`, 0x07, Buffer.alloc(n, 0x42)]);
  for (const v of [0, 1, 2, 255]) out.push([`bool ${v}`, 0x08, Buffer.from([v])]);
  for (const [what, bytes] of [['binData ok', [3, 0, 0, 0, 0, 1, 2, 3]], ['binData long claim', [9, 0, 0, 0, 0, 1, 2, 3]], ['binData short claim', [1, 0, 0, 0, 0, 1, 2, 3]], ['binData negative', [255, 255, 255, 255, 0]], ['binData subtype 2 bad inner', [8, 0, 0, 0, 2, 9, 0, 0, 0, 1, 2, 3, 4]]] as const) out.push([what, 0x05, Buffer.from([...bytes])]);
  for (const [what, type, bytes] of [['document ok', 0x03, [5, 0, 0, 0, 0]], ['document bad length', 0x03, [9, 0, 0, 0, 0]], ['document no end', 0x03, [5, 0, 0, 0, 1]], ['array keyed x', 0x04, [13, 0, 0, 0, 0x10, 0x78, 0, 1, 0, 0, 0, 0]], ['null with bytes', 0x0a, [1, 2, 3]], ['null', 0x0a, []], ['undefined', 0x06, []], ['minKey', 0xff, []], ['maxKey', 0x7f, []], ['type 0', 0x00, []], ['type 0x20', 0x20, [1, 2, 3, 4]], ['date 7 bytes', 0x09, [1, 2, 3, 4, 5, 6, 7]], ['regex no end', 0x0b, [0x61, 0, 0x69]], ['decimal 15', 0x13, Array(15).fill(1)]] as const) out.push([what, type, Buffer.from([...bytes])]);
  return out;
}

async function compareWithLibmongocrypt(items: Array<[string, Binary]>): Promise<string[]> {
  const wrong: string[] = [];
  for (const [what, blob] of items) {
    const ref = await settle(enc().decrypt(blob));
    const one = await settle(engine().decryptValue(blob, 'f'));
    const batch = await engine().decryptDocuments([{ f: blob }]);
    const many: Outcome = batch.failures.size ? { refused: 'attributed' } : { value: batch.docs[0].f };
    if (!same(ref, one)) wrong.push(`${what}: libmongocrypt ${show(ref)}, decryptValue ${show(one)}`);
    if (!same(ref, many)) wrong.push(`${what}: libmongocrypt ${show(ref)}, decryptDocuments ${show(many)}`);
  }
  return wrong;
}

test.serial('held: authenticated string plaintexts that are well-formed or malformed BSON strings (empty, NUL inside, BOM, invalid and overlong UTF-8, CESU surrogates, wrong or negative int32 length, no or an extra trailing 0) read exactly as libmongocrypt + js-bson read them (ClientEncryption.decrypt): the same string, or refused by both; under Deterministic and Random', async (t) => {
  const items: Array<[string, Binary]> = [];
  for (const [what, p] of stringPlaintexts()) for (const algo of [1, 2]) items.push([`${what} algo ${algo}`, seal(algo === 1 ? keyA : keyB, algo, 2, p)]);
  const wrong = await compareWithLibmongocrypt(items);
  t.log(`${items.length} values`);
  t.deepEqual(wrong.slice(0, 20), [], `${wrong.length} differ:\n${wrong.slice(0, 20).join('\n')}`);
});

test.serial('held: authenticated non-string plaintexts of the right and wrong byte lengths (int32, double, long, objectId, bool, binData, document, array, null, undefined, min/maxKey, type 0, unknown types, date, regex, decimal) read exactly as ClientEncryption.decrypt reads them', async (t) => {
  const items: Array<[string, Binary]> = [];
  for (const [what, type, p] of otherPlaintexts()) items.push([what, seal(keyA, 2, type, p)]);
  const wrong = await compareWithLibmongocrypt(items);
  t.deepEqual(wrong.slice(0, 20), [], `${wrong.length} differ:\n${wrong.slice(0, 20).join('\n')}`);
});

test.serial('FINDING-1: an authenticated plaintext holding more than one BSON element (the value, then an element named "v") reads as the second element in process (even a number in a declared string field, through findById), where libmongocrypt (and ClientEncryption.decrypt) reads the first: valueOf wraps the bytes as { v: … } and takes the last "v" js-bson keeps', async (t) => {
  const items: Array<[string, Binary]> = [];
  const vElement = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 0x76, 0]), body]);
  items.push(['int32 42 then v: int32 7', seal(keyA, 2, 0x10, Buffer.concat([int32(42), vElement(0x10, int32(7))]))]);
  items.push(['int32 42 then v: int32 7 (Deterministic)', seal(keyA, 1, 0x10, Buffer.concat([int32(42), vElement(0x10, int32(7))]))]);
  items.push(['string "alice" then v: "mallory"', seal(keyA, 1, 0x02, Buffer.concat([bsonString(Buffer.from('alice')), vElement(0x02, bsonString(Buffer.from('mallory')))]))]);
  items.push(['string then v: int32', seal(keyA, 2, 0x02, Buffer.concat([bsonString(Buffer.from('alice')), vElement(0x10, int32(7))]))]);
  const wrong = await compareWithLibmongocrypt(items);
  // Through the repository: a declared Deterministic string field and a Deterministic int field.
  const _id = new ObjectId();
  const _id2 = new ObjectId();
  await coll().insertMany([{ _id, name: uniq('dup'), s: items[2][1], i: items[1][1] }, { _id: _id2, name: uniq('dup'), s: seal(keyA, 1, 0x02, Buffer.concat([bsonString(Buffer.from('alice')), vElement(0x10, int32(7))])) }]);
  for (const [id, f, blob] of [[_id, 's', items[2][1]], [_id, 'i', items[1][1]], [_id2, 's', undefined]] as const) {
    const ref = await settle(enc().decrypt(blob ?? (await coll().findOne({ _id: id }))![f]));
    const got = await settle(repo().findById(id).then((d: Document) => d[f]));
    if (!same(ref, got)) wrong.push(`findById ${f}: libmongocrypt ${show(ref)}, Strongbox ${show(got)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// ---------------------------------------------------------------- 3. decryptDocuments against libmongocrypt

test.serial('held: decryptDocuments on generated nested documents and arrays mixing valid ciphertexts (two keys, both algorithms, many types), tampered ones and plain values gives, value for value, what ClientEncryption.decrypt gives, and attributes exactly the values libmongocrypt refuses, by path', async (t) => {
  const validArb = fc.oneof(
    fc.string({ maxLength: 20 }).map((s) => ({ type: 2, p: bsonString(Buffer.from(s)) })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => ({ type: 0x10, p: int32(n) })),
    fc.double({ noNaN: true }).map((x) => ({ type: 0x01, p: Buffer.from(new Float64Array([x]).buffer) })),
    fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => ({ type: 0x07, p: Buffer.from(b) })),
    fc.uint8Array({ maxLength: 20 }).map((b) => ({ type: 0x05, p: Buffer.concat([int32(b.length), Buffer.from([0]), Buffer.from(b)]) })),
  );
  const leafArb = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(validArb, fc.constantFrom(1, 2), fc.boolean(), fc.constantFrom('ok', 'ok', 'ok', 'flip', 'retype', 'truncate', 'rekey')).map(([{ type, p }, algo, b, how]) => {
      const blob = seal(b ? keyA : keyB, algo, type, p);
      const bytes = Buffer.from(blob.buffer);
      if (how === 'flip') bytes[18 + (bytes.length % 40)] ^= 4;
      if (how === 'retype') bytes[17] = type === 2 ? 0x10 : 2;
      if (how === 'rekey') (b ? keyB : keyA).id.copy(bytes, 1);
      return new Binary(how === 'truncate' ? bytes.subarray(0, bytes.length - 16) : bytes, 6);
    }) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)) },
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafArb, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('tree'), { maxKeys: 4 })),
  }));
  const docs = fc.sample(fc.dictionary(fc.constantFrom('x', 'y', 'z'), tree, { minKeys: 1, maxKeys: 3 }), { numRuns: 40, seed: 5304 }) as Document[];
  const result = await engine().decryptDocuments(docs);
  const wrong: string[] = [];
  let values = 0;
  let refused = 0;
  async function walk(src: unknown, got: unknown, path: string, doc: number, expectFail: Set<string>): Promise<void> {
    if (src instanceof Binary && src.sub_type === 6) {
      values++;
      const ref = await settle(enc().decrypt(src));
      if ('refused' in ref) { refused++; expectFail.add(path); if (!(got instanceof Binary)) wrong.push(`${doc} ${path}: libmongocrypt refuses, read as ${inspect(got).slice(0, 50)}`); } else if (inspect(ref.value) !== inspect(got)) wrong.push(`${doc} ${path}: libmongocrypt ${inspect(ref.value).slice(0, 50)}, decryptDocuments ${inspect(got).slice(0, 50)}`);
      return;
    }
    if (Array.isArray(src)) { for (let i = 0; i < src.length; i++) await walk(src[i], (got as unknown[])?.[i], path ? `${path}.${i}` : String(i), doc, expectFail); return; }
    if (src && typeof src === 'object') { for (const k of Object.keys(src)) await walk((src as Document)[k], (got as Document)?.[k], path ? `${path}.${k}` : k, doc, expectFail); return; }
    if (src !== got) wrong.push(`${doc} ${path}: plain value changed`);
  }
  for (let i = 0; i < docs.length; i++) {
    const expectFail = new Set<string>();
    await walk(docs[i], result.docs[i], '', i, expectFail);
    const paths = new Set((result.failures.get(i) ?? []).map((f) => f.path));
    if ([...expectFail].sort().join() !== [...paths].sort().join()) wrong.push(`${i}: failures at ${[...paths].join(',')}, libmongocrypt refuses ${[...expectFail].join(',')}`);
  }
  t.log(`${values} ciphertexts, ${refused} refused by libmongocrypt`);
  t.true(values > 60 && refused > 5);
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

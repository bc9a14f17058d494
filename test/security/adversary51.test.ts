/**
 * Round 51 (brief adv51, on 510bd18): Strongbox's in-process AEAD_AES_256_CBC_HMAC_SHA_512
 * (src/crypto/aead.ts, valueCipher.ts), the keys libmongocrypt unwraps for it (dataKeys.ts), the
 * batched command encryptor and in-process reads (engine.ts). Plain JavaScript through the public
 * API with command monitoring, the raw driver to read and tamper with what is stored, and the
 * driver's public ClientEncryption as the reference cipher. Each FINDING test asserts the correct
 * behaviour and fails on 510bd18:
 *   1. dataKeys.ts UnwrappedKeys.cached()/unwrap() (and engine.ts keyIdForAltName) age keys by
 *      Date.now(); libmongocrypt's key cache is monotonic. A wall clock stepped back keeps a deleted
 *      key encrypting and decrypting for as long as the step (both clocks are stubbed to simulate it).
 *   2. plaintext.ts stringPlaintext and valueCipher.ts encryptValues take Buffer.allocUnsafe, i.e.
 *      Node's shared 8 KiB pool: the ciphertext Binary in the command shares its ArrayBuffer with
 *      the plaintext bytes, which are never zeroed (hardening; nothing is sent or logged).
 * Excluded (not of this commit): a regex whose pattern JavaScript cannot compile is written and then
 * unreadable (DECRYPT_CORRUPT), encrypted or not; util.inspect with customInspect: false prints key
 * material (the master key already did: concealKey relies on inspect.custom).
 */
import test from 'ava';
import * as fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  Binary, BSON, BSONRegExp, BSONSymbol, Code, Decimal128, Int32, Long, ObjectId, Timestamp, type ClientEncryption, type CommandStartedEvent, type Document, type MongoClient,
} from 'mongodb';
import { Encrypted, Field, Id, Model, StrongboxError, UndecryptableValue, type StrongboxClient } from '../../src/index';
import { describe, localKeyClient, shiftClocks, uniq, unwrapLocalKey } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY = 'a51-main';
const KEY2 = 'a51-second';

@Model({ db: DB, collection: 'det', keyAltName: KEY })
class Det {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) s?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: KEY2, optional: true }) s2?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', optional: true }) i?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'long', optional: true }) l?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'date', optional: true }) d?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId', optional: true }) o?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', optional: true }) b?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'timestamp', optional: true }) ts?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'regex', optional: true }) re?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'javascript', optional: true }) js?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'symbol', optional: true }) sym?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) rs?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: KEY2, optional: true }) rs2?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'double', optional: true }) rd?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'decimal', optional: true }) rdec?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'bool', optional: true }) rb?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'object', optional: true }) robj?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', optional: true }) rl?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) rbin?: any;
}

@Model({ db: DB, collection: 'tenants', keyAltName: KEY })
class Tenant {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) tenant!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant', optional: true }) secret?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) tag?: any;
}

const MODELS = [Det, Tenant];
let client: StrongboxClient;
let raw: MongoClient;
let masterKey: Buffer;
const sent: CommandStartedEvent[] = [];
const extraClients: StrongboxClient[] = [];

const makeClient = (key: Buffer, keyVaultNs: string, overrides: Document = {}): Promise<StrongboxClient> => localKeyClient(MODELS, key, keyVaultNs, overrides);

const KEY_VAULT = `sb_keys_a51_${randomBytes(3).toString('hex')}.__keyVault`;

test.before(async () => {
  masterKey = randomBytes(96);
  client = await makeClient(masterKey, KEY_VAULT);
  client.dataClient.on('commandStarted', (e) => sent.push(e));
  raw = await rawClient();
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await raw?.db(KEY_VAULT.split('.')[0]).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close(), ...extraClients.map((c) => c.close())]);
});

const repo = (model: Function = Det, options: Document = {}, c: StrongboxClient = client) => c.repository(model as never, options as never) as unknown as Record<string, (...a: any[]) => any>;
const coll = (name = 'det') => raw.db(DB).collection(name);
const enc = (): ClientEncryption => client.encryption;
const DET = 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic';
const keyIdOf = (blob: Binary) => new Binary(Buffer.from(blob.buffer.subarray(1, 17)), 4);
const hex = (b: Binary) => Buffer.from(b.buffer).toString('hex');


// ---------------------------------------------------------------- 1. byte equality with libmongocrypt

/** Strings around every block boundary (0–80 bytes), multi-byte, and long ones. */
const stringArb = fc.oneof(
  fc.integer({ min: 0, max: 80 }).map((n) => 'x'.repeat(n)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 60, maxLength: 400 }),
  fc.integer({ min: 0, max: 5 }).map((n) => 'é'.repeat(n * 8 + 3)),
);

test.serial('held: Deterministic string ciphertexts (lengths 0–80 around every block boundary, unicode, long, lone surrogates), written in one insertMany of many documents under two keys mixed with Random values, are byte-identical to ClientEncryption.encrypt', async (t) => {
  const values = fc.sample(stringArb, { numRuns: 300, seed: 5151 });
  for (let n = 0; n <= 80; n++) values.push('y'.repeat(n));
  values.push('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '💥'.repeat(20), 'z'.repeat(5000));
  const name = uniq('eq');
  const docs = values.map((v, k) => ({ name, s: v, s2: v, rs: v, rs2: k % 2 ? v : undefined }));
  await repo().insertMany(docs.map((d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined))));
  const stored = await coll().find({ name }, { promoteValues: false }).toArray();
  t.is(stored.length, values.length);
  const wrong: string[] = [];
  const k1 = keyIdOf(stored[0].s as Binary);
  const k2 = keyIdOf(stored[0].s2 as Binary);
  for (const doc of stored) {
    const v = (await enc().decrypt(doc.rs as Binary)) as string;
    const [e1, e2] = await Promise.all([enc().encrypt(v, { algorithm: DET, keyId: k1 }), enc().encrypt(v, { algorithm: DET, keyId: k2 })]);
    if (hex(e1) !== hex(doc.s)) wrong.push(`s of ${JSON.stringify(v).slice(0, 40)} (${Buffer.byteLength(v)} bytes)`);
    if (hex(e2) !== hex(doc.s2)) wrong.push(`s2 of ${JSON.stringify(v).slice(0, 40)}`);
    if (doc.rs2 && (await enc().decrypt(doc.rs2 as Binary)) !== v) wrong.push(`rs2 of ${JSON.stringify(v).slice(0, 40)}`);
  }
  // Every value given is stored (the libmongocrypt-decrypted Random value of each document is one of them).
  const back = new Set(await Promise.all(stored.map((d) => enc().decrypt(d.rs as Binary))));
  const lost = values.filter((v) => !back.has(Buffer.from(v, 'utf8').toString('utf8')));
  t.deepEqual(lost.map((v) => JSON.stringify(v).slice(0, 30)), []);
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

/** Patterns JavaScript can compile (js-bson reads a regex as a RegExp: any other pattern is unreadable, encrypted or not). */
const validPattern = (p: string) => { try { new RegExp(p); return true; } catch { return false; } };
const detTypeArb = fc.record({
  i: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  l: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((x) => Long.fromBigInt(x)),
  d: fc.date({ min: new Date(-8.64e15 / 2), max: new Date(8.64e15 / 2), noInvalidDate: true }),
  o: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(Buffer.from(b))),
  b: fc.uint8Array({ maxLength: 90 }).map((b) => new Binary(Buffer.from(b))),
  ts: fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => new Timestamp({ t: i >>> 0, i: j >>> 0 })),
  re: fc.tuple(fc.string({ maxLength: 30 }).filter((s) => !s.includes('\u0000') && validPattern(s)), fc.subarray(['i', 'm'])).map(([p, f]) => new BSONRegExp(p, f.join(''))),
  js: fc.string({ maxLength: 90 }).map((c) => new Code(c)),
  sym: fc.string({ maxLength: 60 }).map((s) => new BSONSymbol(s)),
});

test.serial('held: Deterministic int / long / date / objectId / binData / timestamp / regex / javascript / symbol ciphertexts (generated, many per batch) are byte-identical to ClientEncryption.encrypt of the value in its declared type', async (t) => {
  const samples = fc.sample(detTypeArb, { numRuns: 120, seed: 515 });
  const name = uniq('types');
  await repo().insertMany(samples.map((s) => ({ name, ...s })));
  const stored = await coll().find({ name }, { promoteValues: false }).sort({ _id: 1 }).toArray();
  const wrong: string[] = [];
  const keyId = keyIdOf(stored[0].i as Binary);
  for (let k = 0; k < samples.length; k++) {
    const doc = stored[k];
    for (const [f, v] of Object.entries(samples[k])) {
      const expected = await enc().encrypt(f === 'i' ? new Int32(v as number) : v, { algorithm: DET, keyId });
      if (!(doc[f] instanceof Binary) || hex(expected) !== hex(doc[f])) wrong.push(`${f}: ${inspect(v).slice(0, 60)}`);
    }
  }
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
  // Read back through the repository: the same values.
  const back = await repo().find({ name }).toArray();
  const bad: string[] = [];
  for (const doc of back) {
    const orig = samples.find((s) => s.o.equals(doc.o));
    if (!orig) { bad.push('no original'); continue; }
    if (doc.i !== orig.i) bad.push(`i ${doc.i} != ${orig.i}`);
    if (String(doc.l) !== String(orig.l)) bad.push(`l ${doc.l} != ${orig.l}`);
    if (+doc.d !== +orig.d) bad.push('d');
    if (Buffer.compare(Buffer.from(doc.b.buffer), Buffer.from(orig.b.buffer)) !== 0) bad.push('b');
  }
  t.deepEqual(bad.slice(0, 10), []);
});

test.serial('held: Random ciphertexts of every model type decrypt with ClientEncryption.decrypt to the value written; their IVs are all distinct over 4,000+ values', async (t) => {
  const name = uniq('rnd');
  const docs = fc.sample(fc.record({
    rs: stringArb, rd: fc.double({ noNaN: true }), rb: fc.boolean(), rl: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((x) => Long.fromBigInt(x)),
    robj: fc.dictionary(fc.string({ maxLength: 5 }).filter((k) => !k.includes('\u0000') && !k.startsWith('$') && !k.includes('.')), fc.oneof(fc.integer(), fc.string({ maxLength: 20 }))),
    rbin: fc.uint8Array({ maxLength: 100 }).map((b) => new Binary(Buffer.from(b))),
    rdec: fc.integer().map((n) => Decimal128.fromString(`${n}.25`)),
  }), { numRuns: 250, seed: 77 });
  await repo().insertMany(docs.map((d) => ({ name, ...d })));
  const stored = await coll().find({ name }, { promoteValues: false }).toArray();
  const back = await repo().find({ name }).toArray();
  t.is(back.length, docs.length);
  const wrong: string[] = [];
  for (let k = 0; k < docs.length; k++) {
    for (const f of ['rs', 'rd', 'rb', 'robj', 'rbin', 'rdec', 'rl'] as const) {
      const ours = docs[k][f];
      const theirs = await enc().decrypt(stored[k][f] as Binary);
      const norm = (x: unknown) => inspect(x instanceof Binary ? Buffer.from(x.buffer) : x instanceof Long || typeof x === 'bigint' || (f === 'rl' && typeof x === 'number') ? String(x) : x instanceof Decimal128 ? x.toString() : x && typeof x === 'object' ? { ...x } : x, { depth: 5 });
      if (norm(theirs) !== norm(ours) && !(typeof theirs === 'number' && Object.is(theirs, ours))) wrong.push(`${f}: ${norm(ours).slice(0, 40)} -> ${norm(theirs).slice(0, 40)}`);
    }
  }
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
  // IV uniqueness over many values.
  const many = Array.from({ length: 4200 }, (_, k) => ({ name: `${name}-iv`, rs: 'same', rd: k }));
  await repo().insertMany(many.slice(0, 2100));
  await Promise.all([repo().insertMany(many.slice(2100, 3000)), repo().insertMany(many.slice(3000))]);
  const ivs = new Set<string>();
  let total = 0;
  for await (const d of coll().find({ name: { $in: [name, `${name}-iv`] } }, { promoteValues: false })) {
    for (const f of ['rs', 'rd', 'rb', 'robj', 'rbin', 'rdec', 'rl']) {
      if (!(d[f] instanceof Binary)) continue;
      total++;
      ivs.add(Buffer.from((d[f] as Binary).buffer.subarray(18, 34)).toString('hex'));
    }
  }
  t.true(total > 8000);
  t.is(ivs.size, total, 'a random IV repeated');
});

test.serial('held: updates, bulkWrite and finds with Deterministic filters (values of every length class, two keys) match the documents the in-process ciphertexts were stored under, and what they $set decrypts with libmongocrypt', async (t) => {
  const name = uniq('upd');
  const vals = [0, 11, 12, 27, 44, 60, 76, 200].map((n) => `${n}:`.padEnd(n, 'q').slice(0, n));
  await repo().insertMany(vals.map((v) => ({ name, s: v, s2: v })));
  const wrong: string[] = [];
  for (const v of vals) {
    const found = await repo().find({ name, s: v, s2: v }).toArray();
    if (found.length !== 1 || found[0].s !== v) wrong.push(`find ${v.length}: ${found.length}`);
  }
  const r = await repo().bulkWrite(vals.map((v) => ({ updateOne: { filter: { name, s: v }, update: { $set: { rs: `r${v}`, rs2: `R${v}` } } } })));
  if (r.modifiedCount !== vals.length) wrong.push(`bulkWrite modified ${r.modifiedCount}`);
  await repo().updateMany({ name, s2: { $in: vals.slice(0, 5) } }, { $set: { i: 7 } });
  const stored = await coll().find({ name }, { promoteValues: false }).toArray();
  for (const d of stored) {
    const v = await enc().decrypt(d.s as Binary);
    if ((await enc().decrypt(d.rs as Binary)) !== `r${v}` || (await enc().decrypt(d.rs2 as Binary)) !== `R${v}`) wrong.push(`rs of ${String(v).length}`);
    if (vals.slice(0, 5).includes(v as string) !== (d.i !== undefined)) wrong.push(`updateMany ${String(v).length}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// ---------------------------------------------------------------- 3. tampering

function tampered(blob: Binary): Array<[string, Binary]> {
  const b = Buffer.from(blob.buffer);
  const out: Array<[string, Binary]> = [];
  const flip = (at: number, what: string) => { const c = Buffer.from(b); c[at] ^= 0x01; out.push([`flip ${what} @${at}`, new Binary(c, 6)]); };
  flip(0, 'algorithm'); flip(1, 'key uuid'); flip(16, 'key uuid'); flip(17, 'type');
  for (const at of [18, 25, 33]) flip(at, 'iv');
  for (let at = 34; at < b.length - 32; at += 13) flip(at, 'body');
  for (const at of [b.length - 32, b.length - 17, b.length - 1]) flip(at, 'tag');
  const set = (at: number, v: number, what: string) => { if (b[at] === v) return; const c = Buffer.from(b); c[at] = v; out.push([what, new Binary(c, 6)]); };
  set(0, 0, 'algorithm 0 (a marking)'); set(0, 3, 'algorithm 3'); set(17, 0x10, 'type int'); set(17, 0x05, 'type binData');
  for (const n of [1, 16, 33, b.length - 18]) out.push([`truncated by ${n}`, new Binary(b.subarray(0, b.length - n), 6)]);
  out.push(['extended by a block', new Binary(Buffer.concat([b, randomBytes(16)]), 6)]);
  out.push(['a block inserted before the tag', new Binary(Buffer.concat([b.subarray(0, b.length - 32), b.subarray(b.length - 48, b.length - 32), b.subarray(b.length - 32)]), 6)]);
  out.push(['first block dropped', new Binary(Buffer.concat([b.subarray(0, 34), b.subarray(50)]), 6)]);
  out.push(['subtype 0', new Binary(b, 0)]);
  out.push(['tag zeroed', new Binary(Buffer.concat([b.subarray(0, b.length - 32), Buffer.alloc(32)]), 6)]);
  out.push(['header only', new Binary(b.subarray(0, 18), 6)]);
  return out;
}

test.serial('held: flipped, truncated, extended, re-typed or re-keyed ciphertexts (Deterministic and Random, short and long, two keys) never read back as a value: a DecryptionError or an UndecryptableValue naming the field, never the plaintext', async (t) => {
  const name = uniq('tamper');
  const secrets = { s: 'DET-SECRET-shortish', s2: 'DET2-SECRET'.padEnd(90, 'x'), rs: 'RND-SECRET-0123456789abcdef', rs2: 'RND2-SECRET', i: 424242 };
  const [doc] = await repo().insertMany([{ name, ...secrets }]);
  const id = doc._id;
  const original = await coll().findOne({ _id: id }, { promoteValues: false }) as Document;
  const wrong: string[] = [];
  const markerRepo = repo(Det, { onUndecryptable: 'marker' });
  let cases = 0;
  for (const f of ['s', 's2', 'rs', 'rs2', 'i'] as const) {
    for (const [what, blob] of tampered(original[f] as Binary)) {
      cases++;
      await coll().updateOne({ _id: id }, { $set: { [f]: blob } });
      const got = await markerRepo.findOne({ _id: id }).catch((e: unknown) => ({ error: e }));
      if ((got as { error?: unknown }).error !== undefined) {
        const e = (got as { error: unknown }).error;
        if (!(e instanceof StrongboxError)) wrong.push(`${f} ${what}: ${describe(e)}`);
        else if (String((e as Error).message).includes(String(secrets[f]))) wrong.push(`${f} ${what}: plaintext in error`);
        continue;
      }
      const v = (got as Document)[f];
      if (!(v instanceof UndecryptableValue)) wrong.push(`${f} ${what}: read as ${inspect(v).slice(0, 60)}`);
      const thrown = await repo().findOne({ _id: id }).then(() => undefined, (e: unknown) => e);
      if (!(thrown instanceof StrongboxError) || !/DECRYPT_/.test((thrown as StrongboxError).code)) wrong.push(`${f} ${what}: throw policy gave ${describe(thrown)}`);
      else if (inspect(thrown, { depth: 5 }).includes(String(secrets[f]))) wrong.push(`${f} ${what}: plaintext in the error`);
      // The other fields still read (in-process or through libmongocrypt's attribution).
      const others = (got as Document);
      for (const g of ['s', 's2', 'rs', 'rs2', 'i'] as const) if (g !== f && others[g] !== secrets[g]) wrong.push(`${f} ${what}: other field ${g} read as ${inspect(others[g]).slice(0, 40)}`);
    }
    await coll().updateOne({ _id: id }, { $set: { [f]: original[f] } });
  }
  // Swaps: another key's ciphertext, another algorithm's.
  for (const [f, from] of [['s', 's2'], ['s2', 's'], ['rs', 'rs2'], ['rs2', 'rs'], ['rs', 's'], ['s', 'rs'], ['i', 's']] as const) {
    cases++;
    await coll().updateOne({ _id: id }, { $set: { [f]: original[from] } });
    const got = await markerRepo.findOne({ _id: id }) as Document;
    if (!(got[f] instanceof UndecryptableValue)) wrong.push(`${f} <- ${from}: read as ${inspect(got[f]).slice(0, 60)}`);
    await coll().updateOne({ _id: id }, { $set: { [f]: original[f] } });
  }
  t.true(cases > 60);
  t.deepEqual((await repo().findOne({ _id: id }) as Document).s, secrets.s);
  t.deepEqual(wrong.slice(0, 12), [], wrong.slice(0, 12).join('\n'));
});

// ---------------------------------------------------------------- 4. keys

test.serial('held: a client with another local master key on the same key vault fails closed: writes under the existing keys are refused (ENCRYPT_FAILED) before any write command, reads are DECRYPT_WRONG_MASTER_KEY, and no error holds the plaintext', async (t) => {
  const name = uniq('wrongmk');
  await repo().insertOne({ name, s: 'WMK-DET-SECRET', rs: 'WMK-RND-SECRET' });
  const other = await makeClient(randomBytes(96), KEY_VAULT);
  extraClients.push(other);
  const seen: CommandStartedEvent[] = [];
  other.dataClient.on('commandStarted', (e) => seen.push(e));
  const wrong: string[] = [];
  for (const [what, call] of [
    ['insertOne', () => repo(Det, {}, other).insertOne({ name, s: 'WMK-NEW-SECRET' })],
    ['insertOne Random', () => repo(Det, {}, other).insertOne({ name, rs: 'WMK-NEW-SECRET' })],
    ['insertMany', () => repo(Det, {}, other).insertMany([{ name, rs: 'WMK-NEW-SECRET' }, { name, s2: 'WMK-NEW-SECRET' }])],
    ['updateOne', () => repo(Det, {}, other).updateOne({ name }, { $set: { rs: 'WMK-NEW-SECRET' } })],
    ['find by Deterministic', () => repo(Det, {}, other).find({ s: 'WMK-NEW-SECRET' }).toArray()],
  ] as Array<[string, () => Promise<unknown>]>) {
    seen.length = 0;
    const e = await call().then(() => undefined, (err: unknown) => err);
    const writes = seen.filter((c) => ['insert', 'update', 'find'].includes(c.commandName) && c.databaseName === DB);
    if (!(e instanceof StrongboxError) || e.code !== 'ENCRYPT_FAILED') wrong.push(`${what}: ${describe(e)}`);
    if (writes.length) wrong.push(`${what}: sent ${writes.map((c) => c.commandName)}`);
    if (inspect(e, { depth: 6, showHidden: true }).includes('WMK-')) wrong.push(`${what}: plaintext in the error`);
  }
  const read = await repo(Det, {}, other).findOne({ name }).then(() => undefined, (err: unknown) => err);
  if (!(read instanceof StrongboxError) || read.code !== 'DECRYPT_WRONG_MASTER_KEY') wrong.push(`read: ${describe(read)}`);
  if (inspect(read, { depth: 6, showHidden: true }).includes('WMK-')) wrong.push('read: plaintext in the error');
  t.is(await coll().countDocuments({ name }), 1);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: a key document whose keyMaterial was tampered with (one byte flipped) fails closed for a fresh client: writes ENCRYPT_FAILED with nothing sent, reads a DecryptionError, no plaintext in errors', async (t) => {
  const vault = `sb_keys_a51t_${randomBytes(3).toString('hex')}.__keyVault`;
  const key = randomBytes(96);
  const first = await makeClient(key, vault);
  extraClients.push(first);
  const name = uniq('kmtamper');
  await repo(Det, {}, first).insertOne({ name, s: 'KMT-DET', rs2: 'KMT-RND' });
  const [vdb, vcoll] = vault.split('.');
  const keyDoc = await raw.db(vdb).collection(vcoll).findOne({ keyAltNames: KEY2 }) as Document;
  const material = Buffer.from((keyDoc.keyMaterial as Binary).buffer);
  const wrong: string[] = [];
  for (const at of [0, 20, material.length - 40, material.length - 1]) {
    const bad = Buffer.from(material); bad[at] ^= 0x80;
    await raw.db(vdb).collection(vcoll).updateOne({ _id: keyDoc._id }, { $set: { keyMaterial: new Binary(bad, 0) } });
    const fresh = await makeClient(key, vault);
    extraClients.push(fresh);
    const seen: CommandStartedEvent[] = [];
    fresh.dataClient.on('commandStarted', (e) => seen.push(e));
    const w = await repo(Det, {}, fresh).insertOne({ name, rs2: 'KMT-NEW' }).then(() => undefined, (e: unknown) => e);
    if (!(w instanceof StrongboxError) || w.code !== 'ENCRYPT_FAILED') wrong.push(`write @${at}: ${describe(w)}`);
    if (seen.some((c) => c.commandName === 'insert')) wrong.push(`write @${at}: insert sent`);
    const r = await repo(Det, {}, fresh).findOne({ name }).then(() => undefined, (e: unknown) => e);
    if (!(r instanceof StrongboxError) || !/^DECRYPT_/.test(r.code)) wrong.push(`read @${at}: ${describe(r)}`);
    for (const e of [w, r]) if (inspect(e, { depth: 6, showHidden: true }).includes('KMT-')) wrong.push(`@${at}: plaintext in error`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
  t.is(await coll().countDocuments({ name }), 1);
});

test.serial('held: a data key deleted from the key vault (raw driver) keeps encrypting in process only within the 60 s cache: once 61 s have passed, writes are ENCRYPT_FAILED before any insert and reads DECRYPT_MISSING_KEY', async (t) => {
  const vault = `sb_keys_a51d_${randomBytes(3).toString('hex')}.__keyVault`;
  const key = randomBytes(96);
  const c = await makeClient(key, vault);
  extraClients.push(c);
  const seen: CommandStartedEvent[] = [];
  c.dataClient.on('commandStarted', (e) => seen.push(e));
  const name = uniq('del');
  await repo(Det, {}, c).insertOne({ name, s: 'DEL-A', rs2: 'DEL-B' });
  const [vdb, vcoll] = vault.split('.');
  await raw.db(vdb).collection(vcoll).deleteMany({});
  // Within the cache, writes still work (as with libmongocrypt's own cache); reads may stop sooner (the reader's own alt-name check).
  await repo(Det, {}, c).insertOne({ name, s: 'DEL-C' });
  const start = Date.now();
  const restore = shiftClocks({ wallMs: 61_000, monotonicMs: 61_000 });
  try {
    seen.length = 0;
    const w = await repo(Det, {}, c).insertOne({ name, s: 'DEL-D' }).then(() => undefined, (e: unknown) => e);
    const wr = await repo(Det, {}, c).insertOne({ name, rs2: 'DEL-E' }).then(() => undefined, (e: unknown) => e);
    const r = await repo(Det, {}, c).find({ name }).toArray().then(() => undefined, (e: unknown) => e);
    const wrong: string[] = [];
    if (!(w instanceof StrongboxError) || w.code !== 'ENCRYPT_FAILED') wrong.push(`write: ${describe(w)}`);
    if (!(wr instanceof StrongboxError) || wr.code !== 'ENCRYPT_FAILED') wrong.push(`write 2: ${describe(wr)}`);
    if (!(r instanceof StrongboxError) || r.code !== 'DECRYPT_MISSING_KEY') wrong.push(`read: ${describe(r)}`);
    if (seen.some((e) => e.commandName === 'insert')) wrong.push('insert sent');
    t.deepEqual(wrong, [], wrong.join('\n'));
  } finally {
    restore();
  }
  t.true(Date.now() - start < 30_000);
});

// ---------------------------------------------------------------- 5. leaks

/** Ways a byte string can show in a dump: hex, spaced hex, base64, decimal lists (Uint8Array), of the whole or of a part. */
function spellings(bytes: Buffer): string[] {
  const out: string[] = [];
  for (const part of [bytes, bytes.subarray(0, 32), bytes.subarray(32, 64), bytes.subarray(64)]) {
    if (part.length === 0) continue;
    out.push(part.toString('hex'), part.toString('base64').slice(0, 24), part.subarray(0, 10).toString('hex'), `[${[...part.subarray(0, 8)].join(',')},`, `,${[...part.subarray(1, 9)].join(',')},`);
  }
  return out;
}

/** JSON of everything reachable, cycles and all (what a careless logger with a cycle-safe serializer would print). */
function safeJson(root: unknown): string {
  const seen = new WeakSet();
  try {
    return JSON.stringify(root, (_k, v) => {
      if (typeof v === 'bigint') return String(v);
      if (v && typeof v === 'object') { if (seen.has(v)) return '[cycle]'; seen.add(v); if (v instanceof Map) return Object.fromEntries([...v].map(([a, b]) => [String(a), b])); }
      return v;
    }) ?? '';
  } catch (e) { return String(e); }
}

test.serial('FINDING-1: the in-process data key cache ages keys by the wall clock (Date.now), not a monotonic clock as libmongocrypt\'s key cache does: after the system clock steps back, a data key deleted from the key vault keeps encrypting and decrypting long after 60 s', async (t) => {
  const vault = `sb_keys_a51c_${randomBytes(3).toString('hex')}.__keyVault`;
  const c = await makeClient(randomBytes(96), vault);
  extraClients.push(c);
  const seen: CommandStartedEvent[] = [];
  c.dataClient.on('commandStarted', (e) => seen.push(e));
  const name = uniq('clock');
  await repo(Det, {}, c).insertOne({ name, s: 'CLK-A', rs2: 'CLK-B' });
  t.is((await repo(Det, {}, c).find({ name }).toArray()).length, 1);
  const [vdb, vcoll] = vault.split('.');
  await raw.db(vdb).collection(vcoll).deleteMany({});
  // An NTP correction stepped the wall clock back by an hour; 61 s have really passed since the key was fetched.
  const restore = shiftClocks({ wallMs: -3_600_000 + 61_000, monotonicMs: 61_000 });
  try {
    seen.length = 0;
    const w = await repo(Det, {}, c).insertOne({ name, s: 'CLK-C', rs2: 'CLK-D' }).then(() => undefined, (e: unknown) => e);
    const r = await repo(Det, {}, c).find({ name }).toArray().then((docs: Document[]) => `read ${docs.length} document(s) in clear`, (e: unknown) => e);
    const wrong: string[] = [];
    if (!(w instanceof StrongboxError) || w.code !== 'ENCRYPT_FAILED') wrong.push(`write 61 s after the deletion: ${w === undefined ? 'accepted' : describe(w)}`);
    if (seen.some((e) => e.commandName === 'insert')) wrong.push('an insert under the deleted key was sent');
    if (!(r instanceof StrongboxError)) wrong.push(`read 61 s after the deletion: ${typeof r === 'string' ? r : describe(r)}`);
    t.deepEqual(wrong, [], wrong.join('\n'));
  } finally {
    restore();
  }
});

test.serial('held: no data key material (unwrapped here from the key vault) and no master key shows in util.inspect (showHidden, any depth) or cycle-safe JSON of the client, its engine, repositories, key vault and encryption handle after in-process encryption and decryption', async (t) => {
  const name = uniq('leak');
  await repo().insertOne({ name, s: 'LEAK-S', s2: 'LEAK-S2', rs: 'LEAK-RS' });
  await repo().find({ name }).toArray();
  const [vdb, vcoll] = KEY_VAULT.split('.');
  const keys = await raw.db(vdb).collection(vcoll).find({}).toArray();
  t.true(keys.length >= 2);
  const secrets = [masterKey, ...keys.map((k) => unwrapLocalKey(masterKey, Buffer.from((k.keyMaterial as Binary).buffer)))];
  const dumps: Array<[string, string]> = [];
  for (const [what, obj] of [['client', client], ['engine', client.engine], ['repository', client.repository(Det as never)], ['keyVault', client.keyVault], ['encryption', client.encryption]] as Array<[string, unknown]>) {
    dumps.push([`inspect ${what}`, inspect(obj, { depth: Infinity, showHidden: true, maxArrayLength: Infinity, maxStringLength: Infinity })]);
    dumps.push([`json ${what}`, safeJson(obj)]);
  }
  const wrong: string[] = [];
  t.true(dumps.some(([w, d]) => w.startsWith('inspect engine') && d.includes('AeadKey')), 'the dump reaches the unwrapped keys');
  for (const [what, dump] of dumps) {
    // Whitespace out: inspect aligns long arrays in columns and splits spaced hex over lines.
    const text = dump.replace(/\s+/g, '');
    secrets.forEach((secret, k) => { for (const s of spellings(secret)) if (text.includes(s)) wrong.push(`${what}: ${k === 0 ? 'master key' : `data key ${k}`} as ${s.slice(0, 16)}…`); });
  }
  t.deepEqual([...new Set(wrong)].slice(0, 12), [], [...new Set(wrong)].slice(0, 12).join('\n'));
});

test.serial('held: no plaintext of an encrypted field appears in any command sent (inserts, insertMany, bulkWrite, updates, Deterministic filters, per-document keys), as text or as BSON bytes', async (t) => {
  const mark = `PLAIN${randomBytes(4).toString('hex')}`;
  const name = uniq('cmd');
  sent.length = 0;
  await repo().insertOne({ name, s: `${mark}-s`, s2: `${mark}-s2`, rs: `${mark}-rs`.repeat(9), robj: { [`${mark}key`]: `${mark}-val` }, rs2: `${mark}` });
  await repo().insertMany(Array.from({ length: 50 }, (_, k) => ({ name, s: `${mark}-${k}`, rs: `${mark}`.repeat(k % 7) || 'x', rb: true })));
  await repo().bulkWrite([{ insertOne: { document: { name, s: `${mark}-bw` } } }, { updateOne: { filter: { s: `${mark}-bw` }, update: { $set: { rs: `${mark}-bwu`, robj: { a: mark } } } } }]);
  await repo().updateMany({ s: { $in: [`${mark}-1`, `${mark}-2`] } }, { $set: { s2: `${mark}-um` } });
  await repo().find({ s: `${mark}-s`, s2: { $in: [`${mark}-s2`] } }).toArray();
  await repo(Tenant).insertMany([{ tenant: `${name}-t1`, secret: `${mark}-t1`, tag: `${mark}-tag` }, { tenant: `${name}-t2`, secret: `${mark}-t2` }]);
  await repo(Tenant).find({ tag: `${mark}-tag` }).toArray();
  const bad = sent.filter((e) => JSON.stringify(e.command).includes(mark) || Buffer.from(BSON.serialize(e.command)).includes(Buffer.from(mark)));
  t.true(sent.length > 5);
  t.deepEqual(bad.map((e) => e.commandName), []);
});

// ---------------------------------------------------------------- 6. concurrency

test.serial('held: hundreds of concurrent writes and reads under 24 per-document keys created concurrently (plus two fixed keys) store every value under its own tenant\'s key, readable through the repository and by libmongocrypt', async (t) => {
  const run = uniq('conc');
  const tenants = Array.from({ length: 24 }, (_, k) => `${run}-t${k}`);
  const jobs = Array.from({ length: 240 }, (_, k) => ({ tenant: tenants[k % tenants.length], secret: `sec-${k}-`.padEnd(k % 90, '#'), tag: `tag-${k % 5}` }));
  const writes = jobs.map((j, k) => (k % 3 === 0 ? repo(Tenant).insertMany([j]) : repo(Tenant).insertOne(j)));
  const reads = tenants.map((tn) => repo(Tenant).find({ tenant: tn }).toArray().catch((e: unknown) => e));
  const detWrites = jobs.slice(0, 60).map((j, k) => repo().insertOne({ name: run, s: j.secret, s2: j.tag, rs: j.secret, rs2: `${k}` }));
  const results = await Promise.allSettled([...writes, ...detWrites, ...reads]);
  const failed = results.filter((r) => r.status === 'rejected' || r.value instanceof Error).map((r) => describe(r.status === 'rejected' ? r.reason : r.value));
  t.deepEqual(failed.slice(0, 5), []);
  const wrong: string[] = [];
  const keyIds = new Map<string, string>();
  for (const tn of tenants) keyIds.set(tn, hex((await enc().getKeyByAltName(tn))!._id as Binary));
  t.is(new Set(keyIds.values()).size, tenants.length, 'two tenants share a key');
  const stored = await coll('tenants').find({ tenant: { $in: tenants } }, { promoteValues: false }).toArray();
  t.is(stored.length, jobs.length);
  for (const d of stored) {
    if (hex(keyIdOf(d.secret as Binary)) !== keyIds.get(d.tenant as string)) wrong.push(`${d.tenant}: secret under another key`);
    const v = await enc().decrypt(d.secret as Binary) as string;
    if (!jobs.some((j) => j.tenant === d.tenant && j.secret === v)) wrong.push(`${d.tenant}: decrypts to ${v}`);
  }
  const back = await repo(Tenant).find({ tenant: { $in: tenants } }).toArray();
  const want = jobs.map((j) => `${j.tenant}|${j.secret}|${j.tag}`).sort();
  const got = back.map((d: Document) => `${d.tenant}|${d.secret}|${d.tag}`).sort();
  t.deepEqual(got, want);
  const det = await repo().find({ name: run }).toArray();
  for (const d of det) if (d.rs !== d.s) wrong.push(`det doc ${d.rs2}: rs ${d.rs} s ${d.s}`);
  t.is(det.length, 60);
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

test.serial('FINDING-2: the plaintext of an encrypted field stays in memory backing the ciphertext handed to the driver: the Binary in the insert command (what command listeners receive) is a view into Node\'s shared Buffer pool that also holds the plaintext bytes (stringPlaintext / encryptValues use Buffer.allocUnsafe), never zeroed', async (t) => {
  const mark = `POOL${randomBytes(4).toString('hex')}`;
  const name = uniq('pool');
  sent.length = 0;
  await repo().insertOne({ name, s: `${mark}-s`, rs: `${mark}-rs` });
  const ins = sent.find((e) => e.commandName === 'insert' && e.databaseName === DB)!;
  const wrong: string[] = [];
  for (const f of ['s', 'rs']) {
    const view = (ins.command.documents[0][f] as Binary).buffer;
    const backing = Buffer.from(view.buffer, 0, view.buffer.byteLength);
    if (backing.includes(Buffer.from(`${mark}-${f}`))) wrong.push(`${f}: the ${backing.length}-byte memory under its ciphertext holds the plaintext`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

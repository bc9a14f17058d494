/**
 * Round 52 (brief adv52, on c666d32): the hardened in-process AEAD of c666d32 — HMAC-SHA-512 from
 * key blocks prepared once with one-shot hashes into a wiped module scratch (hmac.ts), CBC batched
 * through one AES-ECB cipher per key with its input wiped (aead.ts), ciphertexts in memory of
 * their own and opened plaintexts wiped after deserialization (valueCipher.ts), plaintext copies
 * wiped after sealing and no await when every key is cached (commandEncryptor.ts), keys aged by
 * the monotonic clock (dataKeys.ts). Plain JavaScript through the public API with command
 * monitoring, the raw driver to read and tamper with what is stored, and the driver's public
 * ClientEncryption as the reference cipher. Each FINDING test asserts the correct behaviour and
 * fails on c666d32:
 *   1. dataKeys.ts UnwrappedKeys.unwrap keeps each unwrapped data key in `Buffer.from(material)`,
 *      i.e. a slice of Node's shared 8 KiB Buffer pool: ObjectIds and Binaries handed to command
 *      listeners and returned in documents (and any small Buffer the application allocates) are
 *      views of the same ArrayBuffer, which holds the raw 96-byte data key for the process's life.
 *   2. commandEncryptor.ts encryptBatch serializes every plaintext (plaintext.ts stringPlaintext /
 *      BSON.serialize: Buffer.allocUnsafe, the shared pool) before seal() awaits the keys that are
 *      not cached (a per-document key, a key past its 60 s): during that await other commands'
 *      replies are parsed into the same pool, and a command listener receives ObjectIds /
 *      Binaries whose memory holds the pending write's plaintext (wiped only after sealing).
 *   3. Outside the crypto module, the write path's own copies of binary plaintext go to the shared
 *      pool and are never wiped: the input snapshot (bson/documents.ts detachedValue,
 *      Buffer.from(value)) and the entity-tracking snapshot (tracking.ts keepWritten →
 *      documents.ts readAsBsonWrites, two BSON.serialize outputs left as garbage). Long after the
 *      write, the insert command's own _id ObjectId, the returned entity's and later reads'
 *      ObjectIds are views of memory holding a caller's binData plaintext, even when the caller
 *      kept it in memory of its own.
 * Noted, not a finding here: the local master key also lives in the shared pool (masterKey.ts
 * decode, and the driver's own BSON copy of kmsProviders), which Strongbox alone cannot fix.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  Binary, BSON, Decimal128, Long, ObjectId, type ClientEncryption, type CommandStartedEvent, type CommandSucceededEvent, type Document, type MongoClient,
} from 'mongodb';
import { Encrypted, Field, Id, Model, StrongboxError, type StrongboxClient } from '../../src/index';
import { describe, localKeyClient, shiftClocks, uniq, unwrapLocalKey } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY = 'a52-main';
const KEY2 = 'a52-second';

@Model({ db: DB, collection: 'vals', keyAltName: KEY })
class Val {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) s?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: KEY2, optional: true }) s2?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', optional: true }) b?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', keyAltName: KEY2, optional: true }) b2?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId', optional: true }) o?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'long', optional: true }) l?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) rs?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: KEY2, optional: true }) rs2?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) rbin?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'object', optional: true }) robj?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'array', optional: true }) rarr?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', optional: true }) rl?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'decimal', optional: true }) rdec?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'date', optional: true }) rdate?: any;
}

@Model({ db: DB, collection: 'tenants', keyAltName: KEY })
class Tenant {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) tenant!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant', optional: true }) secret?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', keyAltName: '/tenant', optional: true }) blob?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) tag?: any;
}

const MODELS = [Val, Tenant];
let client: StrongboxClient;
let raw: MongoClient;
let masterKey: Buffer;
const started: CommandStartedEvent[] = [];
const warnings: string[] = [];
const extraClients: StrongboxClient[] = [];
const KEY_VAULT = `sb_keys_a52_${randomBytes(3).toString('hex')}.__keyVault`;

async function makeClient(key: Buffer, keyVaultNs: string, warn: (m: string) => void = (m) => warnings.push(m)): Promise<StrongboxClient> {
  const c = await localKeyClient(MODELS, key, keyVaultNs, { warn });
  extraClients.push(c);
  return c;
}

test.before(async () => {
  masterKey = randomBytes(96);
  raw = await rawClient();
  client = await makeClient(masterKey, KEY_VAULT);
  extraClients.pop();
  client.dataClient.on('commandStarted', (e) => started.push(e));
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  for (const c of await raw?.db().admin().listDatabases().then((r) => r.databases, () => []) ?? []) {
    if (c.name.startsWith('sb_keys_a52')) await raw.db(c.name).dropDatabase().catch(() => undefined);
  }
  await Promise.all([client?.close(), raw?.close(), ...extraClients.map((c) => c.close())]);
});

const repo = (model: Function = Val, c: StrongboxClient = client) => c.repository(model as never) as unknown as Record<string, (...a: any[]) => any>;
const coll = (name = 'vals') => raw.db(DB).collection(name);
const DET = 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic';
const keyIdOf = (blob: Binary) => new Binary(Buffer.from(blob.buffer.subarray(1, 17)), 4);
const hex = (b: Binary | Uint8Array) => Buffer.from(b instanceof Binary ? b.buffer : b).toString('hex');
const isCipher = (v: unknown): v is Binary => v instanceof Binary && v.sub_type === 6;


/** Every data key of a key vault, unwrapped with the master key. */
async function dataKeysOf(vault: string, master: Buffer): Promise<Array<{ id: string; altNames: string[]; key: Buffer }>> {
  const [vdb, vcoll] = vault.split('.');
  const docs = await raw.db(vdb).collection(vcoll).find({}).toArray();
  return docs.map((d) => ({ id: hex(d._id as unknown as Binary), altNames: (d.keyAltNames ?? []) as string[], key: unwrapLocalKey(master, Buffer.from((d.keyMaterial as Binary).buffer)) }));
}

const xor = (bytes: Buffer, pad: number) => Buffer.from(bytes.map((x) => x ^ pad));

/** Ways a 32-byte secret can show in a dump: hex (also inspect's spaced hex once whitespace is gone), base64, decimal lists. */
function spellings(part: Buffer): string[] {
  return [part.toString('hex'), part.subarray(0, 12).toString('hex'), part.toString('base64').slice(0, 24), `[${[...part.subarray(0, 8)].join(',')},`, `,${[...part.subarray(1, 9)].join(',')},`];
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

/** A deep snapshot of a caller's value: every byte of every view (and where the view is), every BSON value's content. */
function snap(v: unknown, depth = 0): string {
  if (depth > 30) return '…';
  if (v === null || v === undefined || typeof v !== 'object') return typeof v === 'bigint' ? `${v}n` : `${typeof v}:${String(v)}`;
  if (v instanceof Binary) return `Binary(${v.sub_type},${v.position})@${v.buffer.byteOffset}:${Buffer.from(v.buffer.buffer, v.buffer.byteOffset, v.buffer.byteLength).toString('hex')}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}@${v.byteOffset}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (v instanceof ObjectId) return `ObjectId:${Buffer.from(v.id).toString('hex')}`;
  if (v instanceof Long) return `Long:${v.toString()}:${v.unsigned}`;
  if (v instanceof Decimal128) return `Dec:${Buffer.from(v.bytes).toString('hex')}`;
  if (v instanceof Date) return `Date:${v.getTime()}`;
  if (Array.isArray(v)) return `[${v.map((x) => snap(x, depth + 1)).join(',')}]`;
  return `{${Object.keys(v).map((k) => `${k}=${snap((v as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
}

/** The content of a value whatever class carries it (a Buffer written reads back as a Binary; a Long inside an object as a number). */
function leaves(v: unknown, out: string[] = []): string[] {
  if (v === null || v === undefined) out.push(`null`);
  else if (v instanceof Binary) out.push(`b:${hex(v.buffer.subarray(0, v.position))}`);
  else if (v instanceof Uint8Array) out.push(`b:${hex(v)}`);
  else if (v instanceof Long || typeof v === 'bigint' || typeof v === 'number') out.push(`n:${String(v)}`);
  else if (v instanceof Decimal128) out.push(`d:${v.toString()}`);
  else if (v instanceof ObjectId) out.push(`o:${v.toHexString()}`);
  else if (v instanceof Date) out.push(`t:${v.getTime()}`);
  else if (typeof v !== 'object') out.push(`${typeof v}:${String(v)}`);
  else if (Array.isArray(v)) { out.push('['); v.forEach((x) => leaves(x, out)); out.push(']'); } else {
    out.push('{');
    for (const [k, x] of Object.entries(v)) { out.push(`${k}:`); leaves(x, out); }
    out.push('}');
  }
  return out;
}

/** The byte views an object graph hands out (ObjectIds, Binaries, typed arrays), with where they were found. */
function viewsIn(where: string, v: unknown, out: Array<[string, Uint8Array]>, depth = 0): Array<[string, Uint8Array]> {
  if (depth > 12 || v == null || typeof v !== 'object') return out;
  if (v instanceof ObjectId) out.push([`${where} ObjectId`, v.id]);
  else if (v instanceof Binary) out.push([`${where} Binary`, v.buffer]);
  else if (v instanceof Uint8Array) out.push([`${where} Uint8Array`, v]);
  else for (const x of Object.values(v as object)) viewsIn(where, x, out, depth + 1);
  return out;
}
/** Bytes in memory of their own (not Node's pool), so that a test's own values never share memory with what it scans. */
const ownCopy = (text: string) => { const b = Buffer.allocUnsafeSlow(Buffer.byteLength(text)); b.write(text); return b; };
/** Offsets of every occurrence of `text` in `memory`. */
function occurrences(memory: Buffer, text: string): number[] {
  const out: number[] = [];
  for (let at = memory.indexOf(text); at >= 0; at = memory.indexOf(text, at + 1)) out.push(at);
  return out;
}
const backing = (view: Uint8Array) => Buffer.from(view.buffer, 0, view.buffer.byteLength);

// ---------------------------------------------------------------- generated values

const rawBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 90 }) },
  { weight: 1, arbitrary: fc.integer({ min: 16_300, max: 16_420 }).map((n) => new Uint8Array(randomBytes(n))) },
);
/** The same bytes in every form a caller may hand over: pooled Buffer, Buffer of its own, offset view, Uint8Array, Binary (subtypes 0 and 0x80, over a view). */
const binForm = fc.tuple(rawBytes, fc.constantFrom('pool', 'slow', 'view', 'u8', 'binary', 'binary80', 'binaryView')).map(([b, form]): unknown => {
  const view = () => Buffer.concat([randomBytes(7), Buffer.from(b), randomBytes(9)]).subarray(7, 7 + b.length);
  switch (form) {
    case 'pool': return Buffer.from(b);
    case 'slow': { const x = Buffer.allocUnsafeSlow(b.length); x.set(b); return x; }
    case 'view': return view();
    case 'u8': return new Uint8Array(b);
    case 'binary': return new Binary(Buffer.from(b));
    case 'binary80': return new Binary(Buffer.from(b), 0x80);
    default: return new Binary(view());
  }
});
const longArb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((x) => Long.fromBigInt(x));
const decArb = fc.tuple(fc.integer(), fc.nat(99)).map(([a, b]) => Decimal128.fromString(`${a}.${b}`));
const oidArb = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(Buffer.from(b)));
const strArb = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.integer({ min: 0, max: 90 }).map((n) => 'z'.repeat(n)));
const keyArb = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !k.includes('\u0000') && !k.startsWith('$') && !k.includes('.') && k !== '__proto__');
/** A whole object encrypted Random: Buffers, Binaries, typed arrays, Longs, Decimal128s, ObjectIds, nested. */
const objArb = (typed: boolean) => fc.record({
  a: binForm,
  n: fc.record({ l: longArb, d: decArb, o: oidArb, when: fc.date({ noInvalidDate: true }), bin: binForm, arr: fc.array(fc.oneof(binForm, strArb), { maxLength: 4 }) }),
  m: fc.dictionary(keyArb, fc.oneof(binForm, strArb, fc.integer()), { maxKeys: 3 }),
  ...(typed ? { t: fc.tuple(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 4 }), fc.array(fc.double({ noNaN: true }), { maxLength: 3 })).map(([i, d]) => [new Int32Array(i), new Float64Array(d)]) } : {}),
});
const docArb = (typed: boolean) => fc.record({
  s: strArb, b: binForm, o: oidArb, l: longArb,
  rs: strArb, rbin: binForm, robj: objArb(typed), rarr: fc.array(fc.oneof(binForm, strArb, longArb), { maxLength: 5 }), rl: longArb, rdec: decArb, rdate: fc.date({ noInvalidDate: true }),
});

// ---------------------------------------------------------------- 1. caller data and read values

test.serial('held: values the caller passes (pooled and own Buffers, offset views, Uint8Array, Binary of subtypes 0/0x80 over views, Long, Decimal128, ObjectId, Dates, whole objects and arrays holding them and other typed arrays, 16 KiB binaries) are byte-for-byte unchanged after insertOne, insertMany, save (new and loaded), updateOne $set, replaceOne, bulkWrite and Deterministic find filters', async (t) => {
  const samples = fc.sample(fc.tuple(docArb(true), docArb(true), docArb(false)), { numRuns: 14, seed: 5252 });
  const wrong: string[] = [];
  const failed: string[] = [];
  let ops = 0;
  for (const [k, [d, x, y]] of samples.entries()) {
    const name = uniq('caller');
    const before = snap([d, x, y]);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['insertOne', () => repo().insertOne({ name, ...d })],
      ['insertMany', () => repo().insertMany([{ name, ...x }, { name, ...y }])],
      ['save new', () => repo().save(Object.assign(new Val(), { name, ...y }))],
      ['save loaded', async () => { const e = await repo().findOne({ name, s: d.s, b: d.b, o: d.o, l: d.l }); Object.assign(e, { rbin: x.rbin, robj: x.robj, rarr: x.rarr, b: x.b, o: x.o }); return repo().save(e); }],
      ['updateOne $set', () => repo().updateOne({ name, s: x.s, b: x.b }, { $set: { rbin: d.rbin, robj: d.robj, rarr: d.rarr, b: y.b, o: y.o, l: y.l, rl: d.rl, rdec: d.rdec, rdate: d.rdate } })],
      ['replaceOne', () => repo().replaceOne({ name, o: y.o }, { name, ...x })],
      ['bulkWrite', () => repo().bulkWrite([{ insertOne: { document: { name, ...y } } }, { updateOne: { filter: { name, b: d.b }, update: { $set: { robj: y.robj, rbin: y.rbin } } } }, { replaceOne: { filter: { name, l: x.l }, replacement: { name, ...d } } }])],
      ['find filters', () => repo().find({ name, s: d.s, b: d.b, o: d.o, l: d.l }).toArray()],
      ['find $in', () => repo().find({ name, b: { $in: [d.b, x.b, y.b] }, o: { $in: [d.o, x.o] }, s: { $in: [x.s, y.s] } }).toArray()],
    ];
    for (const [what, call] of calls) {
      ops++;
      const e = await call().then(() => undefined, (err: unknown) => err);
      if (e !== undefined) failed.push(`${k} ${what}: ${describe(e)}`);
      const after = snap([d, x, y]);
      if (after !== before) { wrong.push(`sample ${k}: ${what} changed the caller's values`); break; }
    }
  }
  t.log(`${ops} calls, ${failed.length} refused`);
  t.true(failed.length < ops / 10, failed.slice(0, 5).join('\n'));
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: values read back (decrypted in process: Binaries, whole objects and arrays holding binaries, strings, dates, longs, decimals, ObjectIds) and kept stay equal to what was written after thousands of further encryptions, decryptions and pool allocations', async (t) => {
  const name = uniq('kept');
  const written = fc.sample(docArb(false), { numRuns: 40, seed: 5253 });
  await repo().insertMany(written.map((d) => ({ name, ...d })));
  // Read with the keys cached (in process), and once more on a fresh client (keys unwrapped for the read).
  const fresh = await makeClient(masterKey, KEY_VAULT);
  const reads = [await repo().find({ name }).toArray(), await repo(Val, fresh).find({ name }).toArray()];
  const fields = Object.keys(written[0]);
  const expected = (d: Document) => fields.map((f) => `${f}=${leaves(d[f]).join(' ')}`);
  const sorted = (docs: Document[]) => docs.map(expected).sort((a, b) => a.join().localeCompare(b.join()));
  const want = sorted(written);
  const wrong: string[] = [];
  reads.forEach((docs, r) => { if (JSON.stringify(sorted(docs)) !== JSON.stringify(want)) wrong.push(`read ${r}: not what was written`); });
  const atRead = reads.map((docs) => snap(docs));
  // Traffic: many more values sealed and opened (same keys and a new per-document one), pool churn between.
  const churn: Buffer[] = [];
  for (let round = 0; round < 15; round++) {
    const other = uniq('churn');
    const batch = fc.sample(docArb(false), { numRuns: 12, seed: round });
    await repo().insertMany(batch.map((d) => ({ name: other, ...d })));
    await Promise.all([repo().find({ name: other }).toArray(), repo(Val, fresh).find({ name: other }).toArray(), repo(Tenant).insertOne({ tenant: `${other}-t`, secret: 'q'.repeat(round * 7), blob: randomBytes(round * 3) })]);
    for (let i = 0; i < 200; i++) churn.push(Buffer.from(randomBytes(1 + (i % 60))));
    churn.splice(0, 150);
  }
  reads.forEach((docs, r) => {
    if (snap(docs) !== atRead[r]) wrong.push(`read ${r}: a kept value changed after further traffic`);
    if (JSON.stringify(sorted(docs)) !== JSON.stringify(want)) wrong.push(`read ${r}: kept values no longer what was written`);
  });
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// ---------------------------------------------------------------- 2. the HMAC against libmongocrypt

test.serial('held: Deterministic string and binData ciphertexts of 16,000–16,500 bytes (every length across the 16 KiB one-shot limit of both HMACs), 64 KiB, 100 KB and 1 MB, mixed in one insertMany with values of 0–300 bytes under two keys, are byte-identical to ClientEncryption.encrypt; the Random ones decrypt with ClientEncryption.decrypt', async (t) => {
  const lengths = new Set<number>([16_000, 16_384, 16_500, 65_536, 100_000, 1_000_000]);
  // binData of n bytes is n + 5 plaintext bytes: the IV's HMAC message is n + 31 bytes, the tag's 42 + padded(n + 5).
  for (let n = 16_318; n <= 16_362; n++) lengths.add(n);
  for (const n of fc.sample(fc.integer({ min: 16_000, max: 16_500 }), { numRuns: 12, seed: 52 })) lengths.add(n);
  const small = fc.sample(fc.integer({ min: 0, max: 300 }), { numRuns: 40, seed: 53 });
  const name = uniq('hmac');
  const all = [...lengths, ...small];
  const docs = all.map((n, k) => {
    // Strings of n UTF-8 bytes, some with multi-byte characters; binaries of n random bytes.
    const str = k % 3 === 0 ? `${'é'.repeat(Math.floor(n / 4))}${'a'.repeat(n - 2 * Math.floor(n / 4))}` : randomBytes(n).toString('base64').slice(0, n);
    const bin = new Binary(randomBytes(n));
    return { name, s: str, s2: str, b: bin, b2: bin, rs: str, rbin: bin };
  });
  await repo().insertMany(docs);
  const stored = await coll().find({ name }, { promoteValues: false }).toArray();
  t.is(stored.length, docs.length);
  const enc: ClientEncryption = client.encryption;
  const k1 = keyIdOf(stored[0].s as Binary);
  const k2 = keyIdOf(stored[0].s2 as Binary);
  t.not(hex(k1), hex(k2));
  const wrong: string[] = [];
  for (const doc of stored) {
    const s = (await enc.decrypt(doc.rs as Binary)) as string;
    const b = (await enc.decrypt(doc.rbin as Binary)) as Binary;
    const n = Buffer.byteLength(s);
    const orig = docs.find((d) => d.s === s);
    if (!orig || hex(orig.b) !== hex(b)) { wrong.push(`Random of ${n} bytes: decrypts to another value`); continue; }
    for (const [f, v, key] of [['s', s, k1], ['s2', s, k2], ['b', b, k1], ['b2', b, k2]] as const) {
      const expected = await enc.encrypt(v, { algorithm: DET, keyId: key });
      if (hex(expected) !== hex(doc[f] as Binary)) wrong.push(`${f} of ${n} bytes differs from libmongocrypt`);
    }
  }
  t.deepEqual(wrong.slice(0, 12), [], wrong.slice(0, 12).join('\n'));
  // And the repository finds each by its Deterministic values, reading back what was written.
  const probe = [...lengths].slice(0, 8);
  for (const d of docs.filter((x) => probe.includes(Buffer.byteLength(x.s)))) {
    const found = await repo().find({ name, s: d.s, b2: d.b }).toArray();
    if (found.length !== 1 || found[0].rs !== d.s) wrong.push(`find by ${Buffer.byteLength(d.s)}-byte values: ${found.length}`);
  }
  t.deepEqual(wrong, []);
});

// ---------------------------------------------------------------- 3. concurrency

test.serial('held: hundreds of concurrent writes and reads on a cold client and a second client racing it (per-document keys created concurrently by both, two fixed keys, cached and uncached keys mixed) store every value under its own key, decrypting with ClientEncryption to what was written', async (t) => {
  const vault = `sb_keys_a52c_${randomBytes(3).toString('hex')}.__keyVault`;
  const [a, b] = await Promise.all([makeClient(masterKey, vault), makeClient(masterKey, vault)]);
  const run = uniq('conc');
  const tenants = Array.from({ length: 14 }, (_, k) => `${run}-t${k}`);
  const jobs = Array.from({ length: 280 }, (_, k) => ({ tenant: tenants[k % tenants.length], secret: `sec-${k}-`.padEnd(k % 97, '#'), blob: Buffer.alloc(k % 50, k), tag: `tag-${k % 6}` }));
  const vals = Array.from({ length: 90 }, (_, k) => ({ name: run, s: `v${k}`.padEnd(k * 3, '.'), s2: `w${k}`, rs: `v${k}`.padEnd(k * 3, '.'), rs2: `w${k}`, b: Buffer.from(`b${k}`.repeat(k % 9)) }));
  const start = (from: number, to: number) => [
    ...jobs.slice(from, to).map((j, i) => { const c = i % 2 ? a : b; return i % 5 === 0 ? repo(Tenant, c).insertMany([j]) : repo(Tenant, c).insertOne(j); }),
    ...vals.slice(Math.floor(from / 3), Math.floor(to / 3)).map((v, i) => repo(Val, i % 3 ? a : b).insertOne(v)),
    ...tenants.map((tn, i) => repo(Tenant, i % 2 ? a : b).find({ tenant: tn }).toArray()),
    ...vals.slice(0, 10).map((v) => repo(Val, a).find({ name: run, s: v.s }).toArray()),
  ];
  // A first wave on cold keys; a second started while the first is in flight (some keys cached by then).
  const first = start(0, 140);
  await Promise.race(first);
  const second = start(140, 280);
  const results = await Promise.allSettled([...first, ...second]);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => describe((r as PromiseRejectedResult).reason));
  t.deepEqual(failed.slice(0, 5), []);
  const readBack = results.filter((r) => r.status === 'fulfilled' && Array.isArray(r.value)).flatMap((r) => (r as PromiseFulfilledResult<Document[]>).value);
  const wrong: string[] = [];
  for (const d of readBack) {
    if (d.tenant && !jobs.some((j) => j.tenant === d.tenant && j.secret === d.secret && hex(j.blob) === hex(d.blob))) wrong.push(`read ${d.tenant}: ${inspect(d).slice(0, 200)}`);
    if (d.name === run && !vals.some((v) => v.s === d.s && v.rs === d.rs && v.s2 === d.s2)) wrong.push(`read val ${String(d.s).slice(0, 10)}`);
  }
  const enc: ClientEncryption = a.encryption;
  const keyIds = new Map<string, string>();
  for (const alt of [...tenants, KEY, KEY2]) keyIds.set(alt, hex((await enc.getKeyByAltName(alt))!._id as Binary));
  t.is(new Set(keyIds.values()).size, tenants.length + 2, 'two key names share a key');
  const [vdb, vcoll] = vault.split('.');
  t.is(await raw.db(vdb).collection(vcoll).countDocuments({}), tenants.length + 2, 'a key name got two keys');
  const stored = await coll('tenants').find({ tenant: { $in: tenants } }, { promoteValues: false }).toArray();
  t.is(stored.length, jobs.length);
  for (const d of stored) {
    for (const f of ['secret', 'blob']) if (hex(keyIdOf(d[f] as Binary)) !== keyIds.get(d.tenant as string)) wrong.push(`${d.tenant}: ${f} under another key`);
    if (hex(keyIdOf(d.tag as Binary)) !== keyIds.get(KEY)) wrong.push(`${d.tenant}: tag under another key`);
    const secret = await enc.decrypt(d.secret as Binary);
    const blob = await enc.decrypt(d.blob as Binary) as Binary;
    const tag = await enc.decrypt(d.tag as Binary);
    if (!jobs.some((j) => j.tenant === d.tenant && j.secret === secret && hex(j.blob) === hex(blob) && j.tag === tag)) wrong.push(`${d.tenant}: decrypts to ${String(secret).slice(0, 20)}`);
  }
  const storedVals = await coll().find({ name: run }, { promoteValues: false }).toArray();
  t.is(storedVals.length, vals.length);
  for (const d of storedVals) {
    for (const [f, alt] of [['s', KEY], ['rs', KEY], ['b', KEY], ['s2', KEY2], ['rs2', KEY2]]) if (hex(keyIdOf(d[f] as Binary)) !== keyIds.get(alt)) wrong.push(`val ${f} under another key`);
    const [s, rs, s2, rs2, b] = await Promise.all(['s', 'rs', 's2', 'rs2', 'b'].map((f) => enc.decrypt(d[f] as Binary)));
    const orig = vals.find((x) => x.s === s);
    if (!orig || rs !== s || s2 !== orig.s2 || rs2 !== orig.s2 || hex(b as Binary) !== hex(orig.b)) wrong.push(`val ${String(s).slice(0, 10)}: fields decrypt to another document's values`);
    else if (hex(await enc.encrypt(s, { algorithm: DET, keyId: keyIdOf(d.s as Binary) })) !== hex(d.s as Binary)) wrong.push(`val ${String(s).slice(0, 10)}: Deterministic differs from libmongocrypt`);
  }
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

// ---------------------------------------------------------------- 4. key material

test.serial('held: no data key (its MAC, encryption or IV part), no MAC/IV key XOR ipad (0x36) or opad (0x5c), and no master key shows in util.inspect (showHidden, depth Infinity, customInspect, getters) or cycle-safe JSON of the client, engine, repositories, key vault and encryption handle after in-process encryption and decryption', async (t) => {
  const name = uniq('leak');
  await repo().insertMany([{ name, s: 'LEAK-S', s2: 'LEAK-S2', rs: 'LEAK-RS'.repeat(3000), b: randomBytes(17_000) }, { name, robj: { a: Buffer.from('x') } }]);
  await repo(Tenant).insertOne({ tenant: `${name}-t`, secret: 'LEAK-T' });
  await repo().find({ name }).toArray();
  await repo(Tenant).find({ tenant: `${name}-t` }).toArray();
  const keys = await dataKeysOf(KEY_VAULT, masterKey);
  t.true(keys.length >= 3);
  const secrets: Array<[string, Buffer]> = [['master key', masterKey.subarray(0, 32)], ['master key enc', masterKey.subarray(32, 64)]];
  for (const { altNames, key } of keys) {
    const what = altNames.join();
    const mac = key.subarray(0, 32);
    const iv = key.subarray(64, 96);
    secrets.push([`${what} mac`, mac], [`${what} enc`, key.subarray(32, 64)], [`${what} iv`, iv]);
    secrets.push([`${what} mac^ipad`, xor(mac, 0x36)], [`${what} mac^opad`, xor(mac, 0x5c)], [`${what} iv^ipad`, xor(iv, 0x36)], [`${what} iv^opad`, xor(iv, 0x5c)]);
  }
  const base = { depth: Infinity, showHidden: true, customInspect: true, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity };
  const dumps: Array<[string, string]> = [];
  const subjects: Array<[string, unknown]> = [['client', client], ['engine', client.engine], ['repository', client.repository(Val as never)], ['tenant repository', client.repository(Tenant as never)], ['keyVault', client.keyVault], ['encryption', client.encryption]];
  for (const [what, obj] of subjects) {
    dumps.push([`inspect ${what}`, inspect(obj, base)]);
    dumps.push([`json ${what}`, safeJson(obj)]);
  }
  dumps.push(['inspect engine with getters', inspect(client.engine, { ...base, getters: true })]);
  t.true(dumps.some(([w, d]) => w === 'inspect engine' && d.includes('HmacSha512')), 'the dump reaches the HMAC key blocks');
  const wrong: string[] = [];
  for (const [what, dump] of dumps) {
    const text = dump.replace(/\s+/g, '');
    for (const [name2, secret] of secrets) for (const s of spellings(secret)) if (text.includes(s)) wrong.push(`${what}: ${name2} as ${s.slice(0, 16)}…`);
  }
  t.deepEqual([...new Set(wrong)].slice(0, 12), [], [...new Set(wrong)].slice(0, 12).join('\n'));
});

// ---------------------------------------------------------------- 5. the monotonic key cache

test.serial('held: a data key deleted from the key vault fails closed once 61 s or more have passed on the monotonic clock, whatever the wall clock did (generated steps back and forward): cached by a write, by a read only, or a per-document key; nothing is written under the deleted key, no read returns its plaintext', async (t) => {
  const cases = fc.sample(fc.record({ wallMs: fc.integer({ min: -40 * 86_400_000, max: 40 * 86_400_000 }), monotonicMs: fc.integer({ min: 61_000, max: 7 * 86_400_000 }) }), { numRuns: 3, seed: 5254 });
  cases.unshift({ wallMs: -3_600_000, monotonicMs: 61_000 });
  const modes = ['write', 'read', 'tenant'] as const;
  const wrong: string[] = [];
  for (const [k, shift] of cases.entries()) {
    for (const mode of k === 0 ? modes : [modes[k % 3]]) {
      const where = `${mode} ${JSON.stringify(shift)}`;
      const vault = `sb_keys_a52d_${randomBytes(3).toString('hex')}.__keyVault`;
      const c = await makeClient(masterKey, vault);
      const seen: CommandStartedEvent[] = [];
      c.dataClient.on('commandStarted', (e) => seen.push(e));
      const name = uniq('del');
      const tenant = `${name}-t`;
      if (mode === 'tenant') await repo(Tenant, c).insertOne({ tenant, secret: 'DEL-OLD' });
      else if (mode === 'write') await repo(Val, c).insertOne({ name, s: 'DEL-OLD', rs2: 'DEL-OLD' });
      else {
        const writer = await makeClient(masterKey, vault);
        await repo(Val, writer).insertOne({ name, s: 'DEL-OLD', rs2: 'DEL-OLD' });
        if ((await repo(Val, c).find({ name }).toArray())[0]?.s !== 'DEL-OLD') wrong.push(`${where}: the read before deletion failed`);
      }
      const deleted = new Set((await dataKeysOf(vault, masterKey)).map((key) => key.id));
      const [vdb, vcoll] = vault.split('.');
      await raw.db(vdb).collection(vcoll).deleteMany({});
      const restore = shiftClocks(shift);
      try {
        seen.length = 0;
        const w = await (mode === 'tenant' ? repo(Tenant, c).insertOne({ tenant, secret: 'DEL-NEW' }) : repo(Val, c).insertOne({ name, s: 'DEL-NEW', rs2: 'DEL-NEW' })).then(() => undefined, (e: unknown) => e);
        const r = await (mode === 'tenant' ? repo(Tenant, c).find({ tenant }).toArray() : repo(Val, c).find({ name }).toArray()).then((docs: Document[]) => docs, (e: unknown) => e);
        // An alt name the client had resolved keeps its id: the write must fail; a read-only client creates a new key, and that is fine.
        if (mode !== 'read' && (!(w instanceof StrongboxError) || w.code !== 'ENCRYPT_FAILED')) wrong.push(`${where}: write ${w === undefined ? 'accepted' : describe(w)}`);
        if (mode !== 'read' && seen.some((e) => e.commandName === 'insert' && e.databaseName === DB)) wrong.push(`${where}: an insert was sent`);
        if (Array.isArray(r)) { if (r.some((d) => JSON.stringify(d).includes('DEL-OLD'))) wrong.push(`${where}: the deleted key's value was read`); } else if (!(r instanceof StrongboxError) || !/^DECRYPT_/.test(r.code)) wrong.push(`${where}: read ${describe(r)}`);
        for (const e of [w, r]) if (e instanceof Error && inspect(e, { depth: 6, showHidden: true }).includes('DEL-')) wrong.push(`${where}: plaintext in an error`);
      } finally {
        restore();
      }
      // Only the document written before the deletion is under the deleted keys.
      const stored = await coll(mode === 'tenant' ? 'tenants' : 'vals').find(mode === 'tenant' ? { tenant } : { name }, { promoteValues: false }).toArray();
      const underDeleted = stored.filter((d) => Object.values(d).some((v) => isCipher(v) && deleted.has(hex(keyIdOf(v)))));
      if (underDeleted.length !== 1) wrong.push(`${where}: ${underDeleted.length} documents under the deleted keys`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// ---------------------------------------------------------------- 6. plaintext in commands, logs, errors

test.serial('held: no plaintext of an encrypted field (strings, binData bytes, keys and values inside whole objects, 30 KiB and 100 KB values) appears in any command, as text, as BSON bytes, or in the memory under any ciphertext Binary, nor in any warning or error (refused values, key names with NUL), on a cold client with per-document keys being created', async (t) => {
  const M = `PLN${randomBytes(5).toString('hex')}`;
  const MB = Buffer.from(M);
  const warns: string[] = [];
  const vault = `sb_keys_a52m_${randomBytes(3).toString('hex')}.__keyVault`;
  const c = await makeClient(masterKey, vault, (m) => warns.push(m));
  const seen: CommandStartedEvent[] = [];
  const underCiphertext: string[] = [];
  c.dataClient.on('commandStarted', (e) => {
    seen.push(e);
    for (const blob of ciphertextsIn(e.command, [])) if (backing(blob.buffer).includes(M)) underCiphertext.push(e.commandName);
  });
  const name = uniq('cmd');
  const big = `${M}-`.repeat(2000);
  const huge = Buffer.concat(Array.from({ length: 7000 }, () => MB));
  const errors: unknown[] = [];
  await Promise.all([
    repo(Val, c).insertOne({ name, s: `${M}-s`, s2: `${M}-s2`, rs: big, rs2: M, b: Buffer.from(`${M}-b`), rbin: huge, robj: { [`${M}key`]: `${M}-val`, n: { bin: Buffer.from(M), l: Long.fromNumber(7) } }, rarr: [M, Buffer.from(M), [M]] }),
    repo(Val, c).insertMany(Array.from({ length: 30 }, (_, k) => ({ name, s: `${M}-${k}`, rs: M.repeat(k % 5 + 1), b2: new Binary(Buffer.from(`${M}${k}`), 0x80) }))),
    repo(Tenant, c).insertMany([{ tenant: `${name}-t1`, secret: `${M}-t1`, blob: Buffer.from(M), tag: `${M}-tag` }, { tenant: `${name}-t2`, secret: big }]),
    repo(Val, c).save(Object.assign(new Val(), { name, s: `${M}-save`, rbin: new Binary(Buffer.from(M)) })),
  ]);
  const loaded = await repo(Val, c).findOne({ name, s: `${M}-save` });
  loaded.rs = `${M}-loaded`;
  loaded.robj = { [M]: M };
  await repo(Val, c).save(loaded);
  await repo(Val, c).updateOne({ name, s: `${M}-s`, b: Buffer.from(`${M}-b`) }, { $set: { rs2: `${M}-upd`, robj: { a: M, [M]: Buffer.from(M) }, b2: Buffer.from(M) } });
  await repo(Val, c).replaceOne({ name, s: `${M}-1` }, { name, s: `${M}-repl`, rs: `${M}-repl`, rbin: Buffer.from(huge.subarray(0, 16_400)) });
  await repo(Val, c).bulkWrite([{ insertOne: { document: { name, s: `${M}-bw`, rarr: [M] } } }, { updateOne: { filter: { s: `${M}-bw` }, update: { $set: { rs: `${M}-bwu` } } } }, { replaceOne: { filter: { name, s: `${M}-2` }, replacement: { name, s: `${M}-bwr`, rs2: M } } }]);
  await repo(Val, c).find({ name, s: { $in: [`${M}-s`, `${M}-3`] }, b: Buffer.from(`${M}-b`) }).toArray();
  await repo(Tenant, c).find({ tag: `${M}-tag` }).toArray();
  // Refusals: a key holding NUL inside a whole encrypted object, values of the wrong type.
  for (const call of [
    () => repo(Val, c).insertOne({ name, robj: { [`${M}\u0000`]: M } }),
    () => repo(Val, c).insertOne({ name, rarr: [{ [`x${M}\u0000`]: 1 }] }),
    () => repo(Val, c).insertOne({ name, s: Buffer.from(M) }),
    () => repo(Val, c).insertOne({ name, rl: M }),
    () => repo(Val, c).insertOne({ name, b: M }),
    () => repo(Val, c).updateOne({ name }, { $set: { robj: { [`${M}\u0000`]: 1 } } }),
    () => repo(Val, c).find({ s: { [M]: 1 } }).toArray(),
  ]) errors.push(await call().then(() => 'accepted', (e: unknown) => e));
  const wrong: string[] = [];
  t.true(seen.length > 10);
  for (const e of seen) {
    if (JSON.stringify(e.command).includes(M)) wrong.push(`${e.commandName}: plaintext as text`);
    else if (Buffer.from(BSON.serialize(e.command)).includes(MB)) wrong.push(`${e.commandName}: plaintext bytes`);
  }
  if (underCiphertext.length) wrong.push(`plaintext in the memory under ciphertexts of: ${[...new Set(underCiphertext)].join(', ')}`);
  for (const w of warns) if (w.includes(M)) wrong.push(`warning: ${w.slice(0, 80)}`);
  errors.forEach((e, i) => {
    if (e === 'accepted') wrong.push(`refusal ${i}: accepted`);
    else if (!(e instanceof StrongboxError)) wrong.push(`refusal ${i}: ${describe(e)}`);
    else if (inspect(e, { depth: Infinity, showHidden: true }).includes(M) || JSON.stringify(e).includes(M) || String(e.stack).includes(M)) wrong.push(`refusal ${i} (${e.code}): plaintext in the error`);
  });
  t.deepEqual(wrong, [], wrong.join('\n'));
});

/** The ciphertexts (subtype 6) in a command. */
function ciphertextsIn(v: unknown, out: Binary[], depth = 0): Binary[] {
  if (depth > 12 || v == null || typeof v !== 'object') return out;
  if (isCipher(v)) out.push(v);
  else if (!(v instanceof Uint8Array) && !(v instanceof Binary)) for (const x of Object.values(v)) ciphertextsIn(x, out, depth + 1);
  return out;
}

// ---------------------------------------------------------------- findings

test.serial('FINDING-1: every unwrapped data key is kept in a slice of Node\'s shared Buffer pool (dataKeys.ts unwrap: Buffer.from(material)): ObjectIds and Binaries that command listeners receive and that reads return are views of an ArrayBuffer holding the raw data key', async (t) => {
  const vault = `sb_keys_a52k_${randomBytes(3).toString('hex')}.__keyVault`;
  const c = await makeClient(masterKey, vault);
  const handedOut: Array<[string, Uint8Array]> = [];
  c.dataClient.on('commandStarted', (e: CommandStartedEvent) => viewsIn(`command ${e.commandName}`, e.command, handedOut));
  c.dataClient.on('commandSucceeded', (e: CommandSucceededEvent) => viewsIn(`reply to ${e.commandName}`, e.reply, handedOut));
  const run = uniq('keypool');
  for (let k = 0; k < 6; k++) {
    const tenant = `${run}-t${k}`;
    viewsIn('insertOne result', await repo(Tenant, c).insertOne({ tenant, secret: `s${k}` }), handedOut);
    viewsIn('find result', await repo(Tenant, c).find({ tenant }).toArray(), handedOut);
  }
  viewsIn('insertMany result', await repo(Val, c).insertMany([{ name: run, s: 'x', rs2: 'y' }]), handedOut);
  viewsIn('find result', await repo(Val, c).find({ name: run }).toArray(), handedOut);
  const keys = await dataKeysOf(vault, masterKey);
  t.true(keys.length >= 8);
  const wrong = new Set<string>();
  for (const [where, view] of handedOut) {
    const memory = backing(view);
    for (const { altNames, key } of keys) {
      if (memory.includes(key.subarray(0, 32)) || memory.includes(key.subarray(32, 64)) || memory.includes(key.subarray(64, 96))) wrong.add(`${where} (${memory.length}-byte memory) holds data key ${altNames.join()}`);
    }
  }
  t.deepEqual([...wrong].slice(0, 8), [], [...wrong].slice(0, 8).join('\n'));
});

test.serial('FINDING-2: plaintext copies are made in Node\'s shared Buffer pool before the data keys are awaited (commandEncryptor.ts encryptBatch → seal): while a key is fetched and unwrapped (a new per-document key, a key vault some tens of ms away), command listeners receive ObjectIds / Binaries of concurrent replies whose memory holds the pending write\'s plaintext', async (t) => {
  // A key vault whose reads take some tens of milliseconds (FerretDB scans it; a remote key vault has the same latency).
  const vault = `sb_keys_a52l_${randomBytes(3).toString('hex')}.__keyVault`;
  const [vdb, vcoll] = vault.split('.');
  await raw.db(vdb).collection(vcoll).insertMany(Array.from({ length: 1500 }, (_, i) => ({ _id: new Binary(randomBytes(16), 4) as never, keyAltNames: [`unrelated-${i}`] })));
  const c = await makeClient(masterKey, vault);
  const name = uniq('transient');
  await coll('filler').insertMany(Array.from({ length: 60 }, (_, k) => ({ name, k })));
  const active = new Set<string>();
  const hits = new Set<string>();
  const runs: string[] = [];
  const scan = (where: string, doc: unknown) => {
    for (const [w, view] of viewsIn(where, doc, [])) for (const m of active) if (backing(view).includes(m)) { hits.add(w); runs[runs.length - 1] = 'hit'; }
  };
  c.dataClient.on('commandStarted', (e: CommandStartedEvent) => { if (active.size) scan(`command ${e.commandName}`, e.command); });
  c.dataClient.on('commandSucceeded', (e: CommandSucceededEvent) => { if (active.size) scan(`reply to ${e.commandName}`, e.reply); });
  for (let k = 0; k < 8; k++) {
    const M = `TRN${randomBytes(5).toString('hex')}`;
    let done = false;
    // Other requests of the application, running while the write waits for its new tenant's key.
    const reader = async () => { while (!done) await c.dataClient.db(DB).collection('filler').find({ name }).limit(2).toArray(); };
    const readers = [reader(), reader(), reader()];
    runs.push('-');
    active.add(M);
    await repo(Tenant, c).insertOne({ tenant: `${name}-t${k}`, secret: `${M}-secret` }).finally(() => { done = true; });
    active.delete(M);
    await Promise.all(readers);
  }
  t.log(`runs: ${runs.join(' ')}`);
  t.deepEqual([...hits], [], `memory handed to command listeners held a pending write's plaintext: ${[...hits].join(', ')}`);
});

test.serial('FINDING-3: binary plaintext the caller passes for encrypted fields (kept by the caller in memory of its own) is copied into Node\'s shared Buffer pool and never wiped (bson/documents.ts detachedValue: Buffer.from(value) for the input snapshot; readAsBsonWrites\' BSON.serialize round trip for the entity-tracking snapshot): long after the write, the memory under the ObjectIds of that very insert command, of the entity returned and of later reads holds the plaintext', async (t) => {
  const name = uniq('inputcopy');
  await repo().insertOne({ name, s: 'warm', rs2: 'warm' }); // keys cached: no await while a plaintext is being sealed
  const wrong = new Set<string>();
  const marks: string[] = [];
  const handedOut: Array<[string, Uint8Array]> = [];
  const onStarted = (e: CommandStartedEvent) => { if (e.databaseName === DB) viewsIn(`command ${e.commandName}`, e.command, handedOut); };
  client.dataClient.on('commandStarted', onStarted);
  try {
    for (let k = 0; k < 6; k++) {
      const M = `INP${randomBytes(5).toString('hex')}`;
      marks.push(M);
      // The caller's bytes in memory of their own: only a copy Strongbox makes can put them in the pool.
      const doc = { name, rbin: ownCopy(`${M}-rbin`), b: ownCopy(`${M}-b`), robj: { inner: ownCopy(`${M}-inner`) } };
      viewsIn('insertOne result', k % 2 ? await repo().insertOne(doc) : (await repo().insertMany([doc]))[0], handedOut);
      await repo().updateOne({ name, b: ownCopy(`${M}-b`) }, { $set: { rbin: ownCopy(`${M}-upd`) } });
      viewsIn('find result', await repo().find({ name }, { limit: 3 }).toArray(), handedOut);
    }
  } finally {
    client.dataClient.off('commandStarted', onStarted);
  }
  await new Promise((r) => setTimeout(r, 50));
  // A value's own bytes hold its plaintext, of course: only plaintext beside a view, in memory it shares, counts.
  for (const [where, view] of handedOut) for (const M of marks) for (const at of occurrences(backing(view), M)) {
    if (at < view.byteOffset || at >= view.byteOffset + view.byteLength) wrong.add(`${where}: the memory under it holds ${backing(view).subarray(at, at + 20).toString('latin1').split('\u0000')[0]}`);
  }
  t.deepEqual([...wrong].slice(0, 8), [], [...wrong].slice(0, 8).join('\n'));
});


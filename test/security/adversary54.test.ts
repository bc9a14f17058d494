/**
 * Round 54 (brief adv54, on 2928dec): values of a batch opened as ranges of one plaintext buffer
 * (aead.ts openMany), read with valueOf(type, buffer, start, end) (valueCipher.ts: valueBytes
 * bounded by `end`, the regex NUL search, the string fast path on U+FFFD, the wipe of the whole
 * buffer), the key-id memo (since 1879c00 the header cache of blob.ts inspectEncryptedBlob, behind
 * sealedKeyHex) and the HMAC's reused scratch view (hmac.ts). Stored values are sealed here with
 * data keys unwrapped from the key vault; libmongocrypt (ClientEncryption.decrypt) is the
 * reference for what each value reads as.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Binary, BSON, ObjectId, type ClientEncryption, type Document, type MongoClient } from 'mongodb';
import { Encrypted, Field, Id, Model, type StrongboxClient } from '../../src/index';
import { AeadKey } from '../../src/crypto/aead';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { decryptValues, sealedKeyHex } from '../../src/crypto/valueCipher';
import { describe, localKeyClient, wrapLocalKey, unwrapLocalKey } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY = 'a54-main';
const KEY2 = 'a54-second';

@Model({ db: DB, collection: 'vals', keyAltName: KEY })
class Val54 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) name?: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) s?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: KEY2, optional: true }) s2?: any;
}

let client: StrongboxClient;
let raw: MongoClient;
let masterKey: Buffer;
const KEY_VAULT = `sb_keys_a54_${randomBytes(3).toString('hex')}.__keyVault`;

interface DataKey { id: Buffer; altNames: string[]; key: Buffer }
let keyA: DataKey;
let keyB: DataKey;
/** Ids that differ from A's in only the last byte (C) and only the first byte (D). */
let keyC: DataKey;
let keyD: DataKey;

const enc = (): ClientEncryption => client.encryption;
type Engine = { decryptDocuments(d: Document[]): Promise<{ docs: Document[]; failures: Map<number, Array<{ path: string }>> }>; decryptValue(v: Binary, p?: string): Promise<unknown>; crypt: Record<string, (...a: unknown[]) => unknown> };
const engine = () => (client as unknown as { engine: Engine }).engine;

/** Counts libmongocrypt decryption contexts (the fallback) made while `run` runs. */
async function fallbacks<T>(run: () => Promise<T>): Promise<{ result: T; contexts: number }> {
  const e = engine() as unknown as { crypt: object };
  const crypt = e.crypt as Record<string, (...a: unknown[]) => unknown>;
  let contexts = 0;
  e.crypt = new Proxy(crypt, {
    get(target, name) {
      const v = target[name as string];
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => { if (name === 'makeDecryptionContext' || name === 'makeExplicitDecryptionContext') contexts++; return v.apply(target, args); };
    },
  });
  try {
    return { result: await run(), contexts };
  } finally {
    e.crypt = crypt;
  }
}

const vault = () => { const [vdb, vcoll] = KEY_VAULT.split('.'); return raw.db(vdb).collection(vcoll); };

async function dataKeysOf(): Promise<DataKey[]> {
  const docs = await vault().find({}).toArray();
  return docs.map((d) => ({ id: Buffer.from((d._id as unknown as Binary).buffer), altNames: (d.keyAltNames ?? []) as string[], key: unwrapLocalKey(masterKey, Buffer.from((d.keyMaterial as Binary).buffer)) }));
}

/** A data key of our own in the vault, under the local master key, with the given id. */
async function plantKey(id: Buffer, altName: string): Promise<DataKey> {
  const template = (await vault().findOne({ keyAltNames: KEY }))!;
  const key = randomBytes(96);
  await vault().insertOne({ ...template, _id: new Binary(id, 4) as never, keyAltNames: [altName], keyMaterial: new Binary(wrapLocalKey(masterKey, key), 0) });
  return { id, altNames: [altName], key };
}

test.before(async () => {
  masterKey = randomBytes(96);
  raw = await rawClient();
  client = await localKeyClient([Val54], masterKey, KEY_VAULT, { warn: () => undefined });
  await (client.repository(Val54 as never) as unknown as { insertOne(d: Document): Promise<unknown> }).insertOne({ name: 'init', s: 'init', s2: 'init' });
  const keys = await dataKeysOf();
  keyA = keys.find((k) => k.altNames.includes(KEY))!;
  keyB = keys.find((k) => k.altNames.includes(KEY2))!;
  const idC = Buffer.from(keyA.id); idC[15] ^= 1;
  const idD = Buffer.from(keyA.id); idD[0] ^= 0x80;
  keyC = await plantKey(idC, 'a54-last-byte');
  keyD = await plantKey(idD, 'a54-first-byte');
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await raw?.db(KEY_VAULT.split('.')[0]).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close()]);
});

const AL = (() => { const b = Buffer.alloc(8); b.writeUInt32BE(18 * 8, 4); return b; })();

/** A stored value sealed as libmongocrypt would (AD = algorithm ‖ key id ‖ type), tag correct. */
function seal(k: DataKey, algorithm: number, type: number, plaintext: Buffer): Binary {
  const ad = Buffer.concat([Buffer.from([algorithm]), k.id, Buffer.from([type])]);
  const iv = algorithm === 1
    ? createHmac('sha512', k.key.subarray(64, 96)).update(ad).update(AL).update(plaintext).digest().subarray(0, 16)
    : randomBytes(16);
  const c = createCipheriv('aes-256-cbc', k.key.subarray(32, 64), iv);
  const s = Buffer.concat([c.update(plaintext), c.final()]);
  const tag = createHmac('sha512', k.key.subarray(0, 32)).update(ad).update(iv).update(s).update(AL).digest().subarray(0, 32);
  return new Binary(Buffer.concat([ad, iv, s, tag]), 6);
}

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const bsonString = (bytes: Buffer, lengthDelta = 0, terminator = true) => Buffer.concat([int32(bytes.length + 1 + lengthDelta), bytes, terminator ? Buffer.from([0]) : Buffer.alloc(0)]);
/** The bytes of a BSON value of `type` (the element's body), as BSON writes it. */
const bodyOf = (v: unknown): Buffer => { const d = Buffer.from(BSON.serialize({ v })); return d.subarray(7, d.length - 1); };

type Outcome = { value: unknown } | { refused: string };
const settle = (p: Promise<unknown>): Promise<Outcome> => p.then((value) => ({ value }), (e: unknown) => ({ refused: describe(e) }));
const shown = (v: unknown) => inspect(v, { depth: 9, maxStringLength: 400, maxArrayLength: 400 });
const same = (a: Outcome, b: Outcome) => ('refused' in a) === ('refused' in b) && ('refused' in a || shown((a as { value: unknown }).value) === shown((b as { value: unknown }).value));
const show = (o: Outcome) => ('refused' in o ? `refused (${o.refused.slice(0, 60)})` : `value ${inspect(o.value).slice(0, 60)}`);

// ---------------------------------------------------------------- generated plaintexts, well-formed and not

/** UTF-8 text fragments near the edges of validity. */
const utf8Bytes = fc.array(fc.oneof(
  fc.constantFrom([0x61], [0x00], [0xc2, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbf, 0xbd], [0xef, 0xbb, 0xbf], [0xef, 0xbf, 0xbe],
    [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xff], [0xe2, 0x82], [0xf0, 0x9f]),
  fc.integer({ min: 0, max: 255 }).map((b) => [b]),
), { maxLength: 12 }).map((parts) => Buffer.from(parts.flat()));

interface Plain { what: string; type: number; p: Buffer; wellFormed?: boolean }
const plainArb: fc.Arbitrary<Plain> = fc.oneof(
  // strings (and code, symbol) with lengths that overrun into, or stop short of, the next range
  fc.tuple(fc.constantFrom(0x02, 0x02, 0x02, 0x0d, 0x0e), utf8Bytes, fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -4, max: 40 }) }), fc.boolean())
    .map(([type, b, delta, term]) => ({ what: `type ${type} ${b.toString('hex')} delta ${delta}${term ? '' : ' no 0'}`, type, p: bsonString(b, delta, term || delta !== 0) })),
  // regexes with or without either terminator
  fc.tuple(fc.uint8Array({ maxLength: 6 }), fc.constantFrom('', 'i', 'imsx', 'z', 'ii'), fc.boolean(), fc.boolean(), fc.uint8Array({ maxLength: 3 }), fc.boolean())
    .map(([pat, opts, t1, t2, tail, withTail]) => {
      const pattern = Buffer.from(pat.map((x) => x || 0x61));
      const p = Buffer.concat([pattern, t1 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from(opts), t2 ? Buffer.from([0]) : Buffer.alloc(0), withTail ? Buffer.from(tail) : Buffer.alloc(0)]);
      return { what: `regex ${p.toString('hex')}`, type: 0x0b, p };
    }),
  // binData / document / array / code with scope / dbPointer whose length claims more or less
  fc.tuple(fc.uint8Array({ maxLength: 10 }), fc.integer({ min: -3, max: 30 }), fc.constantFrom(0, 4, 0x80))
    .map(([b, delta, sub]) => ({ what: `binData ${Buffer.from(b).toString('hex')} sub ${sub} delta ${delta}`, type: 0x05, p: Buffer.concat([int32(b.length + delta), Buffer.from([sub]), Buffer.from(b)]) })),
  fc.tuple(fc.constantFrom(0x03, 0x04, 0x0f, 0x0c), fc.integer({ min: -3, max: 30 }), fc.constantFrom<unknown>({ a: 1 }, { b: new Binary(Buffer.from('in-doc-bin')) }, [1, 'x'], {}))
    .map(([type, delta, v]) => {
      let p: Buffer;
      if (type === 0x0c) p = Buffer.concat([bsonString(Buffer.from('db.c'), delta), Buffer.alloc(12, 7)]);
      else if (type === 0x0f) { const code = bsonString(Buffer.from('f()')); const scope = Buffer.from(BSON.serialize((Array.isArray(v) ? { a: v } : v) as Document)); p = Buffer.concat([int32(4 + code.length + scope.length + delta), code, scope]); }
      else { p = Buffer.from(bodyOf(v)); p.writeInt32LE(p.readInt32LE(0) + delta, 0); }
      return { what: `type ${type} ${inspect(v)} delta ${delta}`, type, p };
    }),
  // fixed-size types of the right and wrong sizes
  fc.tuple(fc.constantFrom(0x01, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x0a, 0x06), fc.integer({ min: -2, max: 2 }), fc.uint8Array({ minLength: 18, maxLength: 18 }))
    .map(([type, delta, b]) => {
      const size = ({ 1: 8, 7: 12, 8: 1, 9: 8, 16: 4, 17: 8, 18: 8, 19: 16, 10: 0, 6: 0 } as Record<number, number>)[type];
      const p = Buffer.from(b).subarray(0, Math.max(0, size + delta));
      if (type === 0x08 && p.length) p[0] &= 1;
      return { what: `type ${type} ${p.toString('hex')}`, type, p };
    }),
  // plaintexts whose first bytes are zeros (what a run-on NUL search would find in a neighbour)
  fc.integer({ min: 0, max: 20 }).map((n) => ({ what: `zeros ${n} as int32`, type: 0x10, p: Buffer.alloc(4, 0) })).map((x) => x),
);

/** Well-formed values of the same types, so that many batches read in process throughout. */
const validArb: fc.Arbitrary<Plain> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }).map((x) => ({ what: `string ${JSON.stringify(x)}`, type: 0x02, p: bsonString(Buffer.from(x)) })),
  fc.tuple(fc.stringMatching(/^[a-z]{0,6}$/), fc.constantFrom('', 'i', 'ims')).map(([pat, o]) => ({ what: `regex /${pat}/${o}`, type: 0x0b, p: Buffer.from(`${pat}\0${o}\0`, 'latin1') })),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => ({ what: `int32 ${n}`, type: 0x10, p: int32(n) })),
  fc.uint8Array({ maxLength: 20 }).map((b) => ({ what: `binData ${Buffer.from(b).toString('hex')}`, type: 0x05, p: bodyOf(new Binary(Buffer.from(b))) })),
  fc.constantFrom<unknown>({ a: 1 }, { b: new Binary(Buffer.from('in-doc-bin')) }, [1, 'x'], {}, new BSON.Code('g()', { q: 1 })).map((v) => ({ what: `value ${inspect(v)}`, type: Buffer.from(BSON.serialize({ v }))[4], p: bodyOf(v) })),
);

const itemArb = fc.tuple(fc.oneof({ weight: 4, arbitrary: validArb.map((x) => ({ ...x, wellFormed: true })) }, { weight: 1, arbitrary: plainArb }), fc.constantFrom('A', 'B', 'C', 'D'), fc.constantFrom(1, 2));
const keyOf = (who: string) => ({ A: keyA, B: keyB, C: keyC, D: keyD } as Record<string, DataKey>)[who];

// ---------------------------------------------------------------- 1. neighbours, value for value

test.serial('held: generated batches of authenticated plaintexts (strings/code/symbol with length fields overrunning or short of their range, regexes without one or both terminators, binData/document/array/code-with-scope/dbPointer with wrong lengths, fixed types of wrong sizes, values of zeros) placed next to each other under four keys (A, B, C = A with last id byte flipped, D = A with first byte flipped), in alternating order: decryptDocuments gives, value for value, what ClientEncryption.decrypt gives each value alone; failures are attributed exactly where libmongocrypt refuses; decryptValue alone agrees; a batch of well-formed values never falls back to libmongocrypt (libmongocrypt also reads some values followed by extra bytes, e.g. regex b0f6 00 00 then 07 12, which the reader rightly leaves to it)', async (t) => {
  const batches = fc.sample(fc.array(itemArb, { minLength: 2, maxLength: 7 }), { numRuns: 80, seed: 5401 });
  const wrong: string[] = [];
  let values = 0;
  let refused = 0;
  let inProcessBatches = 0;
  for (const [n, batch] of batches.entries()) {
    const blobs = batch.map(([{ type, p }, who, algo]) => seal(keyOf(who), algo, type, p));
    const refs = await Promise.all(blobs.map((b) => settle(enc().decrypt(b))));
    // Two shapes of the same batch: one document of many fields, and many documents of one field each.
    const one = await fallbacks(() => engine().decryptDocuments([{ arr: blobs }]));
    const many = await engine().decryptDocuments(blobs.map((b) => ({ f: b })));
    // Well-formed values only: libmongocrypt also reads some values with bytes after the value (a regex then 07 12), which the reader leaves to it.
    const allRead = batch.every(([x]) => x.wellFormed);
    if (allRead && refs.some((r) => 'refused' in r)) wrong.push(`batch ${n}: libmongocrypt refuses a well-formed value`);
    if (allRead) { inProcessBatches++; if (one.contexts !== 0) wrong.push(`batch ${n}: every value reads, yet ${one.contexts} libmongocrypt contexts: ${batch.map(([x, w, a], i) => `${w}/${a} ${x.what} = ${show(refs[i])}`).join(' | ')}`); }
    const failedOne = new Set((one.result.failures.get(0) ?? []).map((f) => f.path));
    for (let i = 0; i < blobs.length; i++) {
      values++;
      const ref = refs[i];
      const what = `batch ${n} #${i} ${batch[i][1]}/${batch[i][2]} ${batch[i][0].what}`;
      if ('refused' in ref) refused++;
      const gotOne: Outcome = failedOne.has(`arr.${i}`) ? { refused: 'attributed' } : { value: one.result.docs[0].arr[i] };
      const gotMany: Outcome = many.failures.has(i) ? { refused: 'attributed' } : { value: many.docs[i].f };
      const alone = await settle(engine().decryptValue(blobs[i], 'f'));
      if (!same(ref, gotOne)) wrong.push(`${what}: libmongocrypt ${show(ref)}, in one document ${show(gotOne)}`);
      if (!same(ref, gotMany)) wrong.push(`${what}: libmongocrypt ${show(ref)}, one per document ${show(gotMany)}`);
      if (!same(ref, alone)) wrong.push(`${what}: libmongocrypt ${show(ref)}, alone ${show(alone)}`);
    }
  }
  t.log(`${values} values, ${refused} refused by libmongocrypt, ${inProcessBatches} all-readable batches`);
  t.true(values > 150 && refused > 20 && inProcessBatches > 3);
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

test.serial('held: a regex missing its options terminator, or its pattern terminator, or a string whose length field runs one to forty bytes past its range, read next to a neighbour whose plaintext is all zeros (or starts with "\\0i\\0") are refused as libmongocrypt refuses them, in either order, and the neighbour still reads', async (t) => {
  const wrong: string[] = [];
  const neighbours: Array<[string, number, Buffer]> = [['int32 0', 0x10, int32(0)], ['regex "\\0i\\0"', 0x0b, Buffer.from([0, 0x69, 0])], ['long 0', 0x12, Buffer.alloc(8)], ['empty document', 0x03, bodyOf({})], ['16 zero bytes decimal', 0x13, Buffer.alloc(16)]];
  const broken: Array<[string, number, Buffer]> = [
    ['regex "ab\\0i" (no options terminator)', 0x0b, Buffer.from([0x61, 0x62, 0, 0x69])], ['regex "ab\\0" (no options)', 0x0b, Buffer.from([0x61, 0x62, 0])], ['regex "ab"', 0x0b, Buffer.from([0x61, 0x62])],
    ['regex of 15 bytes, no terminator (padding 1)', 0x0b, Buffer.alloc(15, 0x61)], ['regex of 16 bytes "a…\\0" (full padding block)', 0x0b, Buffer.concat([Buffer.alloc(15, 0x61), Buffer.from([0])])], ['regex empty', 0x0b, Buffer.alloc(0)],
  ];
  for (const delta of [1, 2, 5, 12, 16, 17, 40]) broken.push([`string length +${delta}`, 0x02, bsonString(Buffer.from('OVERRUN'), delta)], [`binData length +${delta}`, 0x05, Buffer.concat([int32(3 + delta), Buffer.from([0, 1, 2, 3])])], [`document length +${delta}`, 0x03, Buffer.from([5 + delta, 0, 0, 0, 0])]);
  for (const [bw, bt, bp] of broken) {
    for (const [nw, nt, np] of neighbours) {
      for (const order of ['broken first', 'neighbour first']) {
        const b = seal(keyA, 2, bt, bp);
        const nb = seal(keyA, 2, nt, np);
        const pair = order === 'broken first' ? [b, nb, nb] : [nb, b, nb];
        const at = order === 'broken first' ? 0 : 1;
        const [refB, refN] = [await settle(enc().decrypt(b)), await settle(enc().decrypt(nb))];
        const r = await engine().decryptDocuments([{ arr: pair }]);
        const failed = new Set((r.failures.get(0) ?? []).map((f) => f.path));
        const gotB: Outcome = failed.has(`arr.${at}`) ? { refused: 'attributed' } : { value: r.docs[0].arr[at] };
        const gotN: Outcome = failed.has(`arr.${1 - at}`) ? { refused: 'attributed' } : { value: r.docs[0].arr[1 - at] };
        if (!same(refB, gotB)) wrong.push(`${bw} next to ${nw} (${order}): libmongocrypt ${show(refB)}, batch ${show(gotB)}`);
        if (!same(refN, gotN)) wrong.push(`neighbour ${nw} of ${bw} (${order}): libmongocrypt ${show(refN)}, batch ${show(gotN)}`);
      }
    }
  }
  t.true(broken.length * neighbours.length > 100);
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

// ---------------------------------------------------------------- 2. the key-id memo

test.serial('held: inspectEncryptedBlob and sealedKeyHex spell each value\'s own key id when consecutive values name ids differing in one byte (any position, generated), alternating A,B,A,B, with the same Binary read twice and a Binary whose bytes are changed in place between reads', (t) => {
  const wrong: string[] = [];
  const spelled = (id: Buffer) => new Binary(id, 4).toUUID().toHexString();
  const header = (id: Buffer, algo = 1) => { const b = Buffer.alloc(18 + 16 + 16 + 32, 0x5a); b[0] = algo; id.copy(b, 1); b[17] = 2; return new Binary(b, 6); };
  const runs = fc.sample(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 12 })), { numRuns: 300, seed: 5402 });
  for (const [base, flips] of runs) {
    const ids = [Buffer.from(base)];
    for (const [at, x] of flips) { const id = Buffer.from(ids[ids.length - 1]); id[at] ^= x; ids.push(id, Buffer.from(base)); }
    for (const id of ids) {
      const blob = header(id);
      const info = inspectEncryptedBlob(blob);
      if (info?.keyId !== spelled(id)) wrong.push(`inspectEncryptedBlob ${id.toString('hex')}: ${info?.keyId}`);
      if (sealedKeyHex(blob) !== id.toString('hex')) wrong.push(`sealedKeyHex ${id.toString('hex')}: ${sealedKeyHex(blob)}`);
    }
  }
  // The same Binary, its id bytes changed in place between reads.
  const id = Buffer.from(keyA.id);
  const blob = header(id);
  for (let at = 0; at < 16; at++) {
    t.is(sealedKeyHex(blob), Buffer.from(blob.buffer.subarray(1, 17)).toString('hex'));
    t.is(inspectEncryptedBlob(blob)?.keyId, spelled(Buffer.from(blob.buffer.subarray(1, 17))));
    blob.buffer[1 + at] ^= 0x01;
  }
  // A short value in between (never spelled) does not disturb the memo.
  const short = new Binary(Buffer.concat([Buffer.from([1]), keyA.id.subarray(0, 10)]), 6);
  t.is(inspectEncryptedBlob(short), undefined);
  t.is(sealedKeyHex(short), undefined);
  t.is(inspectEncryptedBlob(header(keyA.id))?.keyId, spelled(keyA.id));
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

test.serial('held: batches alternating keys A and C (ids differing only in the last byte) or A and D (first byte), in runs and one by one, of values of many lengths (1 to 20000 bytes, so the HMAC\'s scratch buffer regrows and its reused view changes length) all read in process (no libmongocrypt context) and each as what was sealed', async (t) => {
  const wrong: string[] = [];
  const lengths = [0, 1, 11, 12, 15, 16, 17, 31, 32, 100, 880, 881, 895, 896, 897, 1000, 2000, 16300, 16400, 20000];
  const orders: Array<[string, number, number]>[] = fc.sample(fc.array(fc.tuple(fc.constantFrom('A', 'C', 'D', 'B'), fc.constantFrom(...lengths), fc.constantFrom(1, 2)), { minLength: 2, maxLength: 14 }), { numRuns: 40, seed: 5403 });
  orders.push(lengths.map((len, i) => [i % 2 ? 'C' : 'A', len, 1] as [string, number, number]), lengths.map((len, i) => [i % 2 ? 'D' : 'A', len, 2] as [string, number, number]));
  let n = 0;
  for (const order of orders) {
    const expected = order.map(([who, len], i) => `${who}-${i}-${'x'.repeat(len)}`);
    const blobs = order.map(([who, , algo], i) => seal(keyOf(who), algo, 2, bsonString(Buffer.from(expected[i]))));
    const { result, contexts } = await fallbacks(() => engine().decryptDocuments(blobs.map((b, i) => ({ [`f${i}`]: b, nested: { again: [b] } }))));
    if (contexts !== 0) wrong.push(`order ${order.map(([w, l]) => `${w}${l}`).join(',')}: ${contexts} libmongocrypt contexts`);
    result.docs.forEach((d, i) => {
      if (d[`f${i}`] !== expected[i] || d.nested.again[0] !== expected[i]) wrong.push(`order ${n} #${i} (${order[i][0]}, ${order[i][1]}): read as ${inspect(d[`f${i}`]).slice(0, 40)}`);
    });
    n++;
  }
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

test.serial('held: concurrent reads (60 at once, each a batch under one key or a mix of A, B, C, D, interleaved with the key lookups each awaits) give each value as sealed and never fall back', async (t) => {
  const jobs = fc.sample(fc.array(fc.constantFrom('A', 'B', 'C', 'D'), { minLength: 1, maxLength: 9 }), { numRuns: 60, seed: 5404 });
  const { result, contexts } = await fallbacks(() => Promise.all(jobs.map(async (whos, j) => {
    const expected = whos.map((who, i) => `${who}:${j}:${i}:${randomBytes(i).toString('hex')}`);
    const blobs = whos.map((who, i) => seal(keyOf(who), (i + j) % 2 ? 1 : 2, 2, bsonString(Buffer.from(expected[i]))));
    await new Promise<void>((r) => setImmediate(() => r()));
    const out = await engine().decryptDocuments([{ v: blobs }]);
    return { expected, got: out.docs[0].v as unknown[], failures: out.failures.size };
  })));
  const wrong = result.flatMap(({ expected, got, failures }, j) => (failures || shown(got) !== shown(expected) ? [`job ${j}: ${inspect(got).slice(0, 100)} for ${inspect(expected).slice(0, 100)}`] : []));
  t.is(contexts, 0);
  t.deepEqual(wrong, []);
});

// ---------------------------------------------------------------- 3. what a returned value holds

test.serial('held: values that may view their bytes (binData, documents/arrays holding binData, code with scope) and values copied out (ObjectId, Decimal128, Long, Timestamp, dbPointer, date, regex, double), read in process next to a secret, keep their value after the plaintext buffer is wiped and after many later reads; no returned value\'s memory holds a neighbour\'s plaintext', async (t) => {
  const secret = 'NEIGHBOUR-SECRET-54-';
  const values: unknown[] = [
    new Binary(Buffer.from('bin-payload-0123456789')), new Binary(Buffer.from('x'), 4), { bin: new Binary(Buffer.from('nested-bin')), n: 1 }, [new Binary(Buffer.from('arr-bin')), 'two'],
    new BSON.Code('f()', { s: new Binary(Buffer.from('scope-bin')) }), new ObjectId(), BSON.Decimal128.fromString('1234.5678'), BSON.Long.fromString('9007199254740993'), new BSON.Timestamp({ t: 5, i: 7 }),
    new Date(1234567890123), /ab+c/i, 2.5, BSON.Int32 ? 7 : 7, true, null,
  ];
  const typeOf = (v: unknown) => Buffer.from(BSON.serialize({ v }))[4];
  const blobs = values.map((v) => seal(keyA, 2, typeOf(v), bodyOf(v)));
  blobs.push(seal(keyA, 2, 0x0c, Buffer.concat([bsonString(Buffer.from('db.c')), Buffer.from(new ObjectId().id)])));
  const secretBlobs = Array.from({ length: 4 }, (_, i) => seal(keyA, 2, 2, bsonString(Buffer.from(`${secret}${i}${'s'.repeat(30)}`))));
  const batch = [secretBlobs[0], ...blobs.flatMap((b, i) => [b, secretBlobs[(i % 3) + 1]])];
  const refs = await Promise.all(batch.map((b) => enc().decrypt(b)));
  const { result, contexts } = await fallbacks(() => engine().decryptDocuments([{ v: batch }]));
  t.is(contexts, 0);
  const got = result.docs[0].v as unknown[];
  const before = got.map((v) => shown(v));
  t.deepEqual(before, refs.map((v) => shown(v)));
  // Many later reads, which reuse whatever memory the first read left.
  for (let k = 0; k < 30; k++) await engine().decryptDocuments([{ v: Array.from({ length: 20 }, (_, i) => seal(i % 2 ? keyA : keyC, 2, 5, bodyOf(new Binary(randomBytes(40))))) }]);
  t.deepEqual(got.map((v) => shown(v)), before);
  // The memory behind each returned binary: not a neighbour's plaintext.
  const leaks: string[] = [];
  const binaries: Binary[] = [];
  const collect = (v: unknown): void => { if (v instanceof Binary) binaries.push(v); else if (v instanceof BSON.Code) collect(v.scope); else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x); };
  got.forEach(collect);
  for (const b of binaries) {
    const whole = Buffer.from(b.buffer.buffer, 0, b.buffer.buffer.byteLength).toString('latin1');
    if (whole.includes(secret)) leaks.push(`${inspect(b)} views memory holding the neighbour's plaintext`);
  }
  t.true(binaries.length >= 4);
  t.deepEqual(leaks, []);
});

test.serial('held: the string fast path against js-bson: generated authenticated string plaintexts of UTF-8 edge fragments (overlong, surrogates, above U+10FFFF, truncated, BOM, U+FFFD and U+FFFE literals, NULs), one at a time and in batches, read in process (decryptValues) exactly as BSON.deserialize reads the same string (the same text, or refused); a sample agrees with ClientEncryption.decrypt', async (t) => {
  const aead = new AeadKey(Buffer.from(keyA.key));
  const samples = fc.sample(fc.tuple(fc.oneof(utf8Bytes, fc.string({ unit: 'binary', maxLength: 20 }).map((x) => Buffer.from(x))), fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) })), { numRuns: 3000, seed: 5405 });
  const wrong: string[] = [];
  const jsBson = (p: Buffer): Outcome => { try { return { value: BSON.deserialize(Buffer.concat([int32(7 + p.length + 1), Buffer.from([2, 0x76, 0]), p, Buffer.from([0])])).v }; } catch (e) { return { refused: describe(e) }; } };
  const blobs: Binary[] = [];
  const expected: Outcome[] = [];
  for (const [b, delta] of samples) {
    const p = bsonString(b, delta);
    const blob = seal(keyA, 2, 2, p);
    const ref = jsBson(p);
    const got = decryptValues(aead, [blob]);
    const one: Outcome = got ? { value: got[0] } : { refused: 'in process refused' };
    if (!same(ref, one)) wrong.push(`${p.toString('hex')}: js-bson ${show(ref)}, in process ${show(one)}`);
    blobs.push(blob);
    expected.push(ref);
  }
  // Batches of readable ones: all read, each its own.
  const readable = blobs.filter((_, i) => !('refused' in expected[i]));
  const readableRefs = expected.filter((r) => !('refused' in r)).map((r) => (r as { value: unknown }).value);
  for (let at = 0; at < readable.length; at += 17) {
    const got = decryptValues(aead, readable.slice(at, at + 17));
    if (!got || shown(got) !== shown(readableRefs.slice(at, at + 17))) wrong.push(`batch at ${at}: ${inspect(got).slice(0, 80)}`);
  }
  // A sample against libmongocrypt.
  for (let i = 0; i < blobs.length; i += 25) {
    const lib = await settle(enc().decrypt(blobs[i]));
    const mine = await settle(engine().decryptValue(blobs[i], 's'));
    if (!same(lib, mine)) wrong.push(`${Buffer.from(blobs[i].buffer).toString('hex').slice(0, 20)}: libmongocrypt ${show(lib)}, Strongbox ${show(mine)}`);
  }
  t.log(`${readable.length} of ${blobs.length} readable`);
  t.true(readable.length > 1000 && readable.length < blobs.length);
  t.deepEqual(wrong.slice(0, 15), [], `${wrong.length} wrong:\n${wrong.slice(0, 15).join('\n')}`);
});

test.serial('held: every plaintext buffer openMany hands out is all zeros once a read returns: batches that read in process (one key, several keys), batches where one value is malformed after others were already read (regex without terminator, string overrunning its range), where one tag fails, and strings that take the js-bson path (a U+FFFD literal); and the pool memory behind returned ObjectIds and Decimal128s holds no plaintext of the batch', async (t) => {
  const recorded: Buffer[] = [];
  const proto = AeadKey.prototype as unknown as { openMany: (...a: unknown[]) => { plaintext: Buffer } };
  const original = proto.openMany;
  proto.openMany = function (this: unknown, ...args: unknown[]) { const r = original.apply(this, args); recorded.push(r.plaintext); return r; };
  const secret = 'WIPE-SECRET-54-\ufffd-';
  const wrong: string[] = [];
  try {
    // Plaintexts built in memory of their own (never Node's pool) and wiped once sealed: any copy found in the pool is the reader's.
    const own = (text: string, lengthDelta = 0) => { const n = Buffer.byteLength(text); const b = Buffer.alloc(4 + n + 1); b.writeInt32LE(n + 1 + lengthDelta, 0); b.write(text, 4); return b; };
    const sealOwn = (k: DataKey, type: number, p: Buffer) => { const blob = seal(k, 2, type, p); p.fill(0); return blob; };
    const str = (k: DataKey, i: number) => sealOwn(k, 2, own(`${secret}${i}`));
    const oid = () => seal(keyA, 2, 0x07, randomBytes(12));
    const dec = () => seal(keyA, 2, 0x13, bodyOf(BSON.Decimal128.fromString('42.5')));
    const badTag = () => { const b = Buffer.from(str(keyA, 9).buffer); b[b.length - 1] ^= 1; return new Binary(b, 6); };
    const batches: Array<[string, Binary[]]> = [
      ['one key', [str(keyA, 0), oid(), dec(), str(keyA, 1), oid()]],
      ['several keys', [str(keyA, 0), str(keyC, 1), oid(), str(keyB, 2), dec(), str(keyD, 3)]],
      ['malformed regex last', [str(keyA, 0), oid(), str(keyA, 1), seal(keyA, 2, 0x0b, Buffer.from('ab\0i'))]],
      ['overrunning string last', [str(keyA, 0), dec(), sealOwn(keyA, 2, own(secret, 9))]],
      ['bad tag in the middle', [str(keyA, 0), badTag(), str(keyA, 1)]],
      ['second key fails', [str(keyA, 0), oid(), str(keyC, 1), seal(keyC, 2, 0x0b, Buffer.from('zz'))]],
    ];
    for (const [what, batch] of batches) {
      recorded.length = 0;
      const r = await engine().decryptDocuments([{ v: batch }]);
      if (recorded.length === 0) wrong.push(`${what}: nothing opened in process`);
      for (const p of recorded) if (p.some((b) => b !== 0)) wrong.push(`${what}: a plaintext buffer of ${p.length} bytes is not wiped (${p.toString('latin1').replace(/[^ -~]/g, '.').slice(0, 40)})`);
      for (const v of r.docs[0].v as unknown[]) {
        const bytes = v instanceof ObjectId ? v.id : v instanceof BSON.Decimal128 ? v.bytes : undefined;
        // The whole plaintext as decrypted (its U+FFFD as UTF-8): the check's own words alone can sit in recycled memory
        // (a pool slab is uninitialized memory, where V8 once kept this file's source literals), and are no plaintext.
        if (bytes && Buffer.from(bytes.buffer, 0, bytes.buffer.byteLength).toString('utf8').includes(secret)) wrong.push(`${what}: the memory behind ${inspect(v)} holds a plaintext`);
      }
      const strings = (r.docs[0].v as unknown[]).filter((v) => typeof v === 'string') as string[];
      if (!strings.every((s) => s.startsWith(secret))) wrong.push(`${what}: strings ${inspect(strings).slice(0, 80)}`);
    }
  } finally {
    proto.openMany = original;
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: one stored binData (and a document holding binData) read twice in one batch gives two values of their own: changing the bytes of one returned Binary changes neither the other nor the stored value, and a later read gives the original', async (t) => {
  const payload = Buffer.from('alias-check-payload');
  const bin = seal(keyA, 2, 0x05, bodyOf(new Binary(payload)));
  const doc = seal(keyC, 2, 0x03, bodyOf({ b: new Binary(payload) }));
  const storedBefore = Buffer.from(bin.buffer).toString('hex');
  const r = await engine().decryptDocuments([{ v: [bin, bin, doc, doc] }]);
  const [x, y, d1, d2] = r.docs[0].v as [Binary, Binary, { b: Binary }, { b: Binary }];
  t.true(Buffer.from(x.buffer).equals(payload) && Buffer.from(d1.b.buffer).equals(payload));
  x.buffer[0] ^= 0xff;
  d1.b.buffer[0] ^= 0xff;
  t.true(Buffer.from(y.buffer).equals(payload));
  t.true(Buffer.from(d2.b.buffer).equals(payload));
  t.is(Buffer.from(bin.buffer).toString('hex'), storedBefore);
  const again = await engine().decryptDocuments([{ v: [bin, doc] }]);
  t.true(Buffer.from((again.docs[0].v[0] as Binary).buffer).equals(payload));
  t.true(Buffer.from((again.docs[0].v[1] as { b: Binary }).b.buffer).equals(payload));
});

test.serial('held (fixed in session 37): a string plaintext that BSON refuses (malformed UTF-8 beside a U+FFFD literal, which sends it down the js-bson path) leaves no copy of itself in Node\'s shared buffer pool', (t) => {
  const aead = new AeadKey(Buffer.from(keyA.key));
  const marker = 'POOL-MARKER-37-';
  const leaks: string[] = [];
  for (let i = 0; i < 20; i++) {
    // Valid text, a U+FFFD literal (so the fast path hands it to BSON), then a lone continuation byte BSON refuses;
    // written straight into memory of its own (Buffer.from of a string would leave a copy in the pool).
    const valid = `${marker}${i}-\ufffd-`;
    const n = Buffer.byteLength(valid) + 1;
    const body = Buffer.alloc(4 + n + 1);
    body.writeInt32LE(n + 1, 0);
    body.write(valid, 4);
    body[4 + n - 1] = 0x80;
    const blob = seal(keyA, 2, 2, body);
    body.fill(0);
    t.is(decryptValues(aead, [blob]), undefined, 'refused in process, as BSON refuses it');
    // The next allocation from the pool shares its slab with whatever the read took from it.
    const pool = Buffer.allocUnsafe(1).buffer;
    if (Buffer.from(pool).toString('latin1').includes(marker)) leaks.push(`round ${i}: the pool holds the refused plaintext`);
  }
  t.deepEqual(leaks, []);
});

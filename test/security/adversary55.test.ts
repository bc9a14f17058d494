/**
 * Round 55 (brief adv55, on 1879c00): the header cache of inspectEncryptedBlob (the last 8 clear
 * headers, each with one shared frozen info) and DocumentReader.verify() keeping two arrays per
 * batch (expected key per slot, info per slot, PASSED/REJECTED). Stored documents are written with
 * the plain driver, their ciphertexts sealed here with correctly authenticated tags under data keys
 * planted in the key vault (so a value whose header differs from the field's in one byte WOULD
 * decrypt if verify() let it through): algorithm byte, any key-id byte (keys whose ids differ from
 * the field's key in the first or last byte exist in the vault), type byte, corrupt and short
 * headers, other fields' and other tenants' ciphertexts, cycling through far more than 8 distinct
 * headers. Every read path (find().toArray(), cursor batches(), findById, aggregate, distinct,
 * and loose ciphertexts handed to the repository's reader along an all-loose result shape, since
 * the FerretDB test server lacks $push/$lookup/$unionWith/$facet) is compared value by value with
 * a reference computed here from each value's own bytes; markers, errors, state across clients with different vaults, key-vault lookup
 * failures and the cache itself (in-place mutation, shared buffers, getters, subclasses) are checked.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Binary, BSON, ObjectId, type Document, type MongoClient } from 'mongodb';
import { DecryptionError, Encrypted, Field, Id, Model, UndecryptableValue, type StrongboxClient } from '../../src/index';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { describe, localKeyClient, wrapLocalKey } from '../harness/adversary';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const KEY_A = 'a55-main';
const KEY_B = 'a55-second';
/** The fixed key id of the untyped Random field (planted in the vault before the client starts). */
const FIXED_ID = Buffer.from('5a55f1ed0000400080000000000a5555', 'hex');
const FIXED_UUID = new Binary(FIXED_ID, 4).toUUID().toHexString();

@Model({ db: DB, collection: 'recs', keyAltName: KEY_A })
class Rec55 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'int', optional: true }) n?: number;
  @Field({ bsonType: 'string', optional: true }) tenant?: string;
  @Field({ bsonType: 'string', optional: true }) note?: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) det?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) rnd?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'int', optional: true }) num?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: KEY_B, optional: true }) rb?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant', optional: true }) per?: any;
  @Encrypted({ algorithm: 'Random', keyId: FIXED_UUID, optional: true }) any?: any;
}

/** Per-document keys chosen by a function of the stored document (which may throw, or return no string). */
@Model({ db: DB, collection: 'fns', keyAltName: KEY_A })
class Fn55 {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string', optional: true }) who?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true, keyAltName: (doc: any) => {
    if (doc.who === 'throws') throw new Error('no key for this one');
    if (doc.who === 'number') return 42 as unknown as string;
    if (doc.who === 'empty') return '';
    return doc.who === 'main' ? KEY_A : String(doc.who);
  } }) sec?: any;
}

const FIELDS = ['det', 'rnd', 'num', 'rb', 'per', 'any'] as const;
type FieldName = typeof FIELDS[number];
const SPEC: Record<FieldName, { algorithm: 1 | 2; type?: number; key: string }> = {
  det: { algorithm: 1, type: 2, key: 'A' },
  rnd: { algorithm: 2, type: 2, key: 'A' },
  num: { algorithm: 2, type: 0x10, key: 'A' },
  rb: { algorithm: 2, type: 2, key: 'B' },
  per: { algorithm: 2, type: 2, key: '/tenant' },
  any: { algorithm: 2, key: 'F' },
};

interface DataKey { id: Buffer; altNames: string[]; key: Buffer }
const keys: Record<string, DataKey> = {};
let masterKey: Buffer;
let masterKey2: Buffer;
let client: StrongboxClient;
/** A second client: its own master key and key vault, where key A's id names another key. */
let client2: StrongboxClient;
let raw: MongoClient;
const VAULT_DB = `sb_keys_a55_${randomBytes(3).toString('hex')}`;
const KEY_VAULT = `${VAULT_DB}.__keyVault`;
const KEY_VAULT2 = `${VAULT_DB}.__keyVault2`;

async function plantKey(vaultName: string, master: Buffer, id: Buffer, altNames: string[], material: Buffer = randomBytes(96)): Promise<DataKey> {
  const now = new Date();
  await raw.db(VAULT_DB).collection(vaultName).insertOne({
    _id: new Binary(id, 4) as never, keyAltNames: altNames, keyMaterial: new Binary(wrapLocalKey(master, material), 0),
    creationDate: now, updateDate: now, status: 0, masterKey: { provider: 'local' },
  });
  return { id, altNames, key: material };
}

const AL = (() => { const b = Buffer.alloc(8); b.writeUInt32BE(18 * 8, 4); return b; })();

/** A stored value sealed as libmongocrypt would (AD = algorithm ‖ key id ‖ type), tag correct for `material`. */
function sealWith(id: Buffer, material: Buffer, algorithm: number, type: number, plaintext: Buffer): Buffer {
  const ad = Buffer.concat([Buffer.from([algorithm]), id, Buffer.from([type])]);
  const iv = algorithm === 1
    ? createHmac('sha512', material.subarray(64, 96)).update(ad).update(AL).update(plaintext).digest().subarray(0, 16)
    : randomBytes(16);
  const c = createCipheriv('aes-256-cbc', material.subarray(32, 64), iv);
  const s = Buffer.concat([c.update(plaintext), c.final()]);
  const tag = createHmac('sha512', material.subarray(0, 32)).update(ad).update(iv).update(s).update(AL).digest().subarray(0, 32);
  return Buffer.concat([ad, iv, s, tag]);
}

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const bsonString = (text: string) => { const b = Buffer.from(text); return Buffer.concat([int32(b.length + 1), b, Buffer.from([0])]); };
/** The BSON body of a plaintext of `type` carrying `secret` (a string, or a number derived from it). */
function bodyFor(type: number, secret: string, num: number): Buffer {
  switch (type) {
    case 0x02: return bsonString(secret);
    case 0x10: return int32(num);
    case 0x12: { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(num)); return b; }
    case 0x01: { const b = Buffer.alloc(8); b.writeDoubleLE(num + 0.5); return b; }
    case 0x08: return Buffer.from([num & 1]);
    default: throw new Error(`type ${type}`);
  }
}
/** What BSON reads for that body (the value a correct decryption gives). */
const valueFor = (type: number, body: Buffer): unknown => BSON.deserialize(Buffer.concat([int32(4 + 1 + 2 + body.length + 1), Buffer.from([type, 0x76, 0]), body, Buffer.from([0])])).v;

const uuidOf = (id: Buffer) => new Binary(id, 4).toUUID().toHexString();
const shown = (v: unknown) => inspect(v, { depth: 6, maxStringLength: 200 });

// ---------------------------------------------------------------- stored values and their reference

/** How a slot's stored value differs from the field's own. */
type Variant =
  | { kind: 'valid' }
  | { kind: 'algo' } // the other algorithm, tag correct
  | { kind: 'algoBad'; byte: number } // byte 0 neither 1 nor 2
  | { kind: 'type'; type: number } // another plaintext type, tag correct
  | { kind: 'keyNear'; which: 'C' | 'D' } // a key whose id differs from the field's in one byte (only for A-keyed fields; else another real key)
  | { kind: 'keyByte'; at: number; xor: number } // one id byte flipped: no such key
  | { kind: 'otherKey'; which: 'A' | 'B' | 'F' | 'T1' | 'T2' } // another real key, tag correct
  | { kind: 'short'; length: number } // fewer than 18 bytes (a prefix of a valid value)
  | { kind: 'tagBad' } // the field's header, the tag broken
  | { kind: 'absent' };

const variantArb: fc.Arbitrary<Variant> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Variant>({ kind: 'valid' }) },
  fc.constant<Variant>({ kind: 'algo' }),
  fc.constantFrom(0, 3, 4, 0x81, 0xff).map((byte): Variant => ({ kind: 'algoBad', byte })),
  fc.constantFrom(0x01, 0x02, 0x08, 0x10, 0x12).map((type): Variant => ({ kind: 'type', type })),
  fc.constantFrom<'C' | 'D'>('C', 'D').map((which): Variant => ({ kind: 'keyNear', which })),
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 1, max: 255 })).map(([at, xor]): Variant => ({ kind: 'keyByte', at, xor })),
  fc.constantFrom<'A' | 'B' | 'F' | 'T1' | 'T2'>('A', 'B', 'F', 'T1', 'T2').map((which): Variant => ({ kind: 'otherKey', which })),
  fc.integer({ min: 0, max: 17 }).map((length): Variant => ({ kind: 'short', length })),
  fc.constant<Variant>({ kind: 'tagBad' }),
  fc.constant<Variant>({ kind: 'absent' }),
);
const tenantArb = fc.constantFrom<string | undefined>('t1', 't2', 't1', 't2', 't3-not-in-vault', undefined, '');

/** A key vault as a reader sees it: alt name -> id, and the material behind each id (hex). */
interface Vault { ids: Map<string, Buffer>; material: Map<string, Buffer> }
let vault1: Vault;
let vault2: Vault;

/** The key a field names for a document (its letter; per-document keys by tenant). */
function ownKey(field: FieldName, tenant: string | undefined): string {
  const key = SPEC[field].key;
  if (key !== '/tenant') return key;
  return tenant === 't2' ? 'T2' : 'T1';
}

/** The alt name (or fixed id) a field names for a document, resolved in `vault`: the id, or undefined for none. */
function expectedIdIn(vault: Vault, field: FieldName, tenant: string | undefined): Buffer | undefined {
  switch (field) {
    case 'any': return FIXED_ID;
    case 'rb': return vault.ids.get(KEY_B);
    case 'per': return typeof tenant === 'string' && tenant !== '' ? vault.ids.get(tenant) : undefined;
    default: return vault.ids.get(KEY_A);
  }
}

interface Planned { field: FieldName; variant: Variant; stored?: Binary; secret: string; material?: Buffer; tagBad: boolean; value?: unknown }
type Expected = { value: unknown } | { reason: string; keyId: string | undefined; algorithm: string | undefined } | { undecryptable: true; keyId: string; algorithm: string } | { absent: true };

let serial = 0;

/** Builds the stored value of a slot. */
function plan(field: FieldName, variant: Variant, tenant: string | undefined): Planned {
  const spec = SPEC[field];
  const secret = `SECRET55-${field}-${serial++}-${randomBytes(4).toString('hex')}`;
  const num = 100000 + serial;
  if (variant.kind === 'absent') return { field, variant, secret, tagBad: false };
  const own = ownKey(field, tenant);
  let keyLetter: string | undefined = own;
  let id = keys[own].id;
  let algorithm: number = spec.algorithm;
  let type = spec.type ?? [0x02, 0x10, 0x01, 0x08][serial % 4];
  let material = keys[own].key;
  switch (variant.kind) {
    case 'algo': algorithm = 3 - spec.algorithm; break;
    case 'algoBad': algorithm = variant.byte; break;
    case 'type': type = variant.type; break;
    case 'keyNear': keyLetter = own === 'A' ? variant.which : variant.which === 'C' ? 'D' : 'C'; break;
    case 'keyByte': id = Buffer.from(id); id[variant.at] ^= variant.xor; keyLetter = undefined; material = randomBytes(96); break;
    case 'otherKey': keyLetter = variant.which; break;
    default: break;
  }
  if (keyLetter) { id = keys[keyLetter].id; material = keys[keyLetter].key; }
  const body = bodyFor(type, secret, num);
  let bytes = sealWith(id, material, algorithm, type, body);
  if (variant.kind === 'short') bytes = bytes.subarray(0, variant.length);
  if (variant.kind === 'tagBad') { bytes = Buffer.from(bytes); bytes[bytes.length - 1] ^= 0x40; }
  return { field, variant, secret, stored: new Binary(Buffer.from(bytes), 6), material, tagBad: variant.kind === 'tagBad', value: valueFor(type, body) };
}

/** A fresh check of the slot's own bytes: the order verify() documents (header readable, algorithm, type, key), then decryption. */
function expectedOf(s: Planned, tenant: string | undefined, vault: Vault): Expected {
  if (!s.stored) return { absent: true };
  const bytes = Buffer.from(s.stored.buffer);
  const spec = SPEC[s.field];
  const keyId = bytes.length >= 18 ? uuidOf(bytes.subarray(1, 17)) : undefined;
  const algorithm = bytes[0] === 1 ? 'Deterministic' : bytes[0] === 2 ? 'Random' : undefined;
  const named = expectedIdIn(vault, s.field, tenant);
  if (bytes.length < 18 || !algorithm) return { reason: 'corrupt', keyId: undefined, algorithm: undefined };
  if (bytes[0] !== spec.algorithm) return { reason: 'algorithm-mismatch', keyId, algorithm };
  if (spec.type !== undefined && bytes[17] !== spec.type) return { reason: 'type-mismatch', keyId, algorithm };
  if (!named) return { reason: 'missing-key', keyId, algorithm };
  if (!named.equals(bytes.subarray(1, 17))) return { reason: 'key-mismatch', keyId, algorithm };
  return opens(s, vault, bytes) ? { value: s.value } : { undecryptable: true, keyId: keyId!, algorithm };
}

/** Whether the value's tag holds under the material `vault` has for the id in its header. */
function opens(s: Planned, vault: Vault, bytes: Buffer): boolean {
  const material = vault.material.get(bytes.subarray(1, 17).toString('hex'));
  return !s.tagBad && !!material && !!s.material && material.equals(s.material);
}

interface PlannedDoc { _id: ObjectId; n: number; tenant?: string; note: string; slots: Planned[] }
const expectedIn = (d: PlannedDoc, vault: Vault) => d.slots.map((s) => expectedOf(s, d.tenant, vault));

function planDocs(sample: Array<{ tenant: string | undefined; variants: Variant[] }>, from: number): PlannedDoc[] {
  return sample.map(({ tenant, variants }, i) => ({
    _id: new ObjectId(), n: from + i, tenant, note: `note-${from + i}`,
    slots: FIELDS.map((field, k) => plan(field, variants[k], tenant)),
  }));
}

function storedDoc(d: PlannedDoc): Document {
  const doc: Document = { _id: d._id, n: d.n, note: d.note };
  if (d.tenant !== undefined) doc.tenant = d.tenant;
  for (const s of d.slots) if (s.stored) doc[s.field] = s.stored;
  return doc;
}

/** What is wrong with a read document (an entity or an aggregate result) against the plan, under 'marker'. */
function checkRead(what: string, d: PlannedDoc, got: Record<string, unknown> | null | undefined, vault: Vault = vault1): string[] {
  const wrong: string[] = [];
  if (!got) return [`${what} doc ${d.n}: not read`];
  const tag = (s: Planned) => `${what} doc ${d.n} (tenant ${d.tenant}) ${s.field} ${JSON.stringify(s.variant)}`;
  if (got.note !== d.note || got.n !== d.n || (got.tenant ?? undefined) !== d.tenant || String(got._id) !== String(d._id)) wrong.push(`${what} doc ${d.n}: plain fields changed: ${shown({ n: got.n, note: got.note, tenant: got.tenant })}`);
  const expected = expectedIn(d, vault);
  d.slots.forEach((s, k) => {
    const v = got[s.field];
    const e = expected[k];
    if ('absent' in e) { if (v !== undefined && v !== null) wrong.push(`${tag(s)}: absent, read as ${shown(v)}`); return; }
    if ('value' in e) {
      if (shown(v) !== shown(e.value)) wrong.push(`${tag(s)}: expected ${shown(e.value)}, read ${shown(v)}`);
      return;
    }
    if (!(v instanceof UndecryptableValue)) { wrong.push(`${tag(s)}: expected a marker (${'reason' in e ? e.reason : 'undecryptable'}), read ${shown(v).slice(0, 120)}`); return; }
    const m = v as UndecryptableValue;
    if ('reason' in e && m.reason !== e.reason) wrong.push(`${tag(s)}: marker reason ${m.reason}, expected ${e.reason}`);
    if ('undecryptable' in e && ['algorithm-mismatch', 'type-mismatch', 'key-mismatch', 'misplaced'].includes(m.reason)) wrong.push(`${tag(s)}: provenance reason ${m.reason} for a value whose header matches`);
    if (m.keyId !== e.keyId || m.algorithm !== e.algorithm || m.path !== s.field) wrong.push(`${tag(s)}: marker ${inspect(m)}, expected keyId ${e.keyId} algorithm ${e.algorithm}`);
    const text = `${inspect(m)} ${JSON.stringify(m)}`;
    if (d.slots.some((o) => text.includes(o.secret))) wrong.push(`${tag(s)}: marker shows a plaintext: ${text}`);
  });
  return wrong;
}

const anyRefused = (d: PlannedDoc, vault: Vault = vault1) => expectedIn(d, vault).some((e) => !('value' in e) && !('absent' in e));

type Repo = {
  find(f: Document, o?: Document): { toArray(): Promise<any[]>; batches(): AsyncGenerator<any[]> };
  findById(id: unknown): Promise<any>;
  aggregate(p: unknown[], o?: Document): { toArray(): Promise<Document[]> };
  distinct(k: string, f?: Document): Promise<unknown[]>;
  insertOne(d: Document): Promise<any>;
};
const repoOf = (c: StrongboxClient, policy: 'throw' | 'marker') => c.repository(Rec55 as never, { onUndecryptable: policy } as never) as unknown as Repo;
const coll = (name = 'recs') => raw.db(DB).collection(name);

test.before(async () => {
  masterKey = randomBytes(96);
  masterKey2 = randomBytes(96);
  raw = await rawClient();
  keys.A = await plantKey('__keyVault', masterKey, randomBytes(16), [KEY_A]);
  keys.B = await plantKey('__keyVault', masterKey, randomBytes(16), [KEY_B]);
  const idC = Buffer.from(keys.A.id); idC[15] ^= 1;
  const idD = Buffer.from(keys.A.id); idD[0] ^= 0x80;
  keys.C = await plantKey('__keyVault', masterKey, idC, ['a55-last-byte']);
  keys.D = await plantKey('__keyVault', masterKey, idD, ['a55-first-byte']);
  keys.F = await plantKey('__keyVault', masterKey, FIXED_ID, ['a55-fixed']);
  keys.T1 = await plantKey('__keyVault', masterKey, randomBytes(16), ['t1']);
  keys.T2 = await plantKey('__keyVault', masterKey, randomBytes(16), ['t2']);
  // The second vault: key A's id and alt name, other material; key B as in the first vault.
  keys.A2 = await plantKey('__keyVault2', masterKey2, keys.A.id, [KEY_A]);
  await plantKey('__keyVault2', masterKey2, keys.B.id, [KEY_B], keys.B.key);
  await plantKey('__keyVault2', masterKey2, FIXED_ID, ['a55-fixed'], keys.F.key);
  const vaultOf = (entries: Array<[string, DataKey]>): Vault => ({ ids: new Map(entries.flatMap(([, k]) => k.altNames.map((a) => [a, k.id] as [string, Buffer]))), material: new Map(entries.map(([, k]) => [k.id.toString('hex'), k.key])) });
  vault1 = vaultOf(['A', 'B', 'C', 'D', 'F', 'T1', 'T2'].map((l) => [l, keys[l]]));
  vault2 = vaultOf([['A2', keys.A2], ['B', keys.B], ['F', keys.F]]);
  client = await localKeyClient([Rec55, Fn55], masterKey, KEY_VAULT, { warn: () => undefined });
  client2 = await localKeyClient([Rec55], masterKey2, KEY_VAULT2, { warn: () => undefined });
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await raw?.db(VAULT_DB).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), client2?.close(), raw?.close()]);
});

// ---------------------------------------------------------------- 1. generated one-byte header variants, every read path

test.serial('held: generated documents whose ciphertexts differ from the field\'s in one header byte (algorithm, any key-id byte, type), with correct tags under keys in the vault, interleaved with valid ones, >8 distinct headers per batch: find().toArray(), batches(), findById and aggregate each read every value exactly as a fresh check of its own bytes says (value, or a marker with the reason, key id and algorithm), nothing else changes, no marker shows a plaintext', async (t) => {
  const marker = repoOf(client, 'marker');
  const runs = fc.sample(fc.array(fc.record({ tenant: tenantArb, variants: fc.array(variantArb, { minLength: 6, maxLength: 6 }) }), { minLength: 20, maxLength: 40 }), { numRuns: 6, seed: 5501 });
  const wrong: string[] = [];
  let values = 0; let refused = 0; let decrypted = 0; const headers = new Set<string>();
  let from = 0;
  for (const sample of runs) {
    await coll().deleteMany({});
    const docs = planDocs(sample, from);
    from += docs.length;
    for (const d of docs) expectedIn(d, vault1).forEach((e, k) => { const s = d.slots[k]; if (s.stored) { values++; headers.add(Buffer.from(s.stored.buffer.subarray(0, 18)).toString('hex')); if ('value' in e) decrypted++; else refused++; } });
    await coll().insertMany(docs.map(storedDoc));
    const byN = new Map(docs.map((d) => [d.n, d]));
    const all = await marker.find({}, { sort: { n: 1 }, batchSize: 7 }).toArray();
    if (all.length !== docs.length) wrong.push(`find read ${all.length} of ${docs.length}`);
    for (const e of all) wrong.push(...checkRead('find', byN.get(e.n)!, e));
    let seen = 0;
    for await (const batch of marker.find({}, { sort: { n: -1 }, batchSize: 5 }).batches()) for (const e of batch) { seen++; wrong.push(...checkRead('batches', byN.get(e.n)!, e)); }
    if (seen !== docs.length) wrong.push(`batches read ${seen}`);
    const one = await Promise.all(docs.map((d) => marker.findById(d._id)));
    one.forEach((e, i) => wrong.push(...checkRead('findById', docs[i], e)));
    const agg = await marker.aggregate([{ $match: { n: { $gte: 0 } } }, { $sort: { n: 1 } }], { batchSize: 6 }).toArray();
    for (const e of agg) wrong.push(...checkRead('aggregate', byN.get(e.n as number)!, e));
    if (agg.length !== docs.length) wrong.push(`aggregate read ${agg.length}`);
  }
  t.log(`${values} values (${decrypted} to decrypt, ${refused} to refuse), ${headers.size} distinct headers`);
  t.true(headers.size > 40 && refused > 100 && decrypted > 100);
  t.deepEqual(wrong.slice(0, 12), [], `${wrong.length} wrong:\n${wrong.slice(0, 12).join('\n')}`);
});

const genDocs = (seed: number, runs: number, min: number, max: number) => fc.sample(fc.array(fc.record({ tenant: tenantArb, variants: fc.array(variantArb, { minLength: 6, maxLength: 6 }) }), { minLength: min, maxLength: max }), { numRuns: runs, seed });
/** Everything an error carries that a caller may log. */
const errorText = (e: unknown) => `${describe(e)} ${inspect(e, { depth: 5 })} ${(e as Error)?.stack ?? ''} ${JSON.stringify(e)} ${String((e as { fix?: unknown })?.fix ?? '')} ${inspect((e as { cause?: unknown })?.cause)}`;

test.serial('held: under onUndecryptable \'throw\' (the default), findById of each generated document throws a DecryptionError exactly when one of its values is refused or does not open, and find().toArray() throws when any does; no error (message, stack, cause, inspect, JSON) shows a plaintext', async (t) => {
  const strict = repoOf(client, 'throw');
  const wrong: string[] = [];
  let threw = 0;
  for (const [r, sample] of genDocs(5502, 3, 15, 25).entries()) {
    await coll().deleteMany({});
    const docs = planDocs(sample, 1000 * (r + 1));
    await coll().insertMany(docs.map(storedDoc));
    const secrets = docs.flatMap((d) => d.slots.map((s) => s.secret));
    const leaks = (e: unknown) => { const text = errorText(e); return secrets.filter((x) => text.includes(x)); };
    for (const d of docs) {
      const got = await strict.findById(d._id).then((v) => ({ v }), (e: unknown) => ({ e }));
      if ('e' in got) {
        threw++;
        if (!anyRefused(d)) wrong.push(`doc ${d.n}: threw ${describe(got.e)} but every value opens`);
        else if (!(got.e instanceof DecryptionError)) wrong.push(`doc ${d.n}: ${describe(got.e)}`);
        if (leaks(got.e).length) wrong.push(`doc ${d.n}: the error shows ${leaks(got.e)}`);
      } else if (anyRefused(d)) wrong.push(`doc ${d.n}: read (${shown(got.v).slice(0, 200)}) though a value must be refused`);
      else wrong.push(...checkRead('findById/throw', d, got.v));
    }
    const all = await strict.find({}, { batchSize: 4 }).toArray().then(() => undefined, (e: unknown) => e);
    if (docs.some((d) => anyRefused(d)) !== (all !== undefined)) wrong.push(`find().toArray(): ${all === undefined ? 'read every document' : describe(all)}`);
    if (all !== undefined && leaks(all).length) wrong.push(`find: the error shows ${leaks(all)}`);
  }
  t.log(`${threw} documents refused`);
  t.true(threw > 20);
  t.deepEqual(wrong.slice(0, 12), [], `${wrong.length} wrong:\n${wrong.slice(0, 12).join('\n')}`);
});

// ---------------------------------------------------------------- 2. loose ciphertexts (pipeline results)

/** The model's fields with a fixed key, as the loose rule reads them: algorithm, type (undefined: any), key id. */
const LOOSE_ORIGINS = (vault: Vault) => [
  { algorithm: 1, type: 2, id: vault.ids.get(KEY_A) }, { algorithm: 2, type: 2, id: vault.ids.get(KEY_A) }, { algorithm: 2, type: 0x10, id: vault.ids.get(KEY_A) },
  { algorithm: 2, type: 2, id: vault.ids.get(KEY_B) }, { algorithm: 2, type: undefined, id: FIXED_ID },
];

/** What a loose ciphertext reads as: corrupt, misplaced (no fixed-key field of the model has its header), or decrypted. */
function looseExpected(s: Planned, vault: Vault): Expected {
  const bytes = Buffer.from(s.stored!.buffer);
  const keyId = bytes.length >= 18 ? uuidOf(bytes.subarray(1, 17)) : undefined;
  const algorithm = bytes[0] === 1 ? 'Deterministic' : bytes[0] === 2 ? 'Random' : undefined;
  if (bytes.length < 18 || !algorithm) return { reason: 'corrupt', keyId: undefined, algorithm: undefined };
  const known = LOOSE_ORIGINS(vault).some((o) => o.algorithm === bytes[0] && (o.type === undefined || o.type === bytes[17]) && o.id?.equals(bytes.subarray(1, 17)));
  if (!known) return { reason: 'misplaced', keyId, algorithm };
  return opens(s, vault, bytes) ? { value: s.value } : { undecryptable: true, keyId: keyId!, algorithm };
}

/**
 * The pipeline stages that leave ciphertext the analyzer cannot describe ($push, $lookup,
 * $unionWith, $facet) are not implemented by the FerretDB test server, so batches are handed to
 * the repository's reader along the shape those stages give (as aggregate() does with the
 * analysis's result): every path open to loose ciphertext.
 */
type LooseReader = { decrypt(docs: Document[], shape: { shape: { target: Function; fields: Map<string, unknown> }; loose: () => boolean; openLoose: boolean }): Promise<Document[]> };
const looseRead = (c: StrongboxClient, policy: 'throw' | 'marker', docs: Document[]) =>
  ((repoOf(c, policy) as unknown as { reader: LooseReader }).reader).decrypt(docs, { shape: { target: Rec55, fields: new Map() }, loose: () => true, openLoose: true });

test.serial('held: loose ciphertexts (a $push of each field as the reader gets it: every path open) are decrypted only when their header is one of the model\'s fixed-key fields\' under that key; per-document (tenant) keys, other keys, one-byte header variants are refused as misplaced, corrupt headers as corrupt; arrays of them in one batch, >8 distinct headers; no marker shows a plaintext', async (t) => {
  const wrong: string[] = [];
  let accepted = 0; let refused = 0;
  for (const [r, sample] of genDocs(5503, 4, 15, 30).entries()) {
    const docs = planDocs(sample, 2000 * (r + 1));
    const out: Document = { _id: null };
    for (const f of FIELDS) out[`x_${f}`] = docs.map((d) => d.slots.find((s) => s.field === f)!.stored).filter(Boolean);
    // Also as documents of their own (a $unionWith of another collection's documents).
    const singles = docs.flatMap((d) => d.slots.filter((s) => s.stored).map((s) => ({ single: { deep: [s.stored] } })));
    const [read, ...readSingles] = await looseRead(client, 'marker', [out, ...singles]);
    const single = docs.flatMap((d) => d.slots.filter((s) => s.stored));
    const check = (tag: string, s: Planned, v: unknown) => {
      const e = looseExpected(s, vault1);
      if ('value' in e) { accepted++; if (shown(v) !== shown(e.value)) wrong.push(`${tag}: expected ${shown(e.value)}, read ${shown(v).slice(0, 100)}`); return; }
      refused++;
      if (!(v instanceof UndecryptableValue)) { wrong.push(`${tag}: expected a marker (${'reason' in e ? e.reason : 'undecryptable'}), read ${shown(v).slice(0, 100)}`); return; }
      if ('reason' in e && v.reason !== e.reason) wrong.push(`${tag}: reason ${v.reason}, expected ${e.reason}`);
      if ('undecryptable' in e && ['misplaced', 'key-mismatch'].includes(v.reason)) wrong.push(`${tag}: provenance reason ${v.reason} for a value of a fixed-key field`);
      if (`${inspect(v)}${JSON.stringify(v)}`.includes('SECRET55')) wrong.push(`${tag}: marker shows a plaintext`);
    };
    for (const f of FIELDS) {
      const slots = docs.map((d) => d.slots.find((s) => s.field === f)!).filter((s) => s.stored);
      const list = read[`x_${f}`] as unknown[];
      slots.forEach((s, i) => check(`run ${r} x_${f}[${i}] ${JSON.stringify(s.variant)}`, s, list[i]));
    }
    single.forEach((s, i) => check(`run ${r} single ${s.field} ${JSON.stringify(s.variant)}`, s, (readSingles[i].single as { deep: unknown[] }).deep[0]));
  }
  t.log(`${accepted} loose values decrypted, ${refused} refused`);
  t.true(accepted > 40 && refused > 40);
  t.deepEqual(wrong.slice(0, 12), [], `${wrong.length} wrong:\n${wrong.slice(0, 12).join('\n')}`);
});

test.serial('held: a batch where every per-document (tenant) ciphertext is valid in its own document: read in place each decrypts; the same values moved to a loose path (a pipeline\'s new name) are all refused as misplaced, under \'throw\' too, and the error shows no plaintext', async (t) => {
  const marker = repoOf(client, 'marker');
  await coll().deleteMany({});
  const docs = planDocs(Array.from({ length: 12 }, (_, i) => ({ tenant: i % 2 ? 't1' : 't2', variants: FIELDS.map(() => ({ kind: 'valid' }) as Variant) })), 3000);
  await coll().insertMany(docs.map(storedDoc));
  const inPlace = await marker.find({}, { sort: { n: 1 } }).toArray();
  const wrong = inPlace.flatMap((e, i) => checkRead('in place', docs[i], e));
  // The reader decrypts in place: a fresh batch for each read.
  const moved = () => docs.map((d) => ({ _id: d._id, n: d.n, tenant: d.tenant, moved: d.slots.find((s) => s.field === 'per')!.stored }));
  const read = await looseRead(client, 'marker', moved());
  read.forEach((d, i) => { if (!(d.moved instanceof UndecryptableValue) || d.moved.reason !== 'misplaced') wrong.push(`doc ${i}: moved per read as ${shown(d.moved).slice(0, 100)}`); });
  const strict = await looseRead(client, 'throw', moved()).then((v) => ({ v }), (e: unknown) => ({ e }));
  if (!('e' in strict) || !(strict.e instanceof DecryptionError)) wrong.push(`throw: ${shown(strict).slice(0, 200)}`);
  else if (errorText(strict.e).includes('SECRET55')) wrong.push('the error shows a plaintext');
  t.deepEqual(wrong, []);
});

// ---------------------------------------------------------------- 3. real writes, copied between fields and documents

test.serial('held: ciphertexts Strongbox wrote, copied with the plain driver between fields and documents (Deterministic into Random, Random string into int, key A\'s into key B\'s field, into the fixed-id untyped field, tenant t2\'s into a t1 document, a document\'s tenant changed, removed, or naming no key), read as markers with the provenance reason, the rest of each document intact; in \'throw\' mode a DecryptionError naming no plaintext', async (t) => {
  const marker = repoOf(client, 'marker');
  const strict = repoOf(client, 'throw');
  await coll().deleteMany({});
  const mk = (i: number, tenant: string) => marker.insertOne({ n: 5000 + i, tenant, note: `w${i}`, det: `WDET-${i}`, rnd: `WRND-${i}`, num: 7000 + i, rb: `WRB-${i}`, per: `WPER-${i}`, any: `WANY-${i}` });
  const made = await Promise.all([mk(0, 't1'), mk(1, 't2'), mk(2, 't1'), mk(3, 't1'), mk(4, 't1'), mk(5, 't1'), mk(6, 't1')]);
  const stored = await Promise.all(made.map((m) => coll().findOne({ _id: m._id })));
  const cases: Array<{ i: number; set: Document; unset?: string[]; expect: Record<string, string> }> = [
    { i: 0, set: { rnd: stored[0]!.det, num: stored[0]!.rnd }, expect: { rnd: 'algorithm-mismatch', num: 'type-mismatch' } },
    { i: 2, set: { rb: stored[2]!.rnd, any: stored[2]!.num, det: stored[2]!.rnd }, expect: { rb: 'key-mismatch', any: 'key-mismatch', det: 'algorithm-mismatch' } },
    { i: 3, set: { per: stored[1]!.per }, expect: { per: 'key-mismatch' } },
    { i: 4, set: { tenant: 't2' }, expect: { per: 'key-mismatch' } },
    { i: 5, set: {}, unset: ['tenant'], expect: { per: 'missing-key' } },
    { i: 6, set: { tenant: 'no-such-tenant', rnd: stored[1]!.rb }, expect: { per: 'missing-key', rnd: 'key-mismatch' } },
  ];
  for (const c of cases) await coll().updateOne({ _id: made[c.i]._id }, { $set: c.set, ...(c.unset ? { $unset: Object.fromEntries(c.unset.map((u) => [u, ''])) } : {}) });
  const wrong: string[] = [];
  const plain = (i: number): Record<string, unknown> => ({ det: `WDET-${i}`, rnd: `WRND-${i}`, num: 7000 + i, rb: `WRB-${i}`, per: `WPER-${i}`, any: `WANY-${i}` });
  const reads = await marker.find({ n: { $gte: 5000 } }, { sort: { n: 1 } }).toArray();
  for (const c of [{ i: 1, set: {}, expect: {} as Record<string, string> }, ...cases]) {
    const got = reads.find((e) => e.n === 5000 + c.i);
    for (const f of FIELDS) {
      const v = got?.[f];
      if (c.expect[f]) {
        if (!(v instanceof UndecryptableValue) || v.reason !== c.expect[f]) wrong.push(`doc ${c.i} ${f}: ${shown(v).slice(0, 160)}, expected a ${c.expect[f]} marker`);
        else if (/W(DET|RND|RB|PER|ANY)-\d/.test(`${inspect(v)}${JSON.stringify(v)}`)) wrong.push(`doc ${c.i} ${f}: the marker shows a plaintext`);
      } else if (shown(v) !== shown(plain(c.i)[f])) wrong.push(`doc ${c.i} ${f}: ${shown(v).slice(0, 100)}, expected ${shown(plain(c.i)[f])}`);
    }
    if (got?.note !== `w${c.i}`) wrong.push(`doc ${c.i}: note ${got?.note}`);
    if (c.i !== 1) {
      const e = await strict.findById(made[c.i]._id).then(() => undefined, (err: unknown) => err);
      if (!(e instanceof DecryptionError)) wrong.push(`doc ${c.i}: throw mode gave ${shown(e).slice(0, 100)}`);
      else if (/W(DET|RND|RB|PER|ANY)-\d/.test(errorText(e))) wrong.push(`doc ${c.i}: the error shows a plaintext`);
    }
  }
  t.deepEqual(wrong, []);
});

// ---------------------------------------------------------------- 4. distinct

test.serial('held: distinct on the Deterministic field over generated one-byte header variants lists exactly the plaintexts of the values whose header is the field\'s (each once) and a marker for each other distinct stored value, none showing a plaintext', async (t) => {
  const marker = repoOf(client, 'marker');
  await coll().deleteMany({});
  const docs = planDocs(genDocs(5504, 1, 40, 40)[0], 6000);
  await coll().insertMany(docs.map(storedDoc));
  const slots = docs.map((d) => ({ s: d.slots[0], e: expectedOf(d.slots[0], d.tenant, vault1) })).filter(({ s }) => s.stored);
  const got = await marker.distinct('det').then((v) => ({ v }), (e: unknown) => ({ e }));
  if ('e' in got) { t.log(`distinct refused: ${describe(got.e)}`); t.true(got.e instanceof Error); return; }
  const values = got.v.filter((v) => !(v instanceof UndecryptableValue)).map((v) => shown(v)).sort();
  const markers = got.v.filter((v): v is UndecryptableValue => v instanceof UndecryptableValue);
  const expectedValues = [...new Set(slots.filter(({ e }) => 'value' in e).map(({ e }) => shown((e as { value: unknown }).value)))].sort();
  const expectedMarkers = new Set(slots.filter(({ e }) => !('value' in e)).map(({ s }) => Buffer.from(s.stored!.buffer).toString('hex'))).size;
  t.log(`${values.length} values, ${markers.length} markers`);
  t.deepEqual(values, expectedValues);
  t.is(markers.length, expectedMarkers);
  t.false(markers.some((m) => `${inspect(m)}${JSON.stringify(m)}`.includes('SECRET55')));
});

// ---------------------------------------------------------------- 5. two clients, two vaults, interleaved

test.serial('held: two clients in one process with different master keys and key vaults (the second vault holds another key under key A\'s id and alt name, and no tenant keys), reading the same generated documents (some sealed under the first vault\'s A, some under the second\'s) concurrently and interleaved across find, batches, findById and aggregate: each client reads every value as its own vault says, whatever the other read before', async (t) => {
  const m1 = repoOf(client, 'marker');
  const m2 = repoOf(client2, 'marker');
  await coll().deleteMany({});
  const samples = genDocs(5505, 2, 20, 20);
  const docs1 = planDocs(samples[0], 7000);
  const keyA = keys.A;
  keys.A = { ...keys.A2 };
  const docs2 = planDocs(samples[1], 7100);
  keys.A = keyA;
  const docs = [...docs1, ...docs2];
  await coll().insertMany(docs.map(storedDoc));
  const byN = new Map(docs.map((d) => [d.n, d]));
  let opened2 = 0;
  for (const d of docs2) expectedIn(d, vault2).forEach((e) => { if ('value' in e) opened2++; });
  const wrong: string[] = [];
  const jobs: Array<() => Promise<void>> = [];
  for (let round = 0; round < 4; round++) {
    for (const [c, vault, name] of [[m1, vault1, 'client1'], [m2, vault2, 'client2']] as const) {
      jobs.push(async () => { for (const e of await c.find({}, { batchSize: 3 + round }).toArray()) wrong.push(...checkRead(`${name} find`, byN.get(e.n)!, e, vault)); });
      jobs.push(async () => { for await (const b of c.find({}, { batchSize: 4, sort: { n: -1 } }).batches()) for (const e of b) wrong.push(...checkRead(`${name} batches`, byN.get(e.n)!, e, vault)); });
      jobs.push(async () => { for (const d of docs.filter((_, i) => i % 4 === round)) wrong.push(...checkRead(`${name} findById`, d, await c.findById(d._id), vault)); });
      jobs.push(async () => { for (const e of await c.aggregate([{ $match: { n: { $gte: 7000 } } }], { batchSize: 5 }).toArray()) wrong.push(...checkRead(`${name} aggregate`, byN.get(e.n as number)!, e, vault)); });
    }
  }
  // Shuffled, all at once.
  const order = fc.sample(fc.shuffledSubarray(jobs.map((_, i) => i), { minLength: jobs.length, maxLength: jobs.length }), { numRuns: 1, seed: 5506 })[0];
  await Promise.all(order.map((i) => jobs[i]()));
  t.log(`${jobs.length} reads; ${opened2} values the second client opens`);
  t.true(opened2 > 10);
  t.deepEqual(wrong.slice(0, 12), [], `${wrong.length} wrong:\n${wrong.slice(0, 12).join('\n')}`);
});

// ---------------------------------------------------------------- 6. key vault lookups that fail

test.serial('held: when the key vault cannot be asked for an alt name (tenant t2\'s, key B\'s), exactly the values whose key it would tell are markers (key-vault-unreachable), every other value reads as before; the failure is not remembered: the next read, the vault answering again, reads everything as the reference says', async (t) => {
  const c3 = await localKeyClient([Rec55], masterKey, KEY_VAULT, { warn: () => undefined });
  try {
    const m3 = repoOf(c3, 'marker');
    await coll().deleteMany({});
    const docs = planDocs(genDocs(5507, 1, 30, 30)[0], 8000);
    await coll().insertMany(docs.map(storedDoc));
    const enc = c3.encryption as unknown as { getKeyByAltName(n: string): Promise<unknown> };
    const original = enc.getKeyByAltName;
    const failing = new Set(['t2', KEY_B]);
    let asked = 0;
    enc.getKeyByAltName = function (this: unknown, n: string) {
      if (failing.has(n)) { asked++; const e = new Error('connection reset by peer (test)'); e.name = 'MongoNetworkError'; return Promise.reject(e); }
      return original.call(this, n);
    };
    const wrong: string[] = [];
    try {
      const got = await m3.find({}, { sort: { n: 1 } }).toArray();
      got.forEach((e, i) => {
        const d = docs[i];
        const exp = expectedIn(d, vault1);
        d.slots.forEach((s, k) => {
          const x = exp[k];
          const v = e[s.field];
          const asksVault = (s.field === 'rb' || (s.field === 'per' && d.tenant === 't2'));
          const passesHeader = 'value' in x || 'undecryptable' in x || ('reason' in x && x.reason === 'key-mismatch');
          if (asksVault && passesHeader) {
            if (!(v instanceof UndecryptableValue) || v.reason !== 'key-vault-unreachable') wrong.push(`doc ${d.n} ${s.field} ${JSON.stringify(s.variant)}: ${shown(v).slice(0, 120)} while the vault fails`);
          } else if (asksVault && 'reason' in x) {
            if (!(v instanceof UndecryptableValue) || v.reason !== x.reason) wrong.push(`doc ${d.n} ${s.field} ${JSON.stringify(s.variant)}: ${shown(v).slice(0, 120)}, expected ${x.reason}`);
          }
        });
        const others = { ...d, slots: d.slots.filter((s) => !(s.field === 'rb' || (s.field === 'per' && d.tenant === 't2'))) };
        wrong.push(...checkRead('vault failing', others, e));
      });
    } finally {
      enc.getKeyByAltName = original;
    }
    const again = await m3.find({}, { sort: { n: 1 } }).toArray();
    again.forEach((e, i) => wrong.push(...checkRead('vault back', docs[i], e)));
    t.log(`failed lookups: ${asked}`);
    t.true(asked > 0);
    t.deepEqual(wrong.slice(0, 12), [], `${wrong.length} wrong:\n${wrong.slice(0, 12).join('\n')}`);
  } finally {
    await c3.close();
  }
});

// ---------------------------------------------------------------- 7. the header cache itself

/** A fresh reading of the header, from the bytes as they are now (no cache). */
function freshInfo(bytes: Uint8Array): { algorithm: string; keyId: string; keyHex: string; originalBsonType: number } | undefined {
  if (bytes.length < 18 || (bytes[0] !== 1 && bytes[0] !== 2)) return undefined;
  const id = Buffer.from(bytes.subarray(1, 17));
  return { algorithm: bytes[0] === 1 ? 'Deterministic' : 'Random', keyId: uuidOf(id), keyHex: id.toString('hex'), originalBsonType: bytes[17] };
}

test.serial('held: generated sequences of reads and in-place byte changes over 14 Binaries that view overlapping ranges of one ArrayBuffer (so a change to one changes others\' headers), cycling through >8 distinct headers: inspectEncryptedBlob always says what a fresh reading of the bytes as they are now says, its answer is frozen, and an answer is shared only between equal headers', (t) => {
  const wrong: string[] = [];
  const runs = fc.sample(fc.tuple(
    fc.uint8Array({ minLength: 400, maxLength: 400 }),
    fc.array(fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 13 }).map((i) => ({ op: 'read' as const, i })) },
      fc.tuple(fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 255 })).map(([i, at, b]) => ({ op: 'set' as const, i, at, b })),
      fc.integer({ min: 0, max: 13 }).map((i) => ({ op: 'fresh' as const, i })),
    ), { minLength: 20, maxLength: 120 }),
  ), { numRuns: 300, seed: 5508 });
  let hits = 0; let distinct = 0;
  for (const [seed, ops] of runs) {
    const memory = new ArrayBuffer(400);
    const all = new Uint8Array(memory);
    all.set(seed);
    // Headers mostly valid: algorithm 1/2 at each view's start, ids from a small pool differing in one byte.
    const starts = [0, 5, 9, 17, 18, 30, 31, 60, 100, 117, 118, 200, 300, 390];
    const pool = [Buffer.alloc(16, 0x11), Buffer.alloc(16, 0x11), Buffer.alloc(16, 0x11)];
    pool[1][15] = 0x10; pool[2][0] = 0x91;
    starts.forEach((at, k) => { if (at + 18 <= 400 && k % 5 !== 4) { all[at] = (k % 2) + 1; all.set(pool[k % 3].subarray(0, Math.min(16, 399 - at)), at + 1); all[at + 17] = [2, 16, 18][k % 3]; } });
    const lengths = starts.map((at, k) => Math.min(400 - at, k === 12 ? 17 : 40));
    const views = starts.map((at, k) => { const b = new Binary(Buffer.from(memory, at, lengths[k]), 6); return b; });
    const seen = new Map<string, object>();
    const headers = new Set<string>();
    for (const o of ops) {
      if (o.op === 'set') { const v = views[o.i].buffer; if (o.at < v.length) v[o.at] = o.b; continue; }
      if (o.op === 'fresh') { const v = views[o.i]; views[o.i] = new Binary(Buffer.from(Buffer.from(v.buffer)), 6); continue; }
      const blob = views[o.i];
      const got = inspectEncryptedBlob(blob);
      const want = freshInfo(blob.buffer);
      if (shown(got && { ...got }) !== shown(want)) { wrong.push(`view ${o.i} bytes ${Buffer.from(blob.buffer.subarray(0, 18)).toString('hex')}: ${shown(got)} for ${shown(want)}`); continue; }
      if (got && !Object.isFrozen(got)) wrong.push('an answer is not frozen');
      if (got) {
        const header = Buffer.from(blob.buffer.subarray(0, 18)).toString('hex');
        headers.add(header);
        const before = seen.get(header);
        if (before === got) hits++;
        for (const [h, info] of seen) if (info === got && h !== header) wrong.push(`headers ${h} and ${header} share one answer`);
        seen.set(header, got);
      }
    }
    distinct = Math.max(distinct, headers.size);
  }
  t.log(`${hits} answers shared, up to ${distinct} distinct headers in one run`);
  t.true(hits > 100 && distinct > 8);
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

test.serial('held: an answer cannot be changed (assigning its fields throws in strict mode and changes nothing for later reads); a Binary whose buffer is a plain Uint8Array at an offset (not a Buffer), a Binary subclass, and an object whose `buffer` getter returns other bytes on each read are each read from one consistent reading of their bytes', (t) => {
  const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const header = Buffer.concat([Buffer.from([2]), id, Buffer.from([2]), randomBytes(70)]);
  const info = inspectEncryptedBlob(new Binary(Buffer.from(header), 6))!;
  t.throws(() => { (info as { keyId: string }).keyId = uuidOf(keys.A.id); }, { instanceOf: TypeError });
  t.throws(() => { (info as { algorithm: string }).algorithm = 'Deterministic'; }, { instanceOf: TypeError });
  t.is(inspectEncryptedBlob(new Binary(Buffer.from(header), 6))?.keyId, uuidOf(id));
  // A plain Uint8Array at an offset of a larger buffer.
  const backing = new Uint8Array(200);
  backing.set(header, 37);
  backing[37 + 17] = 0x10;
  const plain = new Binary(Buffer.from(header), 6);
  (plain as { buffer: Uint8Array }).buffer = new Uint8Array(backing.buffer, 37, header.length);
  t.deepEqual({ ...inspectEncryptedBlob(plain) }, { algorithm: 'Random', keyId: uuidOf(id), keyHex: id.toString('hex'), originalBsonType: 0x10 });
  // A subclass.
  class Sub extends Binary {}
  const sub = new Sub(Buffer.concat([Buffer.from([1]), keys.B.id, Buffer.from([2]), randomBytes(50)]), 6);
  t.deepEqual({ ...inspectEncryptedBlob(sub) }, { algorithm: 'Deterministic', keyId: uuidOf(keys.B.id), keyHex: keys.B.id.toString('hex'), originalBsonType: 2 });
  // A getter that answers differently on each read: the answer describes one of the readings whole, never a mix.
  const a = Buffer.concat([Buffer.from([1]), keys.A.id, Buffer.from([2]), randomBytes(50)]);
  const b = Buffer.concat([Buffer.from([2]), keys.B.id, Buffer.from([16]), randomBytes(50)]);
  let reads = 0;
  const flaky = Object.create(Binary.prototype, { sub_type: { value: 6 }, buffer: { get: () => (reads++ % 2 ? b : a) } });
  for (let k = 0; k < 6; k++) {
    const got = { ...inspectEncryptedBlob(flaky) };
    const ok = [freshInfo(a), freshInfo(b)].some((w) => shown(w) === shown(got));
    t.true(ok, shown(got));
  }
});

test.serial('held: a key chosen by a function of the stored document: each value decrypts only under the key the function names for its own document (t1, t2, the model key), another tenant\'s ciphertext or a document whose function throws, returns a number or an empty string is a marker (key-mismatch / missing-key), in one batch with the rest, and identically on a second read', async (t) => {
  const fns = client.repository(Fn55 as never, { onUndecryptable: 'marker' } as never) as unknown as Repo;
  const c = raw.db(DB).collection('fns');
  await c.deleteMany({});
  const who = ['t1', 't2', 'main', 'throws', 'number', 'empty', 'nobody'];
  const letters: Record<string, string> = { t1: 'T1', t2: 'T2', main: 'A' };
  const rows: Array<{ _id: ObjectId; who: string; key: string; secret: string; expect: string }> = [];
  let n = 0;
  for (const w of who) for (const k of ['T1', 'T2', 'A', 'B']) {
    const secret = `FNSECRET-${n++}`;
    const expect = !letters[w] ? 'missing-key' : letters[w] === k ? 'value' : 'key-mismatch';
    rows.push({ _id: new ObjectId(), who: w, key: k, secret, expect });
  }
  await c.insertMany(rows.map((r) => ({ _id: r._id, who: r.who, sec: new Binary(sealWith(keys[r.key].id, keys[r.key].key, 2, 2, bsonString(r.secret)), 6) })));
  const wrong: string[] = [];
  for (const pass of [1, 2]) {
    const got = await fns.find({}, { batchSize: 9 }).toArray();
    for (const r of rows) {
      const e = got.find((x) => String(x._id) === String(r._id));
      const v = e?.sec;
      if (r.expect === 'value') { if (v !== r.secret) wrong.push(`pass ${pass} ${r.who}/${r.key}: ${shown(v)}`); }
      else if (!(v instanceof UndecryptableValue) || v.reason !== r.expect) wrong.push(`pass ${pass} ${r.who}/${r.key}: ${shown(v).slice(0, 120)}, expected ${r.expect}`);
      else if (`${inspect(v)}${JSON.stringify(v)}`.includes('FNSECRET')) wrong.push(`pass ${pass} ${r.who}/${r.key}: the marker shows a plaintext`);
      if (e?.who !== r.who) wrong.push(`pass ${pass} ${r.who}: who read as ${e?.who}`);
    }
  }
  t.deepEqual(wrong, []);
});

/**
 * Round-37 adversarial pass (d9391a8): values of declared BSON classes whose fields lie (getters that
 * change between reads, out-of-range fields), in typed plain and encrypted fields, `_id`, typed
 * arrays, filters and arrayFilters; cross-realm values. Plain JavaScript against the public API
 * (repositories cast to any), the raw driver beside it, command monitoring on every command.
 * Findings: a NUL byte in a RegExp's source, a BSONSymbol whose value is not a string (untyped errors at serialization).
 * FINDING-n tests assert the correct behaviour (they failed when written); "held" tests passed.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Binary, BSON, BSONRegExp, BSONSymbol, Code, Decimal128, Long, ObjectId, Timestamp } from 'mongodb';
import * as vm from 'node:vm';
import { StrongboxError } from '../../src/index';
import { storedIn } from '../harness/adversary';
import { typedBench } from '../harness/typedModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

const { sent, trepo, tcoll } = typedBench(DB, 'adv37');
const isStrongbox = (e: unknown) => e instanceof StrongboxError;
const errOf = (e: unknown) => `${(e as Error)?.constructor?.name} ${(e as { code?: string })?.code ?? ''} ${(e as Error)?.message ?? ''}`;
const typeName = (v: any) => v?._bsontype ?? (v instanceof Date ? 'Date' : v instanceof RegExp ? 'RegExp' : typeof v);
const isEnc = (v: any) => v instanceof Binary && v.sub_type === 6;
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));
/** Every command's text as BSON writes it (EJSON, so a plaintext inside shows). */
const wire = () => sent.map((c) => { try { return BSON.EJSON.stringify(c.command, { relaxed: false }); } catch (e) { return `unwritable ${(e as Error).message}`; } }).join('\n');

/** A Binary whose sub_type reads `from` for the first `k` reads and 6 from then on (its bytes those of another document's ciphertext when given). */
function flipBin(k: number, bytes = Buffer.from('plain-bytes')): Binary {
  const b = new Binary(bytes, 0);
  let reads = 0;
  Object.defineProperty(b, 'sub_type', { get: () => (reads++ < k ? 0 : 6), enumerable: true });
  return b;
}
/** An ObjectId whose _bsontype says ObjectId for the first `k` reads, MaxKey after. */
function flipOid(k: number): ObjectId {
  const o = new ObjectId();
  let reads = 0;
  Object.defineProperty(o, '_bsontype', { get: () => (reads++ < k ? 'ObjectId' : 'MaxKey') });
  return o;
}

/** The value of `field` in the last write command, as BSON writes it. */
function sentValue(field: string): unknown {
  const c = writes().pop();
  if (!c) return undefined;
  const cmd = BSON.deserialize(BSON.serialize(c.command), { promoteValues: false });
  const d = cmd.documents?.[0] ?? cmd.updates?.[0]?.u?.$set;
  return d?.[field];
}

/** Writes `make()` to `field` by insertOne and $set; what was stored (raw) unless refused with a StrongboxError before a write. */
async function writeAll(wrong: string[], name: string, field: string, make: () => unknown, ok: (stored: any) => boolean): Promise<void> {
  for (const [path, run] of [
    ['insertOne', async () => (await trepo().insertOne({ [field]: make() }))._id],
    ['$set', async () => { const s = await trepo().insertOne({}); sent.length = 0; await trepo().updateOne({ _id: s._id }, { $set: { [field]: make() } }); return s._id; }],
  ] as Array<[string, () => Promise<ObjectId>]>) {
    sent.length = 0;
    try {
      const id = await run();
      const raw = (await storedIn(tcoll(), id))[field];
      // Encrypted: what is inside the ciphertext is what must be right.
      const stored = isEnc(raw) ? (await trepo().findById(id))[field] : raw;
      if (!ok(stored)) wrong.push(`${name} via ${path}: stored ${typeName(stored)} ${BSON.EJSON.stringify({ v: stored }).slice(0, 80)}`);
    } catch (err) {
      // FerretDB drops the connection on any Code (so does it for the raw driver): judge what was sent.
      if ((err as Error)?.constructor?.name === 'MongoNetworkError' && sentValue(field) !== undefined) { if (!ok(sentValue(field))) wrong.push(`${name} via ${path}: sent ${BSON.EJSON.stringify({ v: sentValue(field) }).slice(0, 80)}`); continue; }
      if (!isStrongbox(err)) wrong.push(`${name} via ${path}: untyped ${errOf(err).slice(0, 120)}`);
      else if (writes().filter((c) => c.commandName !== 'insert' || path === 'insertOne').length > 0) wrong.push(`${name} via ${path}: refused after a write`);
    }
  }
}

test.serial('held: a Binary whose sub_type getter answers 0 for the first k reads (k = 1..4) and 6 after is stored (plain binData, a typed binData array) or encrypted (Deterministic, Random binData) as subtype 0, never as a subtype-6 Binary from user input', async (t) => {
  const wrong: string[] = [];
  for (let k = 1; k <= 4; k++) {
    await writeAll(wrong, `bin, 6 from read ${k + 1}`, 'bin', () => flipBin(k), (v) => v instanceof Binary && v.sub_type === 0);
    await writeAll(wrong, `bins[0], 6 from read ${k + 1}`, 'bins', () => [flipBin(k)], (v) => Array.isArray(v) && v[0] instanceof Binary && v[0].sub_type === 0);
    for (const f of ['ebin', 'rbin']) {
      await writeAll(wrong, `${f}, 6 from read ${k + 1}`, f, () => flipBin(k), (v) => v instanceof Binary && v.sub_type === 0);
      // Encrypted: what is inside the ciphertext must be what was checked.
      const got = await trepo().insertOne({ [f]: flipBin(k) }).then(async (s: any) => (await trepo().findById(s._id))[f], (e: unknown) => e);
      if (got instanceof Binary && got.sub_type !== 0) wrong.push(`${f}, 6 from read ${k + 1}: decrypts to a Binary of subtype ${got.sub_type}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: a filter comparand of a typed plain field whose _bsontype turns to MaxKey (ObjectId) or whose sub_type turns to 6 (Binary) after k reads (k = 1..8) is never sent as such (find, findOne $in, count, deleteMany $ne, distinct, arrayFilters) and an upsert on it stores the declared type', async (t) => {
  const wrong: string[] = [];
  for (const [field, make, want] of [1, 2, 3, 5, 8].flatMap((k) => [['ref', () => flipOid(k), 'ObjectId'], ['bin', () => flipBin(k), 'Binary0']]) as Array<[string, () => unknown, string]>) {
    const ok = (v: any) => (want === 'Binary0' ? v instanceof Binary && v.sub_type === 0 : v?._bsontype === want);
    const id = new ObjectId();
    sent.length = 0;
    const r = await trepo().updateOne({ _id: id, [field]: make() }, { $set: { name: 'up' } }, { upsert: true }).then(() => 'ok', (e: unknown) => e);
    if (r !== 'ok' && !isStrongbox(r)) wrong.push(`${field} upsert: untyped ${errOf(r).slice(0, 100)}`);
    const doc = await tcoll().findOne({ _id: id }, { promoteValues: false });
    if (doc && !ok(doc[field])) wrong.push(`${field} upsert filter stored ${typeName(doc[field])}${doc[field] instanceof Binary ? ` subtype ${doc[field].sub_type}` : ''}`);
    // The same comparand in reads and deletes: what is sent is what was checked.
    for (const [op, run] of [
      ['find', async () => { const c = trepo().find({ [field]: make() }); return typeof c?.toArray === 'function' ? c.toArray() : c; }], ['findOne', () => trepo().findOne({ [field]: { $in: [make()] } })],
      ['count', () => trepo().count({ [field]: make() })], ['deleteMany', () => trepo().deleteMany({ [field]: { $ne: make() }, name: 'none' })],
      ['distinct', () => trepo().distinct('name', { [field]: make() })],
      ['arrayFilters', () => trepo().updateOne({ _id: id }, { $set: { 'refs.$[e]': new ObjectId() } }, { arrayFilters: [{ e: field === 'ref' ? make() : flipOid(3) }] })],
    ] as Array<[string, () => Promise<unknown>]>) {
      sent.length = 0;
      const res = await Promise.resolve().then(run).then(() => 'ok', (e: unknown) => e);
      // FerretDB has no arrayFilters (a MongoServerError, as for the raw driver): judge what was sent.
      if (res !== 'ok' && !isStrongbox(res) && !(op === 'arrayFilters' && (res as Error)?.constructor?.name === 'MongoServerError')) wrong.push(`${field} ${op}: untyped ${errOf(res).slice(0, 100)}`);
      else if (!isStrongbox(res) && (/MaxKey|"subType":"06"/.test(wire()))) wrong.push(`${field} ${op}: sent ${/MaxKey/.test(wire()) ? 'a maxKey' : 'a subtype-6 Binary'}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-1: a RegExp whose source holds a NUL byte, written by insertOne to a plain regex field, is refused with a StrongboxError before any command: toRegex copies it unchecked and js-bson refuses it only while the driver serializes the insert, with an untyped BSONError quoting the pattern (held: the same in a filter, in a Random-encrypted regex field without the plaintext in the error, and a BSONRegExp whose pattern getter answers a NUL)', async (t) => {
  const wrong: string[] = [];
  const secret = `sekret-${new ObjectId().toHexString()}`;
  for (const field of ['re', 'rre']) {
    // (js-bson's BSONRegExp constructor refuses a NUL byte: one whose pattern getter answers it.)
    for (const make of [() => new RegExp(`${secret}\x00x`), () => Object.defineProperty(new BSONRegExp('a', 'i'), 'pattern', { get: () => `${secret}\x00x` })]) {
      sent.length = 0;
      const r = await Promise.resolve().then(() => trepo().insertOne({ [field]: make() })).then(() => 'ok', (e: unknown) => e);
      if (r === 'ok') { wrong.push(`${field} ${typeName(make())}: accepted`); continue; }
      if (!isStrongbox(r)) wrong.push(`${field} ${typeName(make())}: untyped ${errOf(r).slice(0, 80).replace(secret, '<secret>')}`);
      if (field === 're') {
        const f = await Promise.resolve().then(() => trepo().findOne({ re: make() })).then(() => 'ok', (e: unknown) => e);
        if (!isStrongbox(f)) wrong.push(`re filter ${typeName(make())}: ${f === 'ok' ? 'ok' : `untyped ${errOf(f).slice(0, 60).replace(secret, '<secret>')}`}`);
      }
      if (field === 'rre' && (errOf(r).includes(secret) || String((r as Error).stack).includes(secret))) wrong.push(`${field} ${typeName(make())}: the error carries the plaintext`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-2: a BSONSymbol whose value is not a string (a subclass or getter answering 5) in a plain symbol field is refused with a StrongboxError before any command, by insertOne, $set and a filter: detachedAs copies the value into new BSONSymbol(5) unchecked, and the driver then throws an untyped TypeError (ERR_INVALID_ARG_TYPE) while serializing', async (t) => {
  const wrong: string[] = [];
  const make = () => Object.defineProperty(new BSONSymbol('s'), 'value', { get: () => 5 });
  await writeAll(wrong, 'symbol value a number', 'sym', make, (v) => v?._bsontype === 'BSONSymbol' && typeof v.value === 'string');
  const f = await Promise.resolve().then(() => trepo().findOne({ sym: make() })).then(() => 'ok', (e: unknown) => e);
  if (!isStrongbox(f)) wrong.push(`filter: ${f === 'ok' ? 'ok' : `untyped ${errOf(f).slice(0, 80)}`}`);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: lying fields of each class (ObjectId id of 13 bytes or a Buffer subclass with toBSON, also as _id, in a typed array and Deterministic; Binary position beyond/negative/flipping; Long halves of strings/objects/huge numbers; Timestamp t/i out of range; Decimal128 of 15/17 bytes; BSONRegExp options x/l/s/u/a number, pattern a number; Code code changing or a function; javascriptWithScope code or scope flipping; a Random symbol whose value is a number) are refused with a StrongboxError before a write, or stored as the declared type with the value checked', async (t) => {
  const wrong: string[] = [];
  const over = (base: any, props: Record<string, () => unknown>) => { for (const [k, g] of Object.entries(props)) Object.defineProperty(base, k, { get: g, configurable: true }); return base; };
  class TaggedBuf extends Buffer { toBSON() { return 'x'; } }
  const flipping = <T>(first: T, then: T) => { let n = 0; return () => (n++ === 0 ? first : then); };
  const cases: Array<[string, string, () => unknown, (v: any) => boolean]> = [
    ['oid id 13 bytes', 'ref', () => over(new ObjectId(), { id: () => Buffer.alloc(13, 1) }), (v) => v?._bsontype === 'ObjectId'],
    ['oid id Buffer subclass with toBSON', 'ref', () => over(new ObjectId(), { id: () => Object.setPrototypeOf(Buffer.alloc(12, 2), TaggedBuf.prototype) }), (v) => v?._bsontype === 'ObjectId' && v.toHexString() === '02'.repeat(12)],
    ['oid as _id with id 13 bytes', '_id', () => over(new ObjectId(), { id: () => Buffer.alloc(13, 1) }), (v) => v?._bsontype === 'ObjectId'],
    ['bin position beyond', 'bin', () => over(new Binary(Buffer.from('abc')), { position: () => 99 }), (v) => v instanceof Binary && v.sub_type === 0],
    ['bin position negative', 'bin', () => over(new Binary(Buffer.from('abc')), { position: () => -1 }), (v) => v instanceof Binary && v.sub_type === 0],
    ['bin position flips', 'bin', () => over(new Binary(Buffer.from('abc')), { position: flipping(3, 1) }), (v) => v instanceof Binary && v.position === 3],
    ['long halves strings', 'l', () => over(new Long(0, 0), { low: () => '7', high: () => ({}) }), (v) => v?._bsontype === 'Long'],
    ['long halves huge', 'l', () => over(new Long(0, 0), { low: () => 2 ** 40 + 3, high: () => 1e300 }), (v) => v?._bsontype === 'Long'],
    ['timestamp t out of range', 'ts', () => over(new Timestamp({ t: 1, i: 1 }), { t: () => 2 ** 33 }), (v) => v?._bsontype === 'Timestamp'],
    ['timestamp i negative', 'ts', () => over(new Timestamp({ t: 1, i: 1 }), { i: () => -1 }), (v) => v?._bsontype === 'Timestamp'],
    ['decimal 15 bytes', 'dec', () => over(new Decimal128('1'), { bytes: () => new Uint8Array(15) }), (v) => v?._bsontype === 'Decimal128'],
    ['decimal 17 bytes', 'dec', () => over(new Decimal128('1'), { bytes: () => new Uint8Array(17) }), (v) => v?._bsontype === 'Decimal128'],
    ...['x', 'l', 's', 'u'].map((o): [string, string, () => unknown, (v: any) => boolean] => [`regex option ${o}`, 're', () => over(new BSONRegExp('a', 'i'), { options: () => o }), () => false]),
    ['regex options a number', 're', () => over(new BSONRegExp('a', 'i'), { options: () => 5 }), (v) => v?._bsontype === 'BSONRegExp'],
    ['regex pattern a number', 're', () => over(new BSONRegExp('a', 'i'), { pattern: () => 5 }), (v) => v?._bsontype === 'BSONRegExp' && typeof v.pattern === 'string'],
    ['code flips', 'js', () => over(new Code('a()'), { code: flipping('a()', 'b()') }), (v) => v?._bsontype === 'Code' && v.code === 'a()'],
    ['code a function', 'js', () => over(new Code('a()'), { code: () => function f() { return 1; } }), () => false],
    ['jws code flips to function', 'jws', () => over(new Code('a()', { s: 1 }), { code: flipping<unknown>('a()', () => 1) }), (v) => v?._bsontype === 'Code' && v.code === 'a()'],
    ['jws scope flips to null', 'jws', () => over(new Code('a()', { s: 1 }), { scope: flipping<unknown>({ s: 1 }, null) }), (v) => v?._bsontype === 'Code' && v.scope != null],
    ['refs item id 13 bytes', 'refs', () => [over(new ObjectId(), { id: () => Buffer.alloc(13, 1) })], (v) => Array.isArray(v) && v[0]?._bsontype === 'ObjectId'],
    ['eref id 13 bytes', 'eref', () => over(new ObjectId(), { id: () => Buffer.alloc(13, 1) }), (v) => v?._bsontype === 'ObjectId'],
    ['rsym value a number', 'rsym', () => over(new BSONSymbol('s'), { value: () => 5 }), (v) => typeof v === 'string' || (v?._bsontype === 'BSONSymbol' && typeof v.value === 'string')],
  ];
  for (const [name, field, make, ok] of cases) {
    if (field === '_id') {
      sent.length = 0;
      const r = await trepo().insertOne({ _id: make() }).then((s: any) => s, (e: unknown) => e);
      if (!isStrongbox(r)) wrong.push(`${name}: ${r instanceof Error ? `untyped ${errOf(r).slice(0, 100)}` : 'accepted'}`);
      continue;
    }
    await writeAll(wrong, name, field, make, ok);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: cross-realm values (a RegExp and a Date from vm.runInNewContext; an ObjectId and a Binary of a second copy of the bson package) in typed fields, typed arrays, Deterministic fields and filters are refused with a StrongboxError or stored as the declared type', async (t) => {
  const wrong: string[] = [];
  const realm = vm.runInNewContext('({ re: /abc/i, date: new Date(5) })');
  // A second instance of the bson package (the module cache emptied of it, then required again).
  const bsonPath = require.resolve('bson');
  const saved = require.cache[bsonPath];
  delete require.cache[bsonPath];
  const second = require('bson');
  require.cache[bsonPath] = saved;
  if (second.ObjectId === ObjectId) wrong.push('no second copy of bson was loaded');
  await writeAll(wrong, 'vm RegExp', 're', () => realm.re, (v) => v?._bsontype === 'BSONRegExp' && v.pattern === 'abc');
  await writeAll(wrong, 'vm Date', 'when', () => realm.date, (v) => v instanceof Date && v.getTime() === 5);
  await writeAll(wrong, 'second ObjectId', 'ref', () => new second.ObjectId(), (v) => v?._bsontype === 'ObjectId');
  await writeAll(wrong, 'second ObjectId in refs', 'refs', () => [new second.ObjectId()], (v) => v?.[0]?._bsontype === 'ObjectId');
  await writeAll(wrong, 'second ObjectId in eref', 'eref', () => new second.ObjectId(), (v) => v?._bsontype === 'ObjectId');
  await writeAll(wrong, 'second Binary subtype 6', 'bin', () => new second.Binary(Buffer.from('x'), 6), () => false);
  for (const filter of [{ ref: new second.ObjectId() }, { eref: new second.ObjectId() }, { re: realm.re }]) {
    const r = await Promise.resolve().then(() => trepo().find(filter)).then(() => 'ok', (e: unknown) => e);
    if (r !== 'ok' && !isStrongbox(r)) wrong.push(`filter ${Object.keys(filter)[0]}: untyped ${errOf(r).slice(0, 100)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('generated: a Binary of any subtype but 6, whose sub_type flips to 6 from read k on, any length and position, written by insertOne / $set / $push to bin, bins or rbin, never stores (or encrypts) a subtype-6 Binary; it is stored as first read or refused with a StrongboxError', async (t) => {
  const wrong: string[] = [];
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.constantFrom(0, 1, 4, 5, 128), fc.uint8Array({ maxLength: 8 }), fc.constantFrom('bin', 'bins', 'rbin'), fc.constantFrom('insertOne', '$set', '$push'), async (k, sub, bytes, field, path) => {
    if (path === '$push' && field !== 'bins') return;
    let reads = 0;
    const b = new Binary(Buffer.from(bytes), sub);
    Object.defineProperty(b, 'sub_type', { get: () => (reads++ < k ? sub : 6), enumerable: true });
    const v = field === 'bins' && path !== '$push' ? [b] : b;
    sent.length = 0;
    const r = await (path === 'insertOne' ? trepo().insertOne({ [field]: v }).then((s: any) => s._id)
      : trepo().insertOne({ bins: [] }).then(async (s: any) => { await trepo().updateOne({ _id: s._id }, { [path]: { [field]: v } }); return s._id; })).catch((e: unknown) => e);
    if (!(r instanceof ObjectId)) { if (!isStrongbox(r)) wrong.push(`k=${k} ${field} ${path}: untyped ${errOf(r).slice(0, 80)}`); return; }
    const stored = (await storedIn(tcoll(), r))[field];
    const back = field === 'rbin' ? (await trepo().findById(r)).rbin : undefined;
    const leaf = Array.isArray(stored) ? stored[stored.length - 1] : field === 'rbin' ? back : stored;
    if (!(leaf instanceof Binary) || leaf.sub_type !== sub) wrong.push(`k=${k} sub=${sub} ${field} ${path}: stored ${typeName(leaf)} subtype ${leaf?.sub_type}`);
  }), { numRuns: Number(process.env.STRONGBOX_ADV37_RUNS ?? 60), seed: Number(process.env.STRONGBOX_ADV37_SEED ?? 3737) });
  t.deepEqual(wrong.slice(0, 8), [], wrong.slice(0, 8).join('\n'));
});

/**
 * Round-39 adversarial pass (fa685c8): generated values (fast-check `anything` plus BSON values, NUL
 * strings, '$'/dotted/__proto__ keys) into every field kind of Typed and Doc, by every write path
 * (insertOne, $set, upsert $setOnInsert, $push, replaceOne, save of a loaded entity) and in findOne
 * filters. Plain JavaScript against the public API, the raw driver beside it, command monitoring.
 * FINDING-n tests assert the correct behaviour (they failed when written); "generated" is the property
 * (it excluded the two findings' classes when written; it excludes nothing now they are fixed).
 * FINDING-3 was found while fixing FINDING-2: a filter compared with a value carrying a toBSON, a class
 * instance or a Map checked the object and sent what BSON writes for it, an operator included.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Binary, BSON, BSONRegExp, Code, DBRef, Decimal128, Double, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { storedIn } from '../harness/adversary';
import { typedBench } from '../harness/typedModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { sent, repo, trepo, coll, tcoll, rawColl } = typedBench(DB, 'adv39');
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));
const hex = (v: unknown) => { try { return Buffer.from(BSON.serialize({ v })).toString('hex'); } catch (e) { return `unserializable ${(e as Error).message}`; } };
const ejson = (v: unknown) => { try { return BSON.EJSON.stringify({ v }, { relaxed: false }); } catch { try { return fc.stringify(v); } catch { return '<unprintable>'; } } };
const errOf = (e: unknown) => `${(e as Error)?.constructor?.name} ${(e as { code?: string })?.code ?? ''} ${(e as Error)?.message ?? ''}`;
/** The BSON type byte a value is written with (absent: 0). */
const typeByte = (v: unknown) => (v === undefined ? 0 : Buffer.from(BSON.serialize({ v }))[4]);
const CODE: Record<string, number> = { double: 1, string: 2, object: 3, array: 4, binData: 5, objectId: 7, bool: 8, date: 9, regex: 11, javascript: 13, symbol: 14, int: 16, timestamp: 17, long: 18, decimal: 19, minKey: 255, maxKey: 127 };
const isEnc = (v: any) => v instanceof Binary && v.sub_type === 6;

type Kind = 'typed' | 'array' | 'free' | 'enc' | 'embedded';
interface Target { m: 'T' | 'D'; f: string; kind: Kind; type?: string }
const T = (f: string, kind: Kind, type?: string): Target => ({ m: 'T', f, kind, type });
const D = (f: string, kind: Kind, type?: string): Target => ({ m: 'D', f, kind, type });
const TARGETS: Target[] = [
  T('s', 'typed', 'string'), T('when', 'typed', 'date'), T('ref', 'typed', 'objectId'), T('bin', 'typed', 'binData'), T('i', 'typed', 'int'),
  T('l', 'typed', 'long'), T('d', 'typed', 'double'), T('dec', 'typed', 'decimal'), T('ts', 'typed', 'timestamp'), T('re', 'typed', 'regex'),
  T('js', 'typed', 'javascript'), T('sym', 'typed', 'symbol'), T('mk', 'typed', 'minKey'), T('mx', 'typed', 'maxKey'), T('obj', 'free'),
  T('tags', 'array', 'string'), T('bins', 'array', 'binData'), T('refs', 'array', 'objectId'),
  T('eref', 'enc'), T('ebin', 'enc'), T('ed', 'enc'), T('ewhen', 'enc'), T('rbin', 'enc'), T('rre', 'enc'), T('rsym', 'enc'), T('jws', 'enc'),
  D('extra', 'free'), D('list', 'free'), D('whole', 'enc'), D('phone', 'enc'), D('ssn', 'enc'), D('addr', 'embedded'), D('tags', 'array', 'string'),
];
const PATHS = ['insertOne', '$set', '$setOnInsert', '$push', 'replaceOne', 'save', 'findOne'] as const;
type Path = (typeof PATHS)[number];

const OID = new ObjectId('0123456789abcdef01234567');
const bsonValue = fc.constantFrom<unknown>(OID, Long.fromNumber(5), new Double(1.5), Decimal128.fromString('1.5'), new Binary(Buffer.from('ab'), 0),
  new Binary(Buffer.alloc(16, 1), 4), new Binary(Buffer.from('xyz'), 6), new Timestamp({ t: 1, i: 1 }), new Code('f()'), new Code('g()', { a: 1 }),
  new DBRef('c', OID), new MinKey(), new MaxKey(), new BSONRegExp('a', 'i'), /ab+c/gimsuy, 'nul\u0000char', 'plain-secret-value');
const oddKey = fc.constantFrom('$x', 'a.b', '__proto__', 'constructor', 'k\u0000', 'ok', '$id', '');
const anything = fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true,
  withObjectString: true, withBoxedValues: true, withUnicodeString: true, maxDepth: 3 });
const value = fc.oneof(anything, bsonValue, fc.dictionary(oddKey, fc.oneof(bsonValue, anything), { maxKeys: 3 }), fc.array(bsonValue, { maxLength: 3 }));

/** Strings inside a value (keys and leaves, 3+ characters): what must not show in an error or a filter sent for an encrypted field. */
function strings(v: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 5) return out;
  if (typeof v === 'string') { if (v.length >= 3 && !/^[a-z]+$/i.test(v)) out.push(v); else if (v.length >= 6) out.push(v); }
  else if (v instanceof Map) for (const [k, x] of v) { strings(k, out, depth + 1); strings(x, out, depth + 1); }
  else if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !('_bsontype' in v)) for (const k of Reflect.ownKeys(v)) { if (typeof k === 'string') strings(k, out, depth + 1); try { strings((v as any)[k], out, depth + 1); } catch { /* getter */ } }
  return out;
}

/** Runs one write (or filter) of `v` into `t` by `path`; returns the id written, or what it threw, with the writes sent after any set-up. */
async function run(t: Target, path: Path, v: unknown): Promise<{ id?: ObjectId; error?: unknown; found?: unknown }> {
  const r = t.m === 'T' ? trepo() : repo();
  sent.length = 0;
  try {
    switch (path) {
      case 'insertOne': return { id: (await r.insertOne({ [t.f]: v }))._id };
      case '$set': { const s = await r.insertOne({}); sent.length = 0; await r.updateOne({ _id: s._id }, { $set: { [t.f]: v } }); return { id: s._id }; }
      case '$setOnInsert': { const id = new ObjectId(); await r.updateOne({ _id: id }, { $setOnInsert: { [t.f]: v } }, { upsert: true }); return { id }; }
      case '$push': { const s = await r.insertOne({ [t.f]: [] }); sent.length = 0; await r.updateOne({ _id: s._id }, { $push: { [t.f]: v } }); return { id: s._id }; }
      case 'replaceOne': { const s = await r.insertOne({}); sent.length = 0; await r.replaceOne({ _id: s._id }, { [t.f]: v }); return { id: s._id }; }
      case 'save': { const s = await r.insertOne({}); const e = await r.findById(s._id); e[t.f] = v; sent.length = 0; await r.save(e); return { id: s._id }; }
      case 'findOne': return { found: await r.findOne({ [t.f]: v }) };
    }
  } catch (error) {
    return { error };
  }
}

/** The raw driver's stored bytes for `f: v` (as an element of an array for $push), or 'threw …'. */
async function rawBytes(f: string, v: unknown, push: boolean): Promise<string> {
  const id = new ObjectId();
  try {
    await rawColl().insertOne({ _id: id, [f]: push ? [v] : v });
    return hex((await storedIn(rawColl(), id))[f]);
  } catch (e) {
    return `threw ${errOf(e).slice(0, 60)}`;
  }
}

async function rawError(f: string, v: unknown, path: Path): Promise<string> {
  if (path !== 'findOne') return rawBytes(f, v, path === '$push');
  return rawColl().findOne({ [f]: v }).then(() => 'ok', (e: unknown) => `threw ${errOf(e).slice(0, 60)}`);
}

/** What is wrong with one generated case, or '' if it held. */
async function check(t: Target, path: Path, v: unknown): Promise<string> {
  const label = `${t.m}.${t.f} (${t.kind}${t.type ? ` ${t.type}` : ''}) via ${path} of ${fc.stringify(v).slice(0, 600)}`;
  const out = await run(t, path, v);
  const secret = t.kind === 'enc' ? strings(v) : [];
  if ('error' in out) {
    const e = out.error as any;
    // FerretDB refusing (or dropping the connection on) a value (Decimal128, MaxKey, Code with scope) the raw driver's same command also fails on is the same outcome.
    if (/^Mongo/.test(e?.constructor?.name) && (await rawError(t.f, v, path)).startsWith(`threw ${e.constructor.name}`)) return '';
    if (!(e instanceof StrongboxError) || typeof e.code !== 'string') return `${label}: untyped ${errOf(e).slice(0, 140)}`;
    if (writes().length > 0) return `${label}: refused ${e.code} after ${writes().length} write(s) were sent`;
    const leak = secret.find((s) => e.message.includes(s));
    return leak ? `${label}: ${e.code} message quotes ${JSON.stringify(leak)}` : '';
  }
  if (path === 'findOne') {
    const wire = sent.map((c) => ejson(c.command)).join('\n');
    const leak = t.f === 'phone' || t.f === 'eref' || t.f === 'ebin' ? secret.concat(strings(v)).find((s) => wire.includes(s)) : undefined;
    return leak ? `${label}: filter sent with plaintext ${JSON.stringify(leak)}` : '';
  }
  const stored = (await (t.m === 'T' ? tcoll() : coll()).findOne({ _id: out.id! }, { promoteValues: false }))?.[t.f];
  if (stored === undefined || stored === null) return ''; // optional field left out or null
  const push = path === '$push';
  const items: unknown[] = push ? (Array.isArray(stored) ? stored : [stored]) : [stored];
  switch (t.kind) {
    case 'typed': return typeByte(stored) === CODE[t.type!] ? '' : `${label}: stored BSON type ${typeByte(stored)} ${ejson(stored).slice(0, 80)}`;
    case 'array': {
      if (typeByte(stored) !== 4) return `${label}: stored BSON type ${typeByte(stored)}, not an array`;
      const bad = (stored as unknown[]).find((x) => typeByte(x) !== CODE[t.type!]);
      return bad === undefined ? '' : `${label}: an element stored as BSON type ${typeByte(bad)} ${ejson(bad).slice(0, 60)}`;
    }
    case 'free': {
      const raw = await rawBytes(t.f, v, push);
      const got = hex(push ? items : stored);
      return raw === got ? '' : `${label}: stored ${ejson(stored).slice(0, 100)}; raw driver ${raw.startsWith('threw') ? raw : `stored ${ejson((await rawColl().findOne({}, { sort: { _id: -1 }, promoteValues: false }))?.[t.f]).slice(0, 100)}`}`;
    }
    case 'enc': {
      if (!isEnc(stored)) return `${label}: stored ${ejson(stored).slice(0, 80)}, not ciphertext`;
      const back = await (t.m === 'T' ? trepo() : repo()).findById(out.id).then(() => '', (e: unknown) => errOf(e).slice(0, 100));
      return back ? `${label}: stored ciphertext that reads back as ${back}` : '';
    }
    case 'embedded': {
      const s = stored as any;
      if (typeByte(s) !== 3) return `${label}: stored BSON type ${typeByte(s)} for an embedded document`;
      const bad = Object.keys(s).filter((k) => !(k === 'city' && typeof s[k] === 'string') && !(k === 'zip' && isEnc(s[k])) && s[k] !== null);
      return bad.length ? `${label}: embedded stored ${ejson(s).slice(0, 100)}` : '';
    }
  }
}

const SEED = Number(process.env.STRONGBOX_ADV39_SEED ?? 3939);
const RUNS = Number(process.env.STRONGBOX_ADV39_RUNS ?? 150);

test.serial('generated: any value into any field kind by any write path or filter is refused with one StrongboxError before any write, or stored as the model declares', async (t) => {
  const wrong: string[] = [];
  const started = Date.now();
  await fc.assert(fc.asyncProperty(fc.constantFrom(...TARGETS), fc.constantFrom(...PATHS), value, async (target, path, v) => {
    if (path === '$push' && target.kind !== 'array' && target.f !== 'list') return;
    const w = await check(target, path, v).catch((e: unknown) => `${target.m}.${target.f} via ${path} of ${ejson(v).slice(0, 120)}: check threw ${errOf(e).slice(0, 200)}`);
    if (w) wrong.push(w);
  }), { numRuns: RUNS, seed: SEED });
  t.log(`${RUNS} runs, seed ${SEED}, ${Date.now() - started} ms`);
  t.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.slice(0, 40).join('\n')}`);
});

/** A value with an own enumerable `__proto__` key (as JSON.parse or fast-check makes it) and a NUL in another key. */
const protoAndNul = () => Object.defineProperty({ 'k\u0000': 1 } as any, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });

test.serial('FINDING-1: save() of a loaded entity given a value with an own "__proto__" key and a NUL in another key is refused with one StrongboxError before any write, as insertOne, $set, $setOnInsert and replaceOne refuse it (INPUT_NUL_CHARACTER): save threw an untyped BSONError "key k\\0 must not contain null bytes" quoting the key, for typed, free-form and encrypted fields alike', async (t) => {
  const wrong: string[] = [];
  for (const target of [T('refs', 'array', 'objectId'), T('s', 'typed', 'string'), T('obj', 'free'), T('ebin', 'enc'), D('extra', 'free'), D('list', 'free'), D('whole', 'enc')]) {
    for (const path of ['save', 'insertOne', '$set', '$setOnInsert', 'replaceOne'] as Path[]) {
      const out = await run(target, path, protoAndNul());
      const e = out.error as any;
      if (!('error' in out)) wrong.push(`${target.m}.${target.f} via ${path}: accepted`);
      else if (!(e instanceof StrongboxError) || writes().length > 0) wrong.push(`${target.m}.${target.f} via ${path}: ${errOf(e).slice(0, 90)} after ${writes().length} writes`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-2: a Map with a non-string key (a number) inside a free-form value (extra, obj, list) is refused with one StrongboxError before any command, by writes and by findOne filters: it threw an untyped TypeError ERR_INVALID_ARG_TYPE "argument must be a string" (the raw driver fails on it too, so the library must refuse it itself)', async (t) => {
  const wrong: string[] = [];
  const cases: Array<[Target, unknown]> = [[D('extra', 'free'), { x: new Map([[1, 1]]) }], [T('obj', 'free'), { x: new Map([[1, 1]]) }], [D('list', 'free'), [new Map([[1, 1]])]], [D('whole', 'enc'), { x: new Map([[1, 1]]) }]];
  for (const [target, v] of cases) {
    for (const path of ['insertOne', '$set', 'replaceOne', 'findOne'] as Path[]) {
      const out = await run(target, path, v);
      const e = out.error as any;
      if (!('error' in out)) { if (path !== 'findOne' || target.f === 'whole') wrong.push(`${target.f} via ${path}: accepted`); }
      else if (!(e instanceof StrongboxError) || writes().length > 0) wrong.push(`${target.f} via ${path}: ${errOf(e).slice(0, 90)} after ${writes().length} writes`);
    }
  }
  t.log(`raw driver: ${await rawBytes('extra', { x: new Map([[1, 1]]) }, false)}`);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-3: a value that BSON writes as an operator (an ObjectId or Date carrying a toBSON returning { $ne: null }, a class instance with a $ne field, a Map of $ne, a $push element whose toBSON returns modifiers, an expression whose toBSON returns $function) is refused before any command, by findById, findOne, $eq, $in, count, updateOne and deleteMany filters, arrayFilters, $push, $pull and aggregate: it was checked as the object and sent as the operator, matching every document', async (t) => {
  const seeded = await trepo().insertOne({ s: 'seed', obj: { x: 1 } });
  const operator = () => ({ $ne: null });
  const oid = () => Object.assign(new ObjectId(), { toBSON: operator });
  const date = () => Object.assign(new Date(), { toBSON: operator });
  const instance = () => new (class Probe { $ne = null; })();
  const map = () => new Map([['$ne', null]]);
  const wrong: string[] = [];
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['findById(ObjectId with toBSON)', () => trepo().findById(oid())],
    ['findOne _id', () => trepo().findOne({ _id: oid() })],
    ['findOne ref', () => trepo().findOne({ ref: oid() })],
    ['findOne when', () => trepo().findOne({ when: date() })],
    ['findOne obj.x Date', () => trepo().findOne({ 'obj.x': date() })],
    ['findOne obj class instance', () => trepo().findOne({ obj: instance() })],
    ['findOne obj Map', () => trepo().findOne({ obj: map() })],
    ['findOne obj $eq Map', () => trepo().findOne({ obj: { $eq: map() } })],
    ['findOne s $in', () => trepo().findOne({ s: { $in: [instance()] } })],
    ['count', () => trepo().count({ obj: instance() })],
    ['updateOne filter', () => trepo().updateOne({ _id: oid() }, { $set: { s: 'hit' } })],
    ['deleteMany filter', () => trepo().deleteMany({ 'obj.x': map() })],
    ['$push element with toBSON returning modifiers', () => repo().updateOne({ _id: seeded._id }, { $push: { list: { toBSON: () => ({ $each: [], $slice: 0 }) } } })],
    ['$pull condition with toBSON', () => repo().updateOne({ _id: seeded._id }, { $pull: { list: { toBSON: operator } } })],
    ['$pull class instance', () => repo().updateOne({ _id: seeded._id }, { $pull: { list: instance() } })],
    ['arrayFilters class instance', () => repo().updateOne({ _id: seeded._id }, { $set: { 'items.$[e].label': 'x' } }, { arrayFilters: [{ 'e.label': instance() }] })],
    ['bulkWrite arrayFilters toBSON', () => repo().bulkWrite([{ updateOne: { filter: { _id: seeded._id }, update: { $set: { 'items.$[e].label': 'x' } }, arrayFilters: [{ 'e.label': { toBSON: operator } }] } }])],
    ['aggregate $match class instance', () => trepo().aggregate([{ $match: { obj: instance() } }]).toArray()],
    ['aggregate $addFields toBSON returning server JavaScript', () => trepo().aggregate([{ $addFields: { x: { toBSON: () => ({ $function: { body: 'function () { return 1; }', args: [], lang: 'js' } }) } } }]).toArray()],
  ];
  for (const [what, call] of calls) {
    sent.length = 0;
    const outcome = await call().then((v) => ({ v }), (e: unknown) => ({ e }));
    if (!('e' in outcome)) wrong.push(`${what}: accepted (${outcome.v && typeof outcome.v === 'object' ? 'matched something' : String(outcome.v)})`);
    else if (!(outcome.e instanceof StrongboxError)) wrong.push(`${what}: untyped ${errOf(outcome.e).slice(0, 100)}`);
    else if (sent.some((c) => ['find', 'update', 'delete', 'aggregate', 'count', 'findAndModify'].includes(c.commandName))) wrong.push(`${what}: refused after a command`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
  t.is((await storedIn(tcoll(), seeded._id))?.s, 'seed', 'the seeded document was not updated');
});

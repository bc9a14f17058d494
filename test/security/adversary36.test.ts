/**
 * Round-36 adversarial pass (fbc0927, 4f23593): subclasses of BSON classes and BSON look-alikes
 * (a `_bsontype` of another class, getters that change between reads) in typed fields, free-form
 * values and update operands. Plain JavaScript against the public API (repositories cast to any),
 * the raw driver beside it, command monitoring on every command. FINDING-n tests assert the correct
 * behaviour (they failed when written); "held" tests passed. Serial: tests share command events.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Binary, BSON, BSONRegExp, BSONSymbol, Code, DBRef, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { storedIn } from '../harness/adversary';
import { typedBench } from '../harness/typedModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { sent, repo, trepo, coll, tcoll, rawColl } = typedBench(DB, 'adv36');
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify'].includes(c.commandName));
const hex = (v: unknown) => Buffer.from(BSON.serialize({ v })).toString('hex');
const ejson = (v: unknown) => { try { return BSON.EJSON.stringify({ v }, { relaxed: false }); } catch { return String(v); } };
const isStrongbox = (e: unknown) => e instanceof StrongboxError;
const errOf = (e: unknown) => `${(e as Error)?.constructor?.name} ${(e as { code?: string })?.code ?? ''} ${(e as Error)?.message ?? ''}`;
const typeName = (v: any) => v?._bsontype ?? (v instanceof Date ? 'Date' : typeof v);

async function someCiphertext(): Promise<Binary> {
  const d = await repo().insertOne({ ssn: `donor-${new ObjectId().toHexString()}` });
  return (await storedIn(coll(), d._id)).ssn as Binary;
}

/** Writes `make()` to `field` by insertOne, $set and upsert $setOnInsert; reports a stored (or read back) value `ok` refuses, an untyped error, or a write sent before a refusal. */
async function typedPaths(wrong: string[], name: string, field: string, make: () => any, ok: (stored: any) => boolean): Promise<void> {
  for (const [path, run] of [
    ['insertOne', async () => (await trepo().insertOne({ [field]: make() }))._id],
    ['updateOne $set', async () => { const s = await trepo().insertOne({}); sent.length = 0; await trepo().updateOne({ _id: s._id }, { $set: { [field]: make() } }); return s._id; }],
    ['upsert $setOnInsert', async () => { const id = new ObjectId(); await trepo().updateOne({ _id: id }, { $setOnInsert: { [field]: make() } }, { upsert: true }); return id; }],
  ] as Array<[string, () => Promise<ObjectId>]>) {
    sent.length = 0;
    try {
      const id = await run();
      const stored = (await tcoll().findOne({ _id: id }, { promoteValues: false }))![field];
      const back = await trepo().findById(id).then((e: any) => e[field], (e: unknown) => `read threw ${errOf(e).slice(0, 80)}`);
      if (!ok(stored) || (typeof back === 'string' && back.startsWith('read threw')) || !ok(back)) wrong.push(`${name} via ${path}: stored ${typeName(stored)} ${ejson(stored).slice(0, 90)}, read back ${typeof back === 'string' ? back : typeName(back)}`);
    } catch (err) {
      if (!isStrongbox(err)) wrong.push(`${name} via ${path}: threw untyped ${errOf(err).slice(0, 120)}`);
      else if (writes().filter((c) => c.commandName !== 'insert' || path === 'insertOne').length > 0) wrong.push(`${name} via ${path}: refused after a write was sent`);
    }
  }
}

const isEnc = (v: any) => v instanceof Binary && v.sub_type === 6;

/** The BSON type each write command carries for `field` (as the bytes on the wire say, read back by BSON). */
function wireTypes(field: string): string[] {
  const out: string[] = [];
  for (const c of writes()) {
    let cmd: any;
    try {
      cmd = BSON.deserialize(BSON.serialize(c.command), { promoteValues: false });
    } catch (err) {
      out.push(`a command BSON cannot write (${(err as Error).message.slice(0, 60)})`);
      continue;
    }
    for (const d of [...(cmd.documents ?? []), ...(cmd.updates ?? []).flatMap((u: any) => [u.u, u.u?.$set, u.u?.$setOnInsert])]) if (d && field in d) out.push(typeName(d[field]));
  }
  return out;
}

test.serial('FINDING-1: a value of the declared class whose _bsontype names MaxKey is sent as the declared type or refused: detachedValue keeps a value whose _bsontype it does not copy, the instanceof check passes, and BSON writes a maxKey into an objectId, double or timestamp field (and as _id); FerretDB drops the connection (untyped MongoNetworkError), MongoDB would store it', async (t) => {
  const wrong: string[] = [];
  class OidMax extends ObjectId { override get _bsontype(): any { return 'MaxKey'; } }
  class DblMax extends Double { override get _bsontype(): any { return 'MaxKey'; } }
  class StampMax extends Timestamp { override get _bsontype(): any { return 'MaxKey'; } }
  for (const [field, make, want] of [['ref', () => new OidMax(), 'ObjectId'], ['d', () => new DblMax(1.5), 'Double'], ['ts', () => new StampMax({ t: 1, i: 1 }), 'Timestamp'], ['_id', () => new OidMax(), 'ObjectId']] as Array<[string, () => unknown, string]>) {
    for (const [path, run] of [
      ['insertOne', () => trepo().insertOne({ [field]: make() })],
      ['updateOne $set', async () => { const s = await trepo().insertOne({}); sent.length = 0; return trepo().updateOne({ _id: s._id }, { $set: { [field]: make() } }); }],
      ['upsert $setOnInsert', () => trepo().updateOne({ _id: new ObjectId() }, { $setOnInsert: { [field]: make() } }, { upsert: true })],
    ] as Array<[string, () => Promise<unknown>]>) {
      if (field === '_id' && path !== 'insertOne') continue;
      sent.length = 0;
      const r = await run().then(() => 'ok', (e: unknown) => e);
      const types = wireTypes(field).filter((x) => x !== want);
      if (types.length > 0 || (r !== 'ok' && !isStrongbox(r))) wrong.push(`${field} via ${path}: sent ${wireTypes(field).join(',') || 'nothing'}; ${r === 'ok' ? 'ok' : errOf(r).slice(0, 80)}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

/** Each declared BSON class, a field of Typed declared as it, and a value of a subclass of it. */
const CLASSES: Array<[field: string, tag: string, make: (Tag: (base: any) => any) => unknown]> = [
  ['ref', 'ObjectId', (sub) => new (sub(ObjectId))()],
  ['bin', 'Binary', (sub) => new (sub(Binary))(Buffer.from('ab'))],
  ['i', 'Int32', (sub) => new (sub(Int32))(5)],
  ['l', 'Long', (sub) => new (sub(Long))(5, 0)],
  ['d', 'Double', (sub) => new (sub(Double))(1.5)],
  ['dec', 'Decimal128', (sub) => new (sub(Decimal128))('1.5')],
  ['ts', 'Timestamp', (sub) => new (sub(Timestamp))({ t: 1, i: 1 })],
  ['re', 'BSONRegExp', (sub) => new (sub(BSONRegExp))('a', 'i')],
  ['js', 'Code', (sub) => new (sub(Code))('return 1')],
  ['sym', 'BSONSymbol', (sub) => new (sub(BSONSymbol))('s')],
  ['mk', 'MinKey', (sub) => new (sub(MinKey))()],
  ['mx', 'MaxKey', (sub) => new (sub(MaxKey))()],
  ['_id', 'ObjectId', (sub) => new (sub(ObjectId))()],
];
const TAGS = ['ObjectId', 'Binary', 'Long', 'Timestamp', 'Int32', 'Double', 'Decimal128', 'BSONRegExp', 'BSONSymbol', 'Code', 'DBRef', 'MinKey', 'MaxKey', 'Symbol', 'Nope'];

test.serial('generated: a value of every declared BSON class whose _bsontype names another type (always, or only after the first read) is refused before any write or sent as the declared type, by insertOne, $set and upsert $setOnInsert', async (t) => {
  const wrong: string[] = [];
  let refused = 0;
  await fc.assert(fc.asyncProperty(fc.constantFrom(...CLASSES), fc.constantFrom(...TAGS), fc.boolean(), fc.constantFrom('insertOne', '$set', '$setOnInsert'), async ([field, want, make], lie, afterFirstRead, path) => {
    if (lie === want) return;
    // A subclass whose _bsontype says `lie`: at every read, or from the second read on (the check reads it first).
    const sub = (base: any) => class extends base { #reads = 0; get _bsontype(): any { return afterFirstRead && this.#reads++ === 0 ? want : lie; } };
    if (field === '_id' && path !== 'insertOne') return;
    sent.length = 0;
    const run = path === 'insertOne' ? () => trepo().insertOne({ [field]: make(sub) })
      : path === '$set' ? async () => { const s = await trepo().insertOne({}); sent.length = 0; return trepo().updateOne({ _id: s._id }, { $set: { [field]: make(sub) } }); }
        : () => trepo().updateOne({ _id: new ObjectId() }, { $setOnInsert: { [field]: make(sub) } }, { upsert: true });
    const r = await run().then(() => 'ok', (e: unknown) => e);
    const types = wireTypes(field);
    const label = `${want} field ${field} saying ${lie}${afterFirstRead ? ' after the first read' : ''} via ${path}`;
    if (isStrongbox(r)) refused++;
    if (r !== 'ok' && !isStrongbox(r)) wrong.push(`${label}: untyped ${errOf(r).slice(0, 100)}`);
    else if (types.some((x) => x !== want)) wrong.push(`${label}: sent ${types.join(',')}`);
    else if (r === 'ok' && types.length === 0) wrong.push(`${label}: accepted, but no write carried the field`);
  }), { numRuns: Number(process.env.STRONGBOX_ADV36_RUNS ?? 80), seed: Number(process.env.STRONGBOX_ADV36_SEED ?? 3636) });
  t.deepEqual(wrong, [], wrong.join('\n'));
  // The lies reached the checks: most values say another type at the first read and are refused.
  t.true(refused >= 20, `only ${refused} values refused`);
});

test.serial('held: a subclass whose _bsontype names a class detachedValue copies (Binary subtype 6 with another document\'s ciphertext, Int32, Long) is converted to that class and refused by the type check; a Symbol.for(@@mdb.bson.version) override is dropped by the copy; encrypted objectId / double fields given a MaxKey-saying subclass store and read back the declared type', async (t) => {
  const wrong: string[] = [];
  const cipher = await someCiphertext();
  const V = Symbol.for('@@mdb.bson.version');
  class MinBin extends MinKey { override get _bsontype(): any { return 'Binary'; } sub_type = 6; buffer = cipher.buffer; position = cipher.position; }
  class DblInt extends Double { override get _bsontype(): any { return 'Int32'; } }
  class StampLong extends Timestamp { override get _bsontype(): any { return 'Long'; } }
  class OldVer extends ObjectId { get [V](): any { return 5; } }
  class OidMax extends ObjectId { override get _bsontype(): any { return 'MaxKey'; } }
  class DblMax extends Double { override get _bsontype(): any { return 'MaxKey'; } }
  await typedPaths(wrong, 'minKey field, MinKey saying Binary 6', 'mk', () => new MinBin(), (v) => v instanceof MinKey && v._bsontype === 'MinKey');
  await typedPaths(wrong, 'double field, Double saying Int32', 'd', () => new DblInt(1.5), (v) => typeof v === 'number' || v?._bsontype === 'Double');
  await typedPaths(wrong, 'timestamp field, Timestamp saying Long', 'ts', () => new StampLong({ t: 1, i: 1 }), (v) => v?._bsontype === 'Timestamp');
  await typedPaths(wrong, 'objectId field, version override', 'ref', () => new OldVer(), (v) => v?._bsontype === 'ObjectId');
  await typedPaths(wrong, 'Deterministic objectId', 'eref', () => new OidMax(), (v) => isEnc(v) || v?._bsontype === 'ObjectId');
  await typedPaths(wrong, 'Random double', 'ed', () => new DblMax(1.5), (v) => isEnc(v) || typeof v === 'number' || v?._bsontype === 'Double');
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: BSON look-alikes in free-form values (a class saying Binary subtype 6 with another document\'s ciphertext, a DBRef object literal whose $id is ciphertext, a DBRef whose oid getter turns to ciphertext after the first read) are refused or sent as first read, by insertOne, $set, $push, $addToSet and a field encrypted whole', async (t) => {
  const cipher = await someCiphertext();
  const V = Symbol.for('@@mdb.bson.version');
  class FakeBin { get _bsontype() { return 'Binary'; } get [V]() { return 6; } sub_type = 6; buffer = cipher.buffer; position = cipher.position; }
  const refFlip = (st: { n: number }) => { const r: any = new DBRef('c', new ObjectId()); const first = new ObjectId(); Object.defineProperty(r, 'oid', { get() { st.n++; return st.n <= 1 ? first : cipher; }, enumerable: true }); return r; };
  const lit = () => ({ _bsontype: 'DBRef', collection: 'c', oid: cipher, [V]: 6 });
  const wrong: string[] = [];
  for (const [name, make] of [['FakeBin', () => new FakeBin()], ['DBRef literal', lit]] as Array<[string, () => unknown]>) {
    for (const [path, run] of [
      ['insertOne extra.x', () => repo().insertOne({ extra: { x: make() } })],
      ['$set extra.x', async () => { const s = await repo().insertOne({ extra: {} }); sent.length = 0; return repo().updateOne({ _id: s._id }, { $set: { 'extra.x': make() } }); }],
      ['$push list', async () => { const s = await repo().insertOne({ list: [] }); sent.length = 0; return repo().updateOne({ _id: s._id }, { $push: { list: make() } }); }],
      ['$addToSet list', async () => { const s = await repo().insertOne({ list: [] }); sent.length = 0; return repo().updateOne({ _id: s._id }, { $addToSet: { list: make() } }); }],
      ['$set whole', async () => { const s = await repo().insertOne({ name: 'n' }); sent.length = 0; return repo().updateOne({ _id: s._id }, { $set: { whole: make() } }); }],
    ] as Array<[string, () => Promise<unknown>]>) {
      sent.length = 0;
      const r = await run().then(() => 'ok', (e: unknown) => e);
      if (!isStrongbox(r) || writes().length > 0) wrong.push(`${name} via ${path}: ${r === 'ok' ? 'ok' : errOf(r).slice(0, 80)}, writes ${writes().length}`);
    }
  }
  const st = { n: 0 };
  const saved = await repo().insertOne({ whole: refFlip(st) }).catch((e: unknown) => e);
  if (!isStrongbox(saved)) { const back = await repo().findById((saved as any)._id); if (isEnc(back.whole.oid) || st.n > 1) wrong.push(`whole DBRef oid flip: oid read ${st.n} times, stored ${typeName(back.whole.oid)}`); }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held (property): nested free-form values mixing Maps, arrays, class instances, toBSON objects, DBRefs and Codes are stored by insertOne and $set extra.x byte for byte as the raw driver stores them, or refused with a StrongboxError before any insert or update', async (t) => {
  class Holder { constructor(public inner: unknown) {} }
  const leaf = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.double({ noNaN: true }), fc.constant(null), fc.constant(new Double(2)), fc.constant(new ObjectId('0123456789abcdef01234567')));
  const { v } = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', '1', 'c'), tie('v'), { maxKeys: 3 }),
      tie('v').map((x) => new Holder(x)),
      fc.array(fc.tuple(fc.constantFrom('k', '2', 'z'), tie('v')), { maxLength: 3 }).map((e) => new Map(e)),
      tie('v').map((x) => ({ toBSON: () => ({ said: x }) })),
      fc.dictionary(fc.constantFrom('a', 'b'), tie('v'), { maxKeys: 2 }).map((f) => new DBRef('c', new ObjectId('0123456789abcdef01234567'), undefined, f as any)),
      fc.dictionary(fc.constantFrom('a', 'b'), tie('v'), { maxKeys: 2 }).map((sc) => new Code('f()', sc as any))),
  }));
  const wrong: string[] = [];
  await fc.assert(fc.asyncProperty(v, async (x) => {
    const rawId = new ObjectId();
    let rawError = '';
    const raw = await rawColl().insertOne({ _id: rawId, extra: { x } }).then(async () => hex((await storedIn(rawColl(), rawId)).extra), (e: Error) => { rawError = e.constructor.name; return 'threw'; });
    for (const [path, run] of [
      ['insertOne', async () => { sent.length = 0; return (await repo().insertOne({ extra: { x } }))._id; }],
      ['$set extra.x', async () => { const s = await repo().insertOne({ extra: {} }); sent.length = 0; await repo().updateOne({ _id: s._id }, { $set: { 'extra.x': x } }); return s._id; }],
    ] as Array<[string, () => Promise<ObjectId>]>) {
      try {
        const got = hex((await storedIn(coll(), await run())).extra);
        if (raw !== 'threw' && got !== raw) wrong.push(`${path}: ${ejson(x).slice(0, 160)} stored ${ejson((await storedIn(rawColl(), rawId))?.extra).slice(0, 100)} differently`);
      } catch (err) {
        // The server refusing what it also refused from the raw driver (FerretDB stores no DBRef, drops the connection on a Code) is the same outcome.
        if (raw === 'threw' && /^Mongo/.test(rawError) && (err as Error)?.constructor?.name === rawError) continue;
        if (!isStrongbox(err) || writes().length > 0) wrong.push(`${path}: ${ejson(x).slice(0, 160)} threw ${errOf(err).slice(0, 100)} after ${writes().length} writes`);
      }
    }
  }), { numRuns: 40, seed: 36 });
  t.deepEqual(wrong.slice(0, 10), [], wrong.slice(0, 10).join('\n'));
});

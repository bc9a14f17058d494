/**
 * Round-34 adversarial pass (26c3cdf): freeFormValue reads each free-form value once as BSON writes
 * it and returns that for the command. Plain JavaScript against the public API (repositories cast to
 * any), the raw driver beside it storing the same input, command monitoring on every command.
 * The first three tests are the round's findings, fixed after it (each failed before its fix; their
 * titles say what was wrong); "held" tests passed from the start.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { Binary, BSON, Code, DBRef, Double, Int32, Long, ObjectId } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { defineMarkerModel } from '../harness/markerModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { Doc } = defineMarkerModel(DB, 'adv34');

const watched = watchedClient(DB, [Doc]);
const sent = watched.sent;
const repo = () => untypedRepository(watched.client, Doc);
const coll = () => watched.raw.db(DB).collection('docs');
const rawColl = () => watched.raw.db(DB).collection('raw');
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));
const hex = (v: unknown) => Buffer.from(BSON.serialize({ v })).toString('hex');
const ejson = (v: unknown) => BSON.EJSON.stringify({ v }, { relaxed: false });

class Holder { constructor(public inner: unknown) {} }

/** Stores `make()` at extra.x through the raw driver and through each write path; reports each that stored other bytes. */
async function sameAsRaw(wrong: string[], name: string, make: () => unknown): Promise<void> {
  const rawId = new ObjectId();
  try { await rawColl().insertOne({ _id: rawId, extra: { x: make() } }); } catch (err) { wrong.push(`${name}: raw driver threw ${(err as Error).message.slice(0, 100)}`); return; }
  const want = hex((await storedIn(rawColl(), rawId)).extra);
  const paths: Array<[string, () => Promise<ObjectId>]> = [
    ['insertOne', async () => (await repo().insertOne({ extra: { x: make() } }))._id],
    ['updateOne $set extra', async () => { const s = await repo().insertOne({ name: 'n' }); await repo().updateOne({ _id: s._id }, { $set: { extra: { x: make() } } }); return s._id; }],
    ['updateOne $set extra.x', async () => { const s = await repo().insertOne({ extra: {} }); await repo().updateOne({ _id: s._id }, { $set: { 'extra.x': make() } }); return s._id; }],
    ['upsert $setOnInsert', async () => { const id = new ObjectId(); await repo().updateOne({ _id: id }, { $setOnInsert: { extra: { x: make() } } }, { upsert: true }); return id; }],
    ['findOneAndUpdate $set', async () => { const s = await repo().insertOne({ name: 'n' }); await repo().findOneAndUpdate({ _id: s._id }, { $set: { extra: { x: make() } } }); return s._id; }],
    ['bulkWrite $set', async () => { const s = await repo().insertOne({ name: 'n' }); await repo().bulkWrite([{ updateOne: { filter: { _id: s._id }, update: { $set: { extra: { x: make() } } } } }]); return s._id; }],
    ['save', async () => { const s = await repo().insertOne({ name: 'n' }); const e = await repo().findById(s._id); e.extra = { x: make() }; await repo().save(e); return s._id; }],
  ];
  for (const [path, run] of paths) {
    try {
      const id = await run();
      const got = hex((await storedIn(coll(), id)).extra);
      if (got !== want) wrong.push(`${name} via ${path}: stored ${ejson((await storedIn(coll(), id)).extra).slice(0, 200)}, raw driver ${ejson((await storedIn(rawColl(), rawId)).extra).slice(0, 200)}`);
    } catch (err) {
      wrong.push(`${name} via ${path}: threw ${(err as Error)?.constructor?.name} ${(err as { code?: string }).code} ${(err as Error).message.slice(0, 160)}`);
    }
  }
}

/** Another document's ciphertext, as the raw driver reads it. */
async function someCiphertext(): Promise<Binary> {
  const d = await repo().insertOne({ ssn: `donor-${new ObjectId().toHexString()}` });
  return (await storedIn(coll(), d._id)).ssn as Binary;
}


const setPaths: Array<[string, (v: unknown) => Promise<unknown>]> = [
  ['updateOne $set extra.x', async (v) => { const s = await repo().insertOne({ extra: {} }); return repo().updateOne({ _id: s._id }, { $set: { 'extra.x': v } }); }],
  ['updateOne $set whole', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: { x: v } } }); }],
  ['updateOne $push list', async (v) => { const s = await repo().insertOne({ list: [] }); return repo().updateOne({ _id: s._id }, { $push: { list: v } }); }],
  ['updateOne $push $each $position', async (v) => { const s = await repo().insertOne({ list: [1] }); return repo().updateOne({ _id: s._id }, { $push: { list: { $each: [v], $position: 0 } } }); }],
  ['updateOne $addToSet list', async (v) => { const s = await repo().insertOne({ list: [] }); return repo().updateOne({ _id: s._id }, { $addToSet: { list: v } }); }],
  ['upsert $setOnInsert extra', async (v) => repo().updateOne({ _id: new ObjectId() }, { $setOnInsert: { extra: { x: v } } }, { upsert: true })],
  ['updateMany $set extra', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().updateMany({ _id: s._id }, { $set: { extra: { x: v } } }); }],
  ['findOneAndUpdate $set extra', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().findOneAndUpdate({ _id: s._id }, { $set: { extra: { x: v } } }); }],
  ['bulkWrite updateOne $set extra', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().bulkWrite([{ updateOne: { filter: { _id: s._id }, update: { $set: { extra: { x: v } } } } }]); }],
];

test.serial('a Map with its own toBSON in an update operand cannot carry another document\'s ciphertext or a marker copy into the store: freeFormValue checks the Map\'s entries, the driver writes what its toBSON returns', async (t) => {
  const wrong: string[] = [];
  const cipher = await someCiphertext();
  const payloads: Array<[string, () => unknown]> = [['another field\'s ciphertext', () => cipher], ['a marker copy { undecryptable: true }', () => ({ undecryptable: true })]];
  for (const [pn, p] of payloads) {
    for (const [path, run] of setPaths) {
      sent.length = 0;
      const map = Object.assign(new Map([['a', 1]]), { toBSON: p });
      const r = await run(map).then(() => 'ok', (e: unknown) => e instanceof StrongboxError ? (e as { code: string }).code : `${(e as Error).constructor.name}`);
      const updates = writes().filter((c) => c.commandName !== 'insert').length;
      if (r === 'ok' || updates > 0) wrong.push(`${pn} via ${path}: ${r}, update commands sent ${updates}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('a built-in value with its own toBSON (Date, array, RegExp, Uint8Array, Map, ObjectId) in a free-form value is stored as BSON writes it (its toBSON result), or refused before any command: Strongbox stored the value as if toBSON were absent', async (t) => {
  const wrong: string[] = [];
  const cases: Array<[string, () => unknown]> = [
    ['Date', () => Object.assign(new Date(0), { toBSON: () => 'date-said' })],
    ['array', () => Object.assign([1, 2], { toBSON: () => 'array-said' })],
    ['RegExp', () => Object.assign(/a/i, { toBSON: () => 'regexp-said' })],
    ['Uint8Array', () => Object.assign(new Uint8Array([1]), { toBSON: () => 'bytes-said' })],
    ['Map', () => Object.assign(new Map([['a', 1]]), { toBSON: () => 'map-said' })],
    ['ObjectId', () => Object.assign(new ObjectId('0123456789abcdef01234567'), { toBSON: () => 'oid-said' })],
  ];
  for (const [name, make] of cases) {
    const found: string[] = [];
    await sameAsRaw(found, name, make);
    // A refusal before any update is acceptable: only a stored difference counts.
    wrong.push(...found.filter((f) => !/threw InvalidInputError/.test(f)));
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('a Code\'s scope behind a getter is read once per write (insertOne and updateOne of a field encrypted whole): it was read three times by insertOne and twice by $set', async (t) => {
  const wrong: string[] = [];
  const paths: Array<[string, (v: unknown) => Promise<unknown>]> = [
    ['insertOne whole', (v) => repo().insertOne({ whole: { v } })],
    ['updateOne $set whole', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: { v } } }); }],
    ['bulkWrite $set whole', async (v) => { const s = await repo().insertOne({ name: 'n' }); return repo().bulkWrite([{ updateOne: { filter: { _id: s._id }, update: { $set: { whole: { v } } } } }]); }],
  ];
  for (const [path, run] of paths) {
    const st = { n: 0 };
    const c = new Code('f()', { a: 1 });
    const scope = { a: new Holder(1) };
    Object.defineProperty(c, 'scope', { get() { st.n++; return scope; }, enumerable: true });
    const r = await run(c).then(() => 'ok', (e: any) => `${e.constructor.name} ${e.code}`);
    if (r !== 'ok' || st.n !== 1) wrong.push(`${path}: ${r}, scope read ${st.n} times`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: a Code whose scope getter answers a clean scope first and another field\'s ciphertext afterwards does not store that ciphertext inside a value encrypted whole', async (t) => {
  const wrong: string[] = [];
  const cipher = await someCiphertext();
  const paths: Array<[string, (v: unknown) => Promise<ObjectId>]> = [
    ['insertOne whole', async (v) => (await repo().insertOne({ whole: { v } }))._id],
    ['updateOne $set whole', async (v) => { const s = await repo().insertOne({ name: 'n' }); await repo().updateOne({ _id: s._id }, { $set: { whole: { v } } }); return s._id; }],
  ];
  for (const [path, run] of paths) {
    const st = { n: 0 };
    const c = new Code('f()', { a: 1 });
    Object.defineProperty(c, 'scope', { get() { st.n++; return st.n === 1 ? { a: 1 } : { a: cipher }; }, enumerable: true });
    try {
      const id = await run(c);
      const back = await repo().findById(id);
      const scope = (back.whole.v as Code).scope as Record<string, unknown>;
      if (scope?.a instanceof Binary) wrong.push(`${path}: stored another field's ciphertext in the scope (scope read ${st.n} times)`);
    } catch (err) {
      if (!(err instanceof StrongboxError)) wrong.push(`${path}: threw ${(err as Error).constructor.name}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: class instances holding Int32, Double(2), Long, bigint, -0 and 2**40 are stored by $set byte for byte as the raw driver stores them', async (t) => {
  const wrong: string[] = [];
  for (const [name, v] of [['Int32', new Int32(5)], ['Double(2)', new Double(2)], ['Long', Long.fromNumber(7)], ['bigint', 9n], ['-0', -0], ['2**40', 2 ** 40], ['Date', new Date(5)], ['Binary 4', new Binary(Buffer.alloc(16, 1), 4)]] as Array<[string, unknown]>) {
    const found: string[] = [];
    await sameAsRaw(found, name, () => new Holder({ v, s: [1, , 3], u: undefined, n: Object.assign(Object.create(null), { b: 1, a: 2 }) }));
    wrong.push(...found);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held (timings logged): a 100k-item free-form array and a 95-level nesting of class instances are written without a stack overflow', async (t) => {
  const big = Array.from({ length: 100_000 }, (_, i) => (i % 1000 === 0 ? new Holder(i) : i));
  let deep: unknown = 1;
  for (let i = 0; i < 95; i++) deep = new Holder(deep);
  const time = async (f: () => Promise<unknown>) => { const t0 = process.hrtime.bigint(); const r = await f().then(() => 'ok', (e: any) => `${e.constructor.name} ${e.code}`); return `${r} ${Number(process.hrtime.bigint() - t0) / 1e6} ms`; };
  const s = await repo().insertOne({ name: 'n' });
  const log = [
    `raw insert 100k: ${await time(() => rawColl().insertOne({ extra: { x: big } }))}`,
    `strongbox insertOne 100k: ${await time(() => repo().insertOne({ extra: { x: big } }))}`,
    `strongbox $set 100k: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { extra: { x: big } } }))}`,
    `strongbox $set whole 100k: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { whole: big } }))}`,
    `raw insert deep: ${await time(() => rawColl().insertOne({ extra: { x: deep } }))}`,
    `strongbox $set deep: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { extra: { x: deep } } }))}`,
    `strongbox insertOne deep whole: ${await time(() => repo().insertOne({ whole: deep }))}`,
    `strongbox insertOne deep extra: ${await time(() => repo().insertOne({ extra: { x: deep } }))}`,
    `strongbox $set deep whole: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { whole: deep } }))}`,
  ];
  for (const depth of [80, 90, 95, 95, 99]) {
    let d: unknown = 1;
    for (let i = 0; i < depth; i++) d = new Holder(d);
    log.push(`strongbox $set extra.x depth ${depth}: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { extra: { x: d } } }))}`);
    let p: unknown = 1;
    for (let i = 0; i < depth; i++) p = { inner: p };
    log.push(`strongbox $set extra.x plain depth ${depth}: ${await time(() => repo().updateOne({ _id: s._id }, { $set: { extra: { x: p } } }))}`);
  }
  t.log(log.join('\n'));
  t.false(log.some((l) => /RangeError|Maximum call stack/.test(l)), log.join('\n'));
});

test.serial('held: a throwing toBSON or getter inside a value encrypted whole is INPUT_MALFORMED with its message withheld and nothing sent; $-keys and dotted keys inside it are accepted (no error quotes them)', async (t) => {
  const out: string[] = [];
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['insertOne whole $key', () => repo().insertOne({ whole: { $topSecretKey: 1 } })],
    ['insertOne whole dotted constructor key', () => repo().insertOne({ whole: { 'topsecret.constructor': 1 } })],
    ['insertOne whole nested dotted __proto__ key', () => repo().insertOne({ whole: { a: { 'topsecret.__proto__': 1 } } })],
    ['$set whole $key', async () => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: { a: { $topSecretKey: 1 } } } }); }],
    ['$set whole dotted key', async () => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: { 'topsecret.prototype': 1 } } }); }],
    ['$set whole class instance with dotted constructor key', async () => { const s = await repo().insertOne({ name: 'n' }); const h: any = new Holder(1); h['topsecret.constructor'] = 1; return repo().updateOne({ _id: s._id }, { $set: { whole: h } }); }],
    ['$set whole Map with $ key', async () => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: new Map([['$topSecretKey', 1]]) } }); }],
    ['$set whole toBSON throws', async () => { const s = await repo().insertOne({ name: 'n' }); return repo().updateOne({ _id: s._id }, { $set: { whole: { a: { toBSON() { throw new Error('topsecret-message'); } } } } }); }],
    ['$set whole getter throws', async () => { const s = await repo().insertOne({ name: 'n' }); const h: any = new Holder(1); Object.defineProperty(h, 'inner', { get() { throw new TypeError('topsecret-getter'); }, enumerable: true }); return repo().updateOne({ _id: s._id }, { $set: { whole: h } }); }],
  ];
  for (const [name, run] of cases) {
    sent.length = 0;
    const r = await run().then(() => 'ok', (e: any) => `${e.constructor.name} ${e.code} ${e.message}`);
    out.push(`${name}: ${r.slice(0, 260)} | sent ${writes().map((c) => c.commandName + ' ' + ejson(c.command.updates?.[0]?.u ?? '').slice(0, 120)).join(';')}`);
  }
  const bad = out.filter((l) => /topsecret|topSecret/i.test(l.split(' | ')[0].split(': ').slice(1).join(': ')) || (/INPUT_MALFORMED/.test(l) && /update /.test(l)) || !/: (ok|InvalidInputError INPUT_MALFORMED)/.test(l));
  t.deepEqual(bad, [], out.join('\n'));
});

test.serial('held: a second save() of an entity whose free-form values held class instances, BSON number types, a Code scope or DBRef with instances sends no write', async (t) => {
  const out: string[] = [];
  const values: Array<[string, 'extra' | 'whole', () => unknown]> = [
    ['Double(2) in instance', 'extra', () => ({ x: new Holder(new Double(2)) })],
    ['Long in instance', 'extra', () => ({ x: new Holder(Long.fromNumber(2)) })],
    ['-0 in instance', 'extra', () => ({ x: new Holder(-0) })],
    ['bigint in instance', 'extra', () => ({ x: new Holder(5n) })],
    ['Date toBSON', 'extra', () => ({ x: Object.assign(new Date(0), { toBSON: () => 's' }) })],
    ['Code with instance scope', 'whole', () => ({ x: new Code('f', { h: new Holder(new Double(1)) }) })],
    ['DBRef with db, instance field', 'whole', () => ({ x: new DBRef('c', new ObjectId('0123456789abcdef01234567'), 'db1', { h: new Holder(1), a: 2 }) })],
    ['Map with a class instance', 'whole', () => new Map<string, unknown>([['b', new Holder(1)], ['a', 2]])],
    ['undefined in instance', 'extra', () => ({ x: new Holder(undefined) })],
    ['sparse array in instance', 'extra', () => ({ x: new Holder([1, , 2]) })],
  ];
  for (const [name, field, make] of values) {
    const s = await repo().insertOne({ name: 'n' });
    const e = await repo().findById(s._id);
    e[field] = make();
    const r1 = await repo().save(e).then(() => 'ok', (err: any) => `${err.code}`);
    const heldHex = hex(e[field]);
    sent.length = 0;
    const r2 = await repo().save(e).then(() => 'ok', (err: any) => `${err.code}`);
    const again = writes().length;
    const back = await repo().findById(s._id);
    out.push(`${name}: save ${r1}, second save ${r2} sent ${again} writes; entity bytes == read-back bytes ${heldHex === hex(back[field])}; entity ${ejson(e[field]).slice(0, 150)} read ${ejson(back[field]).slice(0, 150)}`);
  }
  const bad = out.filter((l) => !/save ok, second save ok sent 0 writes/.test(l));
  t.deepEqual(bad, [], out.join('\n'));
});

test.serial('held: a DBRef in a value encrypted whole keeps $ref, $db, field order and $id as BSON writes the original when a class instance in its fields makes Strongbox rebuild it', async (t) => {
  const wrong: string[] = [];
  const makers: Array<[string, () => DBRef]> = [
    ['db and extra fields', () => new DBRef('c', new ObjectId('0123456789abcdef01234567'), 'db1', { z: new Holder('h'), a: 's' })],
  ];
  for (const [name, make] of makers) {
    const want = hex(make());
    for (const [path, run] of [
      ['insertOne', async () => (await repo().insertOne({ whole: make() }))._id],
      ['updateOne $set', async () => { const s = await repo().insertOne({ name: 'n' }); await repo().updateOne({ _id: s._id }, { $set: { whole: make() } }); return s._id; }],
    ] as Array<[string, () => Promise<ObjectId>]>) {
      const r = await run().then(async (id) => hex((await repo().findById(id)).whole), (e: any) => `threw ${e.code}`);
      if (r !== want) wrong.push(`${name} via ${path}: stored ${r.startsWith('threw') ? r : ejson(BSON.deserialize(Buffer.from(r, 'hex')).v)} where BSON writes ${ejson(make())}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

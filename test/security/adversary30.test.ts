/**
 * Round-30 adversarial pass (9f2af71, 69cc399): the written snapshot copies every BSON value with its
 * type, Maps as Maps, other objects as BSON writes them, and keeps markers; sameValue counts what
 * BSON cannot serialize as a change and compares markers by what they stand for; the reader leaves
 * a marker kept in a written snapshot alone. Plain JavaScript against the public API (repositories
 * cast to any), the raw driver to plant ciphertext and read stored bytes, command monitoring.
 * FINDING tests assert the correct behaviour: each failed when written and passes since its fix;
 * "held" tests passed from the start.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { inspect } from 'node:util';
import { Binary, BSON, BSONRegExp, Code, DBRef, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, type CommandStartedEvent, type Document } from 'mongodb';
import { Encrypted, Field, Id, Model, UndecryptableValue, type Deterministic, type Random } from '../../src/index';
import { bytesOf, outcomeOf, plantMarkers, storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'docs', keyAltName: 'adv30' })
class Doc {
  @Id() _id!: ObjectId;
  @Field({ optional: true }) name?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) phone?: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', optional: true }) whole?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'regex', optional: true }) re?: any;
  @Field({ bsonType: 'regex', optional: true }) rePlain?: RegExp;
  @Field({ bsonType: 'long', optional: true }) count?: Long;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', optional: true }) countEnc?: any;
  @Field({ bsonType: 'int', optional: true }) int?: Int32;
  @Field({ bsonType: 'double', optional: true }) dbl?: Double;
  @Field({ bsonType: 'timestamp', optional: true }) ts?: Timestamp;
  @Encrypted({ algorithm: 'Random', bsonType: 'decimal', optional: true }) dec?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'javascriptWithScope', optional: true }) code?: any;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
  @Field({ bsonType: 'array', optional: true }) list?: unknown[];
}

/** A data key per tenant: the first write of a tenant creates its key and fetches it from the key vault. */
@Model({ db: DB, collection: 'tenants', keyAltName: '/tenant' })
class PerDoc {
  @Id() _id!: ObjectId;
  @Field() tenant!: string;
  @Field({ optional: true }) name?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'regex', optional: true }) re?: any;
}

const watched = watchedClient(DB, [Doc, PerDoc]);
const sent = watched.sent;
const repo = () => untypedRepository(watched.client, Doc);
const tenants = () => untypedRepository(watched.client, PerDoc);
const lenient = () => watched.client.repository(Doc as never, { onUndecryptable: 'marker' } as never) as any;
const coll = () => watched.raw.db(DB).collection('docs');


const storedRaw = (id: unknown) => storedIn(coll(), id);
const updates = () => sent.filter((c) => c.commandName === 'update');
const updateDocs = () => BSON.EJSON.stringify(updates().map((u) => u.command.updates[0].u));
const ejson = (v: unknown) => BSON.EJSON.stringify({ v }, { relaxed: false });

const withMarkers = (doc: Document, paths: Record<string, 'phone' | 'ssn'>) => plantMarkers(repo(), coll(), doc, paths);

// ---------------------------------------------------------------------------------------------
// Findings (each asserts the correct behaviour; fails today)
// ---------------------------------------------------------------------------------------------

for (const how of ['insertOne', 'save'] as const) {
  test.serial(`FINDING: a RegExp in an encrypted regex field changed in place (compile) while ${how}() fetches its data key is stored as it was and remembered as it became; the next save() sends nothing`, async (t) => {
    const re = /stored/i;
    let sawKeyInsert = false;
    // Stands for any application code that runs while the write awaits the key vault (a new
    // per-document key here; the first write after libmongocrypt's one-minute key cache expired in production).
    const listener = (c: CommandStartedEvent) => {
      if ((c.command as Document)[c.commandName] !== '__keyVault') return;
      if (c.commandName === 'insert') sawKeyInsert = true;
      else if (c.commandName === 'find' && sawKeyInsert) re.compile('remembered', 'm');
    };
    watched.client.dataClient.on('commandStarted', listener);
    const input = Object.assign(new PerDoc(), { tenant: `tenant-${how}-${new ObjectId().toHexString()}`, re });
    let e: any;
    try {
      e = await (how === 'insertOne' ? tenants().insertOne(input) : tenants().save(input));
    } finally {
      watched.client.dataClient.off('commandStarted', listener);
    }
    const stored = await tenants().findById(e._id);
    sent.length = 0;
    await tenants().save(e);
    const after = await tenants().findById(e._id);
    t.is(`/${after.re.source}/${after.re.flags}`, `/${e.re.source}/${e.re.flags}`,
      `entity /${e.re.source}/${e.re.flags}, stored after the write /${stored.re.source}/${stored.re.flags}, the next save() sent ${updates().length} update(s)`);
  });
}

test.serial('FINDING: a Long whose low bits are a string (as JSON input gives them) in a long field, or a Code whose code is a function, is stored as another value than the driver writes for it', async (t) => {
  const cases: Array<[string, string, () => unknown]> = [
    ['Long low "7", high 1 (plain long)', 'count', () => Object.assign(new Long(0, 1), { low: '7' })],
    ['Long low "7", high 1 (encrypted long)', 'countEnc', () => Object.assign(new Long(0, 1), { low: '7' })],
    ['Long low "0x10"', 'count', () => Object.assign(new Long(0, 0), { low: '0x10' })],
    ['Code whose code is a function', 'code', () => Object.assign(new Code('x', { a: 1 }), { code: function f() { return 1; } })],
  ];
  const wrong: string[] = [];
  for (const [name, field, make] of cases) {
    let driver: string;
    try { driver = ejson(BSON.deserialize(BSON.serialize({ v: make() }), { promoteValues: false }).v); } catch { driver = 'refused'; }
    const got = await repo().insertOne({ [field]: make() }).then(async (e: any) => {
      const read = await repo().findById(e._id);
      return ejson(read[field] instanceof Long || typeof read[field] === 'number' ? Long.fromValue(read[field]) : read[field]);
    }, () => 'refused');
    if (got !== 'refused' && got !== driver) wrong.push(`${name}: the driver writes ${driver}, Strongbox stored ${got}`);
  }
  t.deepEqual(wrong, []);
});

test.serial('FINDING: save() of a loaded entity holding a marker and an own function-valued property (an arrow-function class field, a handler) is refused on every save (INPUT_UNDECRYPTABLE_WRITE_BACK); it must send the other change', async (t) => {
  const { id, before } = await withMarkers({ name: 'a', ssn: 'x' }, { ssn: 'phone' });
  const loaded = await lenient().findById(id);
  t.true(loaded.ssn instanceof UndecryptableValue);
  // BSON leaves functions out of what it writes, and save() only compares declared fields.
  loaded.onChange = () => undefined;
  loaded.name = 'b';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(loaded)), 'ok');
  const after = await storedRaw(id);
  t.is(after.name, 'b');
  t.true(bytesOf(after.ssn).equals(bytesOf(before.ssn)), 'the ciphertext behind the marker is untouched');
});

test.serial('FINDING: a loaded entity with an own function-valued property keeps its snapshot serialized and decoded with promotion: a free-form Long or Double changed to the int32 5 is not sent', async (t) => {
  const wrong: string[] = [];
  for (const [name, given] of [['Long(5)', Long.fromNumber(5)], ['Double(5)', new Double(5)]] as const) {
    const first = await repo().insertOne({ name: 'x' });
    const e = await repo().findById(first._id);
    e.onChange = () => undefined;
    e.extra = { n: given };
    await repo().save(e);
    e.extra = { n: 5 };
    sent.length = 0;
    await repo().save(e);
    const stored = (await storedRaw(e._id)).extra;
    if (!bytesOf(stored).equals(bytesOf(e.extra))) wrong.push(`${name} -> 5: stored ${ejson(stored)}, entity ${ejson(e.extra)}, save() sent ${updates().length} update(s)`);
  }
  t.deepEqual(wrong, []);
});

test.serial('FINDING (fixed): a marker of another document (or a marker built with new UndecryptableValue) put where a marker was passes save() as unchanged; it stands for another ciphertext and must be refused like a moved marker', async (t) => {
  const a = await withMarkers({ name: 'a', ssn: 'x' }, { ssn: 'phone' });
  const b = await withMarkers({ name: 'b', ssn: 'y' }, { ssn: 'phone' });
  const results: string[] = [];
  for (const [name, replace] of [
    ['marker of another document', async (e: any) => { e.ssn = (await lenient().findById(b.id)).ssn; }],
    ['forged marker', async (e: any) => { e.ssn = new UndecryptableValue('ssn', e.ssn.keyId, 'Deterministic', e.ssn.reason); }],
  ] as const) {
    const e = await lenient().findById(a.id);
    await replace(e);
    e.name = `after ${name}`;
    sent.length = 0;
    results.push(`${name}: ${await outcomeOf(lenient().save(e))}, sent ${updateDocs()}`);
  }
  t.true(bytesOf((await storedRaw(a.id)).ssn).equals(bytesOf(a.before.ssn)), 'the stored ciphertext is untouched');
  t.deepEqual(results.map((r) => r.split(',')[0]), ['marker of another document: INPUT_UNDECRYPTABLE_WRITE_BACK', 'forged marker: INPUT_UNDECRYPTABLE_WRITE_BACK'], results.join('\n'));
});

// ---------------------------------------------------------------------------------------------
// What held (these pass)
// ---------------------------------------------------------------------------------------------

const mutations: Array<[string, string, () => unknown, (v: any) => void]> = [
  ['count Long low', 'count', () => Long.fromNumber(5), (v) => { v.low = 6; }],
  ['countEnc Long high', 'countEnc', () => Long.fromNumber(5), (v) => { v.high = 1; }],
  ['int value', 'int', () => new Int32(5), (v) => { v.value = 6; }],
  ['dbl value', 'dbl', () => new Double(5.5), (v) => { v.value = 6.5; }],
  ['ts low', 'ts', () => new Timestamp({ t: 1, i: 2 }), (v) => { v.low = 3; }],
  ['dec bytes', 'dec', () => Decimal128.fromString('1.5'), (v) => { v.bytes[0] = 0x10; }],
  ['code scope', 'code', () => new Code('x', { a: 1 }), (v) => { v.scope.a = 2; }],
  ['code code', 'code', () => new Code('x', { a: 1 }), (v) => { v.code = 'y'; }],
  ['whole Long', 'whole', () => ({ n: Long.fromNumber(5) }), (v) => { v.n.low = 6; }],
  ['whole Decimal128', 'whole', () => ({ n: Decimal128.fromString('1.5') }), (v) => { v.n.bytes[1] = 7; }],
  ['whole Code scope Map', 'whole', () => ({ c: new Code('x', { m: new Map([['k', 1]]) }) }), (v) => { v.c.scope.m.set('k', 2); }],
  ['whole Map value Long', 'whole', () => new Map<string, unknown>([['a', Long.fromNumber(1)]]), (v) => { v.get('a').low = 9; }],
  ['whole Map delete', 'whole', () => new Map<string, unknown>([['a', 1], ['b', 2]]), (v) => { v.delete('b'); }],
  ['whole Map order', 'whole', () => new Map<string, unknown>([['a', 1], ['b', 2]]), (v) => { v.delete('a'); v.set('a', 1); }],
  ['whole BSONRegExp', 'whole', () => ({ r: new BSONRegExp('a', 'i') }), (v) => { v.r.pattern = 'b'; }],
  ['whole MinKey -> MaxKey', 'whole', () => ({ k: new MinKey() }), (v) => { v.k = new MaxKey(); }],
  ['whole Int32 -> number', 'whole', () => ({ n: new Int32(5) }), (v) => { v.n = 5; }],
  ['whole Long -> number', 'whole', () => ({ n: Long.fromNumber(5) }), (v) => { v.n = 5; }],
  ['whole Long -> bigint', 'whole', () => ({ n: Long.fromNumber(5) }), (v) => { v.n = 5n; }],
  ['whole number -> Double', 'whole', () => ({ n: 5 }), (v) => { v.n = new Double(5); }],
  ['whole 0 -> -0', 'whole', () => ({ n: 0 }), (v) => { v.n = -0; }],
  ['whole DBRef oid', 'whole', () => ({ r: new DBRef('c', new ObjectId()) }), (v) => { v.r.oid = new ObjectId(); }],
  ['whole DBRef fields', 'whole', () => ({ r: new DBRef('c', new ObjectId(), undefined, { x: 1 }) }), (v) => { v.r.fields.x = 2; }],
  ['whole ObjectId bytes', 'whole', () => ({ o: new ObjectId() }), (v) => { v.o.id[0] ^= 1; }],
  ['extra Long', 'extra', () => ({ n: Long.fromNumber(5) }), (v) => { v.n.low = 6; }],
  ['extra Map', 'extra', () => ({ m: new Map([['k', 1]]) }), (v) => { v.m.set('k', 2); }],
  ['extra Map -> object', 'extra', () => ({ m: new Map([['b', 1], ['a', 2]]) }), (v) => { v.m = { a: 2, b: 1 }; }],
  ['extra object key order', 'extra', () => ({ m: { b: 1, a: 2 } }), (v) => { v.m = { a: 2, b: 1 }; }],
  ['extra Timestamp', 'extra', () => ({ t: new Timestamp({ t: 1, i: 1 }) }), (v) => { v.t.high = 2; }],
  ['extra Binary', 'extra', () => ({ b: new Binary(Buffer.from('abc')) }), (v) => { v.b.buffer[0] = 0x7a; }],
  ['list Long', 'list', () => [Long.fromNumber(5)], (v) => { v[0].low = 6; }],
  ['list Map', 'list', () => [new Map([['k', 1]])], (v) => { v[0].set('k', 2); }],
];

test.serial('held: BSON values and Maps changed in place (or replaced by another type) after insertOne / save() / a loaded entity\'s save() are sent; stored matches the entity; a further save() changes nothing', async (t) => {
  const bad: string[] = [];
  const promoted = (v: unknown) => ejson(BSON.deserialize(BSON.serialize({ v })).v);
  for (const [name, field, make, mutate] of mutations) {
    for (const how of ['insertOne', 'saveNew', 'loadedSave'] as const) {
      let e: any;
      if (how === 'insertOne') e = await repo().insertOne({ [field]: make() });
      else if (how === 'saveNew') e = await repo().save(Object.assign(new Doc(), { [field]: make() }));
      else { const first = await repo().insertOne({ name: 'x' }); e = await repo().findById(first._id); e[field] = make(); await repo().save(e); }
      // An insert's entity holds int and double fields as numbers: nothing to change in place.
      try { mutate(e[field]); } catch { continue; }
      const r1 = await outcomeOf(repo().save(e));
      const read = await repo().findById(e._id);
      // The reader promotes numbers (a Long that fits as a number): compared as values, and plain fields by their stored bytes.
      const plainField = ['count', 'int', 'dbl', 'ts', 'extra', 'list'].includes(field);
      const same = promoted(read[field]) === promoted(e[field]) && (!plainField || bytesOf((await storedRaw(e._id))[field]).equals(bytesOf(e[field])));
      await repo().save(e);
      const again = promoted((await repo().findById(e._id))[field]) === promoted(read[field]);
      if (r1 !== 'ok' || !same || !again) bad.push(`${name}/${how}: save ${r1}, stored ${ejson(read[field])} entity ${ejson(e[field])}`);
    }
  }
  t.deepEqual(bad, []);
});

test.serial('held: a RegExp compiled in place while a plain regex field is written (sync, microtask, setImmediate, setTimeout) is never remembered newer than stored: the next save() sends it', async (t) => {
  const when: Array<[string, (f: () => void) => void]> = [
    ['sync', (f) => f()], ['microtask', (f) => queueMicrotask(f)], ['immediate', (f) => setImmediate(f)], ['timeout', (f) => setTimeout(f, 1)],
  ];
  for (const [name, at] of when) {
    for (const how of ['insertOne', 'save'] as const) {
      const re = /stored/i;
      const input = Object.assign(new Doc(), { rePlain: re });
      const p = how === 'insertOne' ? repo().insertOne(input) : repo().save(input);
      at(() => { re.compile('remembered', 'm'); });
      const e = await p;
      await new Promise((r) => setTimeout(r, 5));
      await repo().save(e);
      const stored = (await repo().findById(e._id)).rePlain;
      t.is(`/${stored.source}/${stored.flags}`, `/${e.rePlain.source}/${e.rePlain.flags}`, `${name} ${how}`);
    }
  }
});

test.serial('held: save() of an entity holding markers in a field encrypted whole, a free-form object, an untyped array and a Random field sends only the other changes, four times in a row (a bigint long among them)', async (t) => {
  const a = await withMarkers({ name: 'a', ssn: 'x', extra: { deep: [1, { x: 1 }], k: 1 }, list: [1, 2], whole: { w: 1 }, count: 5n },
    { ssn: 'phone', 'extra.deep.1.x': 'phone', 'list.1': 'phone', whole: 'phone' });
  const e = await lenient().findById(a.id);
  for (let i = 0; i < 4; i++) {
    e.name = `n${i}`;
    if (i === 2) e.count = 6n;
    sent.length = 0;
    t.is(await outcomeOf(lenient().save(e)), 'ok', `save ${i}`);
    t.deepEqual(updates().flatMap((u) => Object.keys(u.command.updates[0].u.$set ?? {})).filter((k) => k !== 'count'), ['name']);
  }
  const after = await storedRaw(a.id);
  for (const k of ['ssn', 'whole', 'extra', 'list']) t.true(bytesOf(after[k]).equals(bytesOf(a.before[k])), k);
  t.is(after.name, 'n3');
  t.is(BigInt(after.count.toString()), 6n);
});

test.serial('held: a marker moved into another field is refused; a marker\'s description cannot be rewritten (read-only getters); nothing is sent', async (t) => {
  const a = await withMarkers({ name: 'a', ssn: 'x', extra: { deep: [1, { x: 1 }] }, list: [1, 2] }, { ssn: 'phone', 'extra.deep.1.x': 'phone', 'list.1': 'phone' });
  // (A marker's fields only describe it: what it stands for is kept by Strongbox, out of the application's reach.)
  const changes: Array<[string, (e: any) => void, string]> = [
    ['list marker into extra', (e) => { e.extra.deep[1].x = e.list[1]; }, 'INPUT_UNDECRYPTABLE_WRITE_BACK'],
    ['ssn marker into extra', (e) => { e.extra.deep[1].x = e.ssn; }, 'INPUT_UNDECRYPTABLE_WRITE_BACK'],
  ];
  for (const [name, change, expected] of changes) {
    const e = await lenient().findById(a.id);
    change(e);
    sent.length = 0;
    t.is(await outcomeOf(lenient().save(e)), expected, name);
    t.is(updates().length, 0, name);
  }
  const e = await lenient().findById(a.id);
  t.throws(() => { e.ssn.path = 'phone'; }, { instanceOf: TypeError }, 'path has no setter');
  t.throws(() => { e.ssn.reason = 'misplaced'; }, { instanceOf: TypeError }, 'reason has no setter');
  t.is(e.ssn.path, 'ssn');
  t.true(bytesOf(await storedRaw(a.id)).equals(bytesOf(a.before)));
});

test.serial('held: a long field read and set to the same value as a number, a bigint or a Long stores that value; another number is sent', async (t) => {
  const e = await repo().insertOne({ count: 2n ** 40n + 1n, countEnc: 2n ** 40n + 1n });
  for (const v of [2 ** 40 + 1, 2n ** 40n + 1n, Long.fromBigInt(2n ** 40n + 1n), 2 ** 40 + 2, 2n ** 60n]) {
    const r = await repo().findById(e._id);
    r.count = v; r.countEnc = v;
    await repo().save(r);
    const read = await repo().findById(e._id);
    t.is(BigInt(read.count.toString()), BigInt(v.toString()), inspect(v));
    t.is(BigInt(read.countEnc.toString()), BigInt(v.toString()), inspect(v));
    t.is((await storedRaw(e._id)).count._bsontype, 'Long');
  }
});

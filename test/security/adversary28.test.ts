/**
 * Round-28 adversarial pass on writes of free-form values (93f6205): an object that is not a plain
 * object, array, Date, BSON value or byte array, found in a field encrypted whole without a
 * declared type or inside a free-form object / untyped array, is now read once through BSON
 * (readAsBsonWrites). Plain JavaScript against the public API (repositories cast to any), the raw
 * driver to compare stored bytes with what the driver writes for the original, command monitoring.
 * Every FINDING failed when it was written and passes since its fix (each says "fixed", or "fixed,
 * refused" where the fix is a refusal with nothing sent); "held" tests passed from the start.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { inspect } from 'node:util';
import { Binary, BSON, Code, DBRef, Decimal128, ObjectId, type CommandStartedEvent, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { ArrayField, BeforeInsert, Encrypted, Field, Id, InvalidInputError, Model, UndecryptableValue, type Random } from '../../src/index';
import { untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { secretString } from './leakDetector';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'notes', keyAltName: 'adv28' })
class Note {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', optional: true }) secret?: any;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
  @Field({ bsonType: 'array', optional: true }) list?: unknown[];
}

class Holder { constructor(public inner: unknown) {} }

let hookValue: (() => unknown) | undefined;

@Model({ db: DB, collection: 'hooked', keyAltName: 'adv28h' })
class Hooked {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', optional: true }) secret?: any;
  @Field({ optional: true }) name?: string;
  @BeforeInsert() fill(this: any) { if (hookValue) this.secret = hookValue(); }
}

@Model({ db: DB, collection: 'rows', keyAltName: 'adv28r' })
class Rows {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', optional: true }) @ArrayField({ of: 'object' }) rows?: Random<Array<Record<string, any>>>;
}

let client: StrongboxClient;
let raw: MongoClient;
const sent: CommandStartedEvent[] = [];
const repo = () => untypedRepository(client, Note);
const coll = () => raw.db(DB).collection('notes');
let n = 0;
const secret = () => secretString(28_000 + n++);

test.before(async () => {
  client = await testClient([Note, Hooked, Rows], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (e) => { if (e.databaseName === DB) sent.push(e); });
  raw = await rawClient();
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close()]);
});

const bytes = (v: unknown) => Buffer.from(BSON.serialize({ v }));
const storedRaw = async (id: unknown) => (await coll().findOne({ _id: id as ObjectId }, { promoteValues: false }))!;
const commandText = () => sent.map((c) => BSON.EJSON.stringify(c.command, { relaxed: false })).join('\n');

/** An object whose `code` answers 'first' on the first read and 'later' on every other. */
function changing(): Holder {
  const h = new Holder('');
  let reads = 0;
  Object.defineProperty(h, 'code', { enumerable: true, get: () => (reads++ === 0 ? 'first' : 'later') });
  return h;
}

// ---------------------------------------------------------------------------------------------
// Findings (each asserts the correct behaviour; fails today)
// ---------------------------------------------------------------------------------------------

test.serial('FINDING (fixed): a Map with integer-like keys inside a free-form object is stored with the key order the driver writes for it', async (t) => {
  const map = new Map<string, unknown>([['b', 1], ['1', 2], ['a', 3]]);
  const saved = await repo().insertOne({ extra: { m: map } });
  // Compared as bytes: any JavaScript object read from them would put "1" first again.
  const stored = (await coll().findOne({ _id: saved._id }, { raw: true })) as unknown as Uint8Array;
  t.true(Buffer.from(stored).includes(Buffer.from(BSON.serialize(map))), 'the stored document holds the Map as BSON writes it (b, 1, a)');
  t.true(saved.extra.m instanceof Map, 'the entity holds a copy of the Map, in its order');
});

test.serial('FINDING (fixed, refused): a DBRef-shaped subdocument inside a class instance in a field encrypted whole, which a copy would reorder, is refused with nothing sent', async (t) => {
  // (The embedded server refuses $-keys in the clear, so the field is encrypted.)
  const given = new Holder({ $id: 7, $ref: 'elsewhere', note: 'n' });
  sent.length = 0;
  const err = await t.throwsAsync(repo().insertOne({ secret: given }), { instanceOf: InvalidInputError });
  t.is(err!.code, 'INPUT_NOT_COPYABLE');
  t.false(err!.message.includes('elsewhere'), 'the message says nothing of the value');
  t.is(sent.length, 0);
});

for (const where of ['Code scope', 'DBRef fields'] as const) {
  test.serial(`FINDING (fixed): a class instance inside a ${where} in a field encrypted whole is read once; the entity and the next save() agree with what is stored`, async (t) => {
    const h = changing();
    const value = where === 'Code scope' ? new Code('function () {}', { h }) : new DBRef('c', new ObjectId(), undefined, { h });
    const saved = await repo().insertOne({ secret: { v: value } });
    const read = await repo().findById(saved._id);
    const storedCode = where === 'Code scope' ? read.secret.v.scope.h.code : read.secret.v.fields.h.code;
    sent.length = 0;
    await repo().save(saved);
    const updates = sent.filter((c) => c.commandName === 'update').length;
    const after = await repo().findById(saved._id);
    const finalCode = where === 'Code scope' ? after.secret.v.scope.h.code : after.secret.v.fields.h.code;
    const entityCode = where === 'Code scope' ? saved.secret.v.scope.h.code : saved.secret.v.fields.h.code;
    // Either the write read the instance once (stored == entity, nothing sent) or save() sends the difference.
    t.is(finalCode, entityCode, `stored ${storedCode} then ${finalCode} after save() (${updates} updates), entity says ${entityCode}`);
  });
}

test.serial('FINDING (fixed): an UndecryptableValue inside a Map, a class instance or a toBSON result is refused, nothing sent', async (t) => {
  const marker = () => new UndecryptableValue('secret', undefined, 'Random', 'missing-key');
  const cases: Array<[string, Record<string, unknown>]> = [
    ['Map in encrypted field', { secret: new Map([['x', marker()]]) }],
    ['instance in encrypted field', { secret: new Holder(marker()) }],
    ['toBSON in encrypted field', { secret: { toBSON: () => ({ x: marker() }) } }],
    ['Map in free-form object', { extra: { m: new Map([['x', marker()]]) } }],
    ['instance in untyped array', { list: [new Holder(marker())] }],
  ];
  const stored: string[] = [];
  for (const [name, doc] of cases) {
    sent.length = 0;
    try {
      const saved = await repo().insertOne(doc);
      stored.push(`${name}: stored ${inspect((await repo().findById(saved._id)), { depth: 5 })}`);
    } catch (err) {
      if (!(err instanceof InvalidInputError) || err.code !== 'INPUT_UNDECRYPTABLE_WRITE_BACK') stored.push(`${name}: ${String(err)}`);
      else if (sent.some((c) => c.commandName === 'insert')) stored.push(`${name}: refused after sending`);
    }
  }
  t.deepEqual(stored, []);
});

test.serial('FINDING (fixed): ciphertext read raw from another document, wrapped in a class instance inside a Code scope, is refused in a field encrypted whole', async (t) => {
  const victim = await repo().insertOne({ secret: secret() });
  const cipher = (await storedRaw(victim._id)).secret as Binary;
  t.is(cipher.sub_type, 6);
  sent.length = 0;
  const error = await repo().insertOne({ secret: { c: new Code('function () {}', { w: new Holder(cipher) }) } }).then(async (saved: any) => {
    const read = await repo().findById(saved._id);
    return `stored: ${inspect(read.secret, { depth: 6 })}`;
  }, (err: unknown) => err);
  t.true(error instanceof InvalidInputError && error.code === 'INPUT_CIPHERTEXT_GIVEN', String(error));
  t.false(sent.some((c) => c.commandName === 'insert'));
});

for (const how of ['insertOne', 'save'] as const) {
  test.serial(`FINDING (fixed): a class instance a @BeforeInsert hook puts in a field encrypted whole is read once (${how}); the next save() agrees with what is stored`, async (t) => {
    hookValue = () => changing();
    try {
      const r = untypedRepository(client, Hooked);
      const entity = Object.assign(new Hooked(), { name: 'n' });
      const saved = how === 'insertOne' ? await r.insertOne({ name: 'n' }) : (await r.save(entity), entity);
      const storedCode = (await r.findById(saved._id)).secret.code;
      sent.length = 0;
      await r.save(saved);
      const updates = sent.filter((c) => c.commandName === 'update').length;
      const finalCode = (await r.findById(saved._id)).secret.code;
      t.is(finalCode, saved.secret.code, `stored ${storedCode}, after save() ${finalCode} (${updates} updates), entity says ${saved.secret.code}`);
    } finally {
      hookValue = undefined;
    }
  });
}

test.serial('FINDING (fixed): a class instance inside an item of an encrypted @ArrayField({ of: object }) is read once; the next save() agrees with what is stored', async (t) => {
  const r = untypedRepository(client, Rows);
  const saved = await r.insertOne({ rows: [{ h: changing() }] });
  const storedCode = (await r.findById(saved._id)).rows[0].h.code;
  sent.length = 0;
  await r.save(saved);
  const updates = sent.filter((c) => c.commandName === 'update').length;
  const finalCode = (await r.findById(saved._id)).rows[0].h.code;
  t.is(finalCode, saved.rows[0].h.code, `stored ${storedCode}, after save() ${finalCode} (${updates} updates), entity says ${saved.rows[0].h.code}`);
});

test.serial('FINDING (fixed, refused): an object whose _bsontype getter answers "MinKey" while it is copied is refused, nothing sent', async (t) => {
  // It is read once, by BSON, which refuses an object claiming a BSON type without being one of its values.
  const h: any = changing();
  let reads = 0;
  Object.defineProperty(h, '_bsontype', { enumerable: false, get: () => (++reads <= 3 ? 'MinKey' : undefined) });
  sent.length = 0;
  const err = await t.throwsAsync(repo().insertOne({ secret: { h } }), { instanceOf: InvalidInputError });
  t.is(err!.code, 'INPUT_MALFORMED');
  t.is(sent.length, 0);
});

// ---------------------------------------------------------------------------------------------
// What held (these pass)
// ---------------------------------------------------------------------------------------------

test.serial('held: ciphertext hidden in a class instance, Map or toBSON result in a free-form object or encrypted field is refused before anything is sent', async (t) => {
  const victim = await repo().insertOne({ secret: secret() });
  const cipher = (await storedRaw(victim._id)).secret as Binary;
  const cases: Array<Record<string, unknown>> = [
    { extra: { h: new Holder(cipher) } },
    { extra: { m: new Map([['x', cipher]]) } },
    { secret: new Holder(cipher) },
    { secret: { toBSON: () => ({ x: cipher }) } },
    { list: [new Map([['x', cipher]])] },
  ];
  for (const doc of cases) {
    sent.length = 0;
    const err = await t.throwsAsync(repo().insertOne(doc), { instanceOf: InvalidInputError });
    t.is(err!.code, 'INPUT_CIPHERTEXT_GIVEN');
    t.false(sent.some((c) => c.commandName === 'insert'));
  }
});

test.serial('held: a BSON error on a secret key inside an encrypted Map (NUL byte) says nothing of the key and sends nothing', async (t) => {
  const s = secret();
  sent.length = 0;
  const err = await t.throwsAsync(repo().insertOne({ secret: new Map([[`${s}\0x`, 1]]) }));
  t.false(inspect(err).includes(s.slice(1, 10)), inspect(err));
  t.false(commandText().includes(s));
  t.is(sent.filter((c) => c.commandName === 'insert').length, 0);
});

test.serial('held: a cycle inside a class instance in an encrypted field is refused without the value, nothing sent', async (t) => {
  const s = secret();
  const h: any = new Holder(s);
  h.self = h;
  sent.length = 0;
  const err = await t.throwsAsync(repo().insertOne({ secret: h }));
  t.false(inspect(err).includes(s));
  t.is(sent.filter((c) => c.commandName === 'insert').length, 0);
});

test.serial('held: a secret inside a class instance / Map / toBSON in an encrypted field never appears in a command; values read back', async (t) => {
  const a = secret(); const b = secret(); const c = secret();
  sent.length = 0;
  const saved = await repo().insertOne({ secret: { h: new Holder(a), m: new Map([['k', b]]), t: { toBSON: () => ({ c }) } } });
  const text = commandText();
  for (const s of [a, b, c]) t.false(text.includes(s));
  t.deepEqual((await repo().findById(saved._id)).secret, { h: { inner: a }, m: { k: b }, t: { c } });
});

test.serial('held: Decimal128, Long, -0 and a Binary subtype 4 inside a class instance in an encrypted field keep their values; the entity holds the same bytes', async (t) => {
  class Reading { d = Decimal128.fromString('1.10'); l = 5n; z = -0; u = new Binary(Buffer.alloc(16, 1), 4); big = 2 ** 53; }
  const given = new Reading();
  const saved = await repo().insertOne({ secret: given });
  const read = await repo().findById(saved._id);
  t.true(bytes(saved.secret).equals(bytes(given)), 'the entity holds what BSON writes for the original');
  t.true(Object.is(read.secret.z, -0));
  t.true(read.secret.d instanceof Decimal128);
  t.is(read.secret.d.toString(), '1.10');
  sent.length = 0;
  await repo().save(read);
  t.is(sent.filter((x) => x.commandName === 'update').length, 0);
});

test.serial('held: a getter changing per read in a class instance inside an array of an untyped array field is read once', async (t) => {
  const saved = await repo().insertOne({ list: [{ x: changing() }] });
  const stored = await storedRaw(saved._id);
  t.is(stored.list[0].x.code, saved.list[0].x.code);
  sent.length = 0;
  await repo().save(saved);
  t.is(sent.filter((x) => x.commandName === 'update').length, 0);
});

test.serial('held: a "__proto__" key in a Map inside a free-form object pollutes nothing', async (t) => {
  const outcome = await repo().insertOne({ extra: { m: new Map<string, unknown>([['__proto__', { polluted: true }]]) } }).then(() => 'stored', (e: unknown) => e);
  t.is(({} as any).polluted, undefined);
  t.true(outcome === 'stored' || outcome instanceof InvalidInputError, String(outcome));
});

test.serial('held: a class instance over 16 MB in a field encrypted whole is refused without its content, nothing sent', async (t) => {
  const s = secret();
  const big = new Holder(s + 'x'.repeat(17 * 1024 * 1024));
  sent.length = 0;
  const err = await t.throwsAsync(repo().insertOne({ secret: big }));
  t.false(inspect(err).includes(s), inspect(err).slice(0, 300));
  t.is(sent.filter((c) => c.commandName === 'insert').length, 0);
});

test.serial('held: insertMany and replaceOne store a class instance with a changing getter in a field encrypted whole as the entity holds it', async (t) => {
  const [a] = await repo().insertMany([{ secret: changing() }]);
  t.is((await repo().findById(a._id)).secret.code, a.secret.code);
  await repo().replaceOne({ _id: a._id }, { _id: a._id, secret: changing() });
  t.is((await repo().findById(a._id)).secret.code, 'first');
});

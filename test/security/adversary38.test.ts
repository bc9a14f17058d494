/**
 * Round-38 adversarial pass (c4600a3): the input copy of a document to write (copyDocumentOnce), the
 * encoder's fast path for strings and booleans (storedAsGiven), the snapshot's fast path, and NUL
 * characters in places round 37 did not cover. Plain JavaScript against the public API (repositories
 * cast to any), the raw driver beside it, command monitoring on every command.
 * Findings: a declared field named like an Object.prototype member (toString, valueOf, hasOwnProperty) left out,
 * or behind a getter / non-enumerable property, was read from Object.prototype (a function: refused as the wrong
 * type) — such names are now refused when the model is defined;
 * a NUL in a Map key inside a free-form value and in a $literal key of a pipeline are untyped BSONErrors quoting the key.
 * FINDING-n tests assert the correct behaviour (they failed when written); "held" tests passed.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { BSON, ObjectId } from 'mongodb';
import { Embedded, Encrypted, Field, Id, Model, StrongboxError } from '../../src/index';
import { MetadataRegistry } from '../../src/metadata';
import { storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { defineTypedModel } from '../harness/typedModel';
import { uniqueDbName } from '../harness/server';

const F: any = Field;
const DB = uniqueDbName(__filename);
const SECRET = `sekret-${new ObjectId().toHexString()}`;

class Addr {
  @Field({ optional: true }) city?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) zip?: any;
}
@Model({ db: DB, collection: 'people', keyAltName: 'adv38' })
class Person {
  @Id() _id!: ObjectId;
  @Field({ optional: true }) name?: string;
  @Field({ bsonType: 'bool', optional: true }) flag?: boolean;
  @Field({ bsonType: 'int', optional: true }) n?: number;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: any;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) phone?: any;
  @Embedded(() => Addr, { optional: true }) addr?: Addr;
}
const { Typed } = defineTypedModel(DB, 'adv38t');
const w = watchedClient(DB, [Person, Typed]);
const sent = w.sent;
const prepo = () => untypedRepository(w.client, Person);
const trepo = () => untypedRepository(w.client, Typed);
const coll = (name: string) => w.raw.db(DB).collection(name);
const isStrongbox = (e: unknown) => e instanceof StrongboxError;
const errOf = (e: unknown) => `${(e as Error)?.constructor?.name} ${(e as { code?: string })?.code ?? ''} ${(e as Error)?.message ?? ''}`;
const wire = () => sent.map((c) => { try { return BSON.EJSON.stringify(c.command, { relaxed: false }); } catch (e) { return `unwritable ${(e as Error).message}`; } }).join('\n');
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));
const settle = (run: () => unknown) => Promise.resolve().then(run).then((v) => ({ v }), (e: unknown) => ({ e }));
const plainStored = (d: any) => { const o: any = {}; for (const k of Object.keys(d)) if (k !== '_id') o[k] = d[k]; return o; };


test('FINDING-1: a field named like an Object.prototype member (toString, valueOf, hasOwnProperty) is refused when the model is defined: such a model was accepted, and every write leaving the field out, or giving it behind a prototype getter, a non-enumerable property or in a null-prototype document, read Object.prototype.toString for it (copyDocumentOnce tested `name in copy`) and was refused as INPUT_WRONG_TYPE "got a function"', (t) => {
  for (const name of ['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__']) {
    class Protoish {
      @Id() _id!: ObjectId;
    }
    // (Field's types refuse these names; plain JavaScript declares them.)
    F({ bsonType: 'string', optional: true })(Protoish.prototype, name);
    Model({ db: DB, collection: `protos_${name}`, keyAltName: 'adv38p' })(Protoish);
    const err = t.throws(() => new MetadataRegistry([Protoish]), undefined, name);
    t.is((err as { code?: string }).code, 'MODEL_FIELD_NAME_INVALID', name);
    t.true(err!.message.includes(name), err!.message);
  }
});

test.serial('FINDING-2: a NUL character in a Map key inside a free-form object ({ obj: { m: new Map([["<secret>\\0x", 1]]) } }) is INPUT_NUL_CHARACTER before any command; today the insert is sent to the driver, whose serializer throws an untyped BSONError quoting the key', async (t) => {
  const K = `${SECRET}\0x`;
  sent.length = 0;
  const r: any = await settle(() => trepo().insertOne({ obj: { m: new Map([[K, 1]]) } }));
  t.true('e' in r && isStrongbox(r.e) && r.e.code === 'INPUT_NUL_CHARACTER', 'e' in r ? errOf(r.e).split(SECRET).join('<S>') : 'accepted');
  t.false('e' in r && `${errOf(r.e)} ${r.e?.stack}`.includes(SECRET), 'the error quotes the key');
});

test.serial('FINDING-3: a NUL character in a key under $literal in an aggregation pipeline is INPUT_NUL_CHARACTER before any command; today the aggregate is sent to the driver, whose serializer throws an untyped BSONError quoting the key', async (t) => {
  const K = `${SECRET}\0x`;
  sent.length = 0;
  const r: any = await settle(() => prepo().aggregate([{ $project: { x: { $literal: { [K]: 1 } } } }]).toArray());
  t.true('e' in r && isStrongbox(r.e) && r.e.code === 'INPUT_NUL_CHARACTER', 'e' in r ? errOf(r.e).split(SECRET).join('<S>') : 'accepted');
  t.false('e' in r && `${errOf(r.e)} ${r.e?.stack}`.includes(SECRET), 'the error quotes the key');
});

test.serial('held: NUL in sort, projection, hint, $match / $project / $group / $addFields / $sort keys, a distinct filter, count (key and RegExp), paginate sort, $in RegExp, a free-form object key: one StrongboxError before any command, the key unquoted', async (t) => {
  const wrong: string[] = [];
  const K = `${SECRET}\0x`;
  for (const [name, run] of [
    ['sort', () => prepo().find({}, { sort: { [K]: 1 } }).toArray()], ['projection', () => prepo().find({}, { projection: { [K]: 1 } }).toArray()],
    ['hint', () => prepo().find({}, { hint: { [K]: 1 } }).toArray()], ['$match', () => prepo().aggregate([{ $match: { [K]: 1 } }]).toArray()],
    ['$project', () => prepo().aggregate([{ $project: { [K]: 1 } }]).toArray()], ['$group', () => prepo().aggregate([{ $group: { _id: null, [K]: { $sum: 1 } } }]).toArray()],
    ['$addFields', () => prepo().aggregate([{ $addFields: { [K]: 1 } }]).toArray()], ['$sort', () => prepo().aggregate([{ $sort: { [K]: 1 } }]).toArray()],
    ['distinct filter', () => prepo().distinct('name', { [K]: 1 })], ['count', () => prepo().count({ [K]: 1 })], ['count RegExp', () => prepo().count({ name: new RegExp(K) })],
    ['paginate sort', () => prepo().paginate({}, { sort: { [K]: 1 }, limit: 2 })], ['$in RegExp', () => prepo().deleteMany({ name: { $in: [new RegExp(K)] } })],
    ['free-form key', () => trepo().insertOne({ obj: { [K]: 1 } })], ['free-form top Map', () => trepo().insertOne({ obj: new Map([[K, 1]]) })],
  ] as Array<[string, () => Promise<unknown>]>) {
    sent.length = 0;
    const r: any = await settle(run);
    if (!('e' in r) || !isStrongbox(r.e)) wrong.push(`${name}: ${'e' in r ? `untyped ${errOf(r.e).split(SECRET).join('<S>').slice(0, 80)}` : 'accepted'}`);
    else if (sent.length > 0 || `${errOf(r.e)}`.includes(SECRET)) wrong.push(`${name}: ${sent.length} commands sent, quoted ${errOf(r.e).includes(SECRET)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: the input copy reads each own getter once (embedded too), a Proxy gets one ownKeys and one get per key, prototype getters of declared fields beside an own _id are stored and encrypted, and save() after insert or load sends only the changed path', async (t) => {
  let reads = 0;
  const doc: any = { get name() { reads++; return reads === 1 ? 'first' : 'second'; }, ssn: SECRET, addr: { get city() { reads++; return reads <= 2 ? 'c1' : 'c2'; }, zip: SECRET } };
  const e: any = await prepo().insertOne(doc);
  const st = await storedIn(coll('people'), e._id);
  t.deepEqual([reads, st.name, st.addr.city, e.name, e.addr.city], [2, 'first', 'c1', 'first', 'c1']);
  const counts: Record<string, number> = {};
  const px = new Proxy({ name: 'p', ssn: SECRET, flag: true }, Object.fromEntries(['get', 'ownKeys', 'getOwnPropertyDescriptor', 'has'].map((trap) => [trap, (...a: any[]) => { const k = `${trap}:${String(a[1] ?? '')}`; counts[k] = (counts[k] ?? 0) + 1; return (Reflect as any)[trap](...a); }])));
  await prepo().insertOne(px);
  t.true(Object.entries(counts).every(([k, n]) => n === 1 && !/^get:(?!name|ssn|flag|_bsontype)/.test(k)), JSON.stringify(counts));
  const proto = Object.assign(Object.create({ get ssn() { return SECRET; }, get name() { return 'pn'; } }), { _id: new ObjectId() });
  const p: any = await prepo().insertOne(proto);
  t.is((await storedIn(coll('people'), p._id)).name, 'pn');
  t.is((await prepo().findById(p._id)).ssn, SECRET);
  sent.length = 0; e.name = 'n2'; await prepo().save(e);
  const l: any = await prepo().findById(e._id);
  l.addr.city = 'y'; await prepo().save(l);
  t.deepEqual(writes().map((c) => Object.keys(c.command.updates[0].u.$set)), [['name'], ['addr.city']]);
});

test.serial('held: the encoder fast path stores only strings in string fields and booleans in bool fields: String objects, strings in int / bool / Deterministic fields, booleans in string and Random fields are one StrongboxError, and no encrypted plaintext is sent', async (t) => {
  const wrong: string[] = [];
  for (const [f, v] of [['name', new String('x')], ['n', '5'], ['flag', 'true'], ['name', true], ['ssn', new String(SECRET)], ['ssn', true], ['phone', 5], ['addr', { city: new String('c'), zip: SECRET }], ['addr', { city: false }]] as Array<[string, any]>) {
    sent.length = 0;
    const r: any = await settle(() => prepo().insertOne({ [f]: v }));
    if (!('e' in r) || !isStrongbox(r.e)) wrong.push(`${f}: ${'e' in r ? errOf(r.e) : 'stored'}`);
    if (wire().includes(SECRET) || writes().length) wrong.push(`${f}: sent`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('generated: a document of random name / flag / n / ssn / addr values, wrapped at random in own getters, prototype getters, non-enumerable properties, a Proxy or a null prototype, is stored exactly as its plain-object copy is', async (t) => {
  const wrong: string[] = [];
  const wrap = (o: any, how: string): any => {
    if (how === 'proxy') return new Proxy(o, {});
    if (how === 'null') return Object.assign(Object.create(null), o);
    const keys = Object.keys(o);
    if (how === 'getters') return Object.defineProperties({}, Object.fromEntries(keys.map((k) => [k, { get: () => o[k], enumerable: true }])));
    if (how === 'proto') return Object.create(Object.defineProperties({}, Object.fromEntries(keys.map((k) => [k, { get: () => o[k] }]))));
    return Object.defineProperties({}, Object.fromEntries(keys.map((k) => [k, { value: o[k], enumerable: false }])));
  };
  const hows = fc.constantFrom('plain', 'proxy', 'null', 'getters', 'proto', 'hidden');
  await fc.assert(fc.asyncProperty(fc.record({ name: fc.string(), flag: fc.boolean(), n: fc.integer({ min: -100, max: 100 }), ssn: fc.string({ minLength: 1 }), addr: fc.record({ city: fc.string() }, { requiredKeys: [] }) }, { requiredKeys: [] }), hows, hows, async (plain, how, inner) => {
    const doc = { ...plain, ...(plain.addr ? { addr: inner === 'plain' ? plain.addr : wrap(plain.addr, inner) } : {}) };
    const [a, b]: any[] = await Promise.all([prepo().insertOne(structuredClone(plain)), prepo().insertOne(how === 'plain' ? doc : wrap(doc, how))]);
    const [sa, sb] = await Promise.all([storedIn(coll('people'), a._id), storedIn(coll('people'), b._id)]);
    const back = await prepo().findById(b._id);
    const got = { ...plainStored(sb), ssn: back.ssn }, want = { ...plainStored(sa), ssn: plain.ssn };
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${how}/${inner}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  }), { numRuns: Number(process.env.STRONGBOX_ADV38_RUNS ?? 40), seed: Number(process.env.STRONGBOX_ADV38_SEED ?? 3838) });
  t.deepEqual(wrong.slice(0, 5), [], wrong.slice(0, 5).join('\n'));
});

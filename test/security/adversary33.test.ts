/**
 * Round-33 adversarial pass (88b4e80): marker design (description not enumerable, toBSON its one
 * enumerable property) and the free-form write check (class instances and toBSON results checked as
 * BSON writes them). Plain JavaScript against the public API (repositories cast to any), the raw
 * driver to plant ciphertext and read stored bytes, command monitoring on every command.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { inspect } from 'node:util';
import { Binary, BSON, ObjectId } from 'mongodb';
import { StrongboxError, UndecryptableValue } from '../../src/index';
import { outcomeOf, plantMarkers, storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { defineMarkerModel } from '../harness/markerModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { Doc } = defineMarkerModel(DB, 'adv33');


const watched = watchedClient(DB, [Doc]);
const sent = watched.sent;
const repo = () => untypedRepository(watched.client, Doc);
const lenient = () => watched.client.repository(Doc as never, { onUndecryptable: 'marker' } as never) as any;
const coll = () => watched.raw.db(DB).collection('docs');
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));
const ejson = (v: unknown) => BSON.EJSON.stringify({ v }, { relaxed: false });
const isCipher = (v: unknown) => v instanceof Binary && v.sub_type === 6;

const all = { ssn: 'phone', whole: 'phone', 'extra.k': 'phone', 'list.1': 'phone' } as const;
const base = () => ({ name: 'a', ssn: 'x', whole: { w: 1 }, extra: { k: 1, j: 2 }, list: [1, 2, 3] });
const withMarkers = () => plantMarkers(repo(), coll(), base(), all);

class Holder { constructor(public inner: unknown) {} }

/** Sets `field` of a loaded entity (markers at ssn, whole, extra.k, list.1) to what `make` builds from the whole marker, saves, reports. */
async function saveOver(field: 'whole' | 'extra', make: (m: UndecryptableValue, e: any) => unknown): Promise<{ r: string; stored: unknown; wasCipher: boolean; sentWrites: number }> {
  const a = await withMarkers();
  const e = await lenient().findById(a.id);
  const m = e.whole as UndecryptableValue;
  e[field] = make(m, e);
  sent.length = 0;
  const r = await outcomeOf(lenient().save(e));
  const after = await storedIn(coll(), a.id);
  const stillCipher = field === 'whole' ? Buffer.compare(Buffer.from(BSON.serialize({ v: after.whole })), Buffer.from(BSON.serialize({ v: a.before.whole }))) === 0 : isCipher(after.extra?.k);
  const stored = field === 'whole' ? (await lenient().findById(a.id))?.whole : after.extra;
  return { r, stored, wasCipher: stillCipher, sentWrites: writes().length };
}


// ---------------------------------------------------------------------------------------------
// Findings of round 33, fixed in 26c3cdf (each failed before its fix; titles say what was wrong)
// ---------------------------------------------------------------------------------------------

/** A save() over a marker that must be refused: nothing sent, the ciphertext kept byte for byte. */
async function mustRefuse(wrong: string[], name: string, field: 'whole' | 'extra', make: (m: UndecryptableValue, e: any) => unknown): Promise<void> {
  const o = await saveOver(field, make);
  if (o.r !== 'INPUT_UNDECRYPTABLE_WRITE_BACK' || !o.wasCipher || o.sentWrites !== 0) wrong.push(`${name}: ${o.r}, ciphertext kept ${o.wasCipher}, writes sent ${o.sentWrites}, stored ${ejson(o.stored).slice(0, 160)}`);
}

test.serial('a copy of a marker whose toBSON BSON drops (a Map of its entries or its bare toBSON inside a class instance or a toBSON result) is refused like the same copy in a plain object: save() wrote {} over the ciphertext', async (t) => {
  const wrong: string[] = [];
  await mustRefuse(wrong, 'whole = class instance holding a Map of the marker\'s entries', 'whole', (m) => new Holder(new Map(Object.entries({ ...m }))));
  await mustRefuse(wrong, 'extra.k = class instance holding a Map of the marker\'s entries', 'extra', (m) => ({ k: new Holder(new Map(Object.entries({ ...m }))), j: 2 }));
  await mustRefuse(wrong, 'whole = object whose toBSON returns a Map of the marker\'s entries', 'whole', (m) => ({ toBSON: () => new Map(Object.entries({ ...m })) }));
  await mustRefuse(wrong, 'whole = class instance holding the marker\'s toBSON', 'whole', (m) => new Holder(m.toBSON));
  await mustRefuse(wrong, 'extra.k = class instance holding the marker\'s toBSON', 'extra', (m) => ({ k: new Holder(m.toBSON), j: 2 }));
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('an EJSON round trip of a loaded entity (BSON.EJSON.stringify/parse, relaxed or canonical) is refused by save(): the marker came back as {} and was written over the ciphertext', async (t) => {
  const wrong: string[] = [];
  const roundTrip = (e: any, relaxed: boolean) => BSON.EJSON.parse(BSON.EJSON.stringify({ whole: e.whole, extra: e.extra }, { relaxed }), { relaxed });
  await mustRefuse(wrong, 'whole from a relaxed EJSON round trip', 'whole', (_m, e) => roundTrip(e, true).whole);
  await mustRefuse(wrong, 'whole from a canonical EJSON round trip', 'whole', (_m, e) => roundTrip(e, false).whole);
  await mustRefuse(wrong, 'extra (marker at extra.k) from a relaxed EJSON round trip', 'extra', (_m, e) => roundTrip(e, true).extra);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('a Reflect.ownKeys copy of a marker that leaves out functions (a generic to-plain copier) is refused: it stored the marker\'s whole description over the ciphertext', async (t) => {
  const wrong: string[] = [];
  const plainOwn = (m: UndecryptableValue) => Object.fromEntries(Reflect.ownKeys(m).filter((k) => typeof (m as any)[k] !== 'function').map((k) => [k, (m as any)[k]]));
  await mustRefuse(wrong, 'whole = Reflect.ownKeys copy without functions', 'whole', plainOwn);
  await mustRefuse(wrong, 'whole = getOwnPropertyNames copy without functions', 'whole', (m) => Object.fromEntries(Object.getOwnPropertyNames(m).filter((k) => typeof (m as any)[k] !== 'function').map((k) => [k, (m as any)[k]])));
  t.deepEqual(wrong, [], wrong.join('\n'));
});

/** A free-form value holding a class instance whose field is a getter and an object with a toBSON, each counting its reads. */
const counted = () => {
  const st = { reads: 0, calls: 0 };
  const inst: any = new Holder(undefined);
  Object.defineProperty(inst, 'inner', { get() { st.reads++; return `v${st.reads}`; }, enumerable: true });
  const tb = { toBSON() { st.calls++; return { n: st.calls }; } };
  return { st, val: { a: inst, b: tb } };
};
const updatePaths: Array<[string, (id: ObjectId, v: unknown) => Promise<unknown>]> = [
  ['updateOne $set extra', (id, v) => repo().updateOne({ _id: id }, { $set: { extra: v } })],
  ['updateOne $set extra.x', (id, v) => repo().updateOne({ _id: id }, { $set: { 'extra.x': v } })],
  ['updateOne $set whole', (id, v) => repo().updateOne({ _id: id }, { $set: { whole: v } })],
  ['updateOne $set list', (id, v) => repo().updateOne({ _id: id }, { $set: { list: [v] } })],
  ['updateOne $push', (id, v) => repo().updateOne({ _id: id }, { $push: { list: { $each: [v] } } })],
  ['updateOne $addToSet', (id, v) => repo().updateOne({ _id: id }, { $addToSet: { list: v } })],
  ['updateOne upsert $setOnInsert', (_id, v) => repo().updateOne({ _id: new ObjectId() }, { $setOnInsert: { extra: v } }, { upsert: true })],
  ['updateMany $set', (id, v) => repo().updateMany({ _id: id }, { $set: { extra: v } })],
  ['findOneAndUpdate $set', (id, v) => repo().findOneAndUpdate({ _id: id }, { $set: { extra: v } })],
  ['bulkWrite updateOne $set extra', (id, v) => repo().bulkWrite([{ updateOne: { filter: { _id: id }, update: { $set: { extra: v } } } }])],
  ['bulkWrite updateOne $set whole', (id, v) => repo().bulkWrite([{ updateOne: { filter: { _id: id }, update: { $set: { whole: v } } } }])],
];

test.serial('update operators ($set, $push, $addToSet, $setOnInsert; updateOne, updateMany, findOneAndUpdate, bulkWrite) read a free-form class instance\'s getters and a toBSON once, as insertOne and save() do: the new check read them and the driver read them again, so what is stored is not what was checked', async (t) => {
  const wrong: string[] = [];
  for (const [name, run] of updatePaths) {
    const { st, val } = counted();
    const saved = await repo().insertOne({ name: 'g', list: [], extra: {} });
    const r = await outcomeOf(run(saved._id, val));
    if (r !== 'ok' || st.reads !== 1 || st.calls !== 1) wrong.push(`${name}: ${r}, getter read ${st.reads} times, toBSON called ${st.calls} times`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: insertOne, insertMany, replaceOne, save() and bulkWrite insertOne/replaceOne read a free-form class instance\'s getters and a toBSON once', async (t) => {
  const wrong: string[] = [];
  const paths: Array<[string, (id: ObjectId, v: unknown) => Promise<unknown>]> = [
    ['insertOne', (_id, v) => repo().insertOne({ extra: v })],
    ['insertMany', (_id, v) => repo().insertMany([{ extra: v }])],
    ['replaceOne', (id, v) => repo().replaceOne({ _id: id }, { name: 'r', extra: v })],
    ['save', async (id, v) => { const e = await repo().findById(id); e.extra = v; return repo().save(e); }],
    ['bulkWrite insertOne', (_id, v) => repo().bulkWrite([{ insertOne: { document: { extra: v } } }])],
    ['bulkWrite replaceOne', (id, v) => repo().bulkWrite([{ replaceOne: { filter: { _id: id }, replacement: { extra: v } } }])],
  ];
  for (const [name, run] of paths) {
    const { st, val } = counted();
    const saved = await repo().insertOne({ name: 'g' });
    const r = await outcomeOf(run(saved._id, val));
    if (r !== 'ok' || st.reads !== 1 || st.calls !== 1) wrong.push(`${name}: ${r}, getter read ${st.reads} times, toBSON called ${st.calls} times`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('a toBSON that answers a plain value to the check and the marker\'s JSON form to the driver does not store the marker\'s description over ciphertext (updateOne, bulkWrite)', async (t) => {
  const wrong: string[] = [];
  for (const via of ['updateOne', 'bulkWrite'] as const) {
    const a = await withMarkers();
    const e = await lenient().findById(a.id);
    const m = e.whole as UndecryptableValue;
    let calls = 0;
    const value = { toBSON: () => (++calls === 1 ? { fine: 1 } : JSON.parse(JSON.stringify(m))) };
    const update = { $set: { 'extra.k': value } };
    const r = via === 'updateOne' ? await outcomeOf(lenient().updateOne({ _id: a.id }, update)) : await outcomeOf(lenient().bulkWrite([{ updateOne: { filter: { _id: a.id }, update } }]));
    const stored = (await storedIn(coll(), a.id)).extra?.k;
    if (ejson(stored).includes('"undecryptable":true')) wrong.push(`${via}: ${r}; stored at extra.k over the ciphertext: ${ejson(stored)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// ---------------------------------------------------------------------------------------------
// Held
// ---------------------------------------------------------------------------------------------

test.serial('held: copies that keep the toBSON (Reflect.ownKeys, getOwnPropertyDescriptors onto {} or the same prototype, a lodash-like Object.create(proto)+own props clone, a bare toBSON in a plain object) are refused by save(), nothing sent; a BSON round trip in app code and structuredClone throw', async (t) => {
  const wrong: string[] = [];
  await mustRefuse(wrong, 'Reflect.ownKeys copy', 'whole', (m) => Object.fromEntries(Reflect.ownKeys(m).map((k) => [k, (m as any)[k]])));
  await mustRefuse(wrong, 'descriptors onto {}', 'whole', (m) => Object.defineProperties({}, Object.getOwnPropertyDescriptors(m)));
  await mustRefuse(wrong, 'descriptors, same prototype', 'whole', (m) => Object.create(Object.getPrototypeOf(m), Object.getOwnPropertyDescriptors(m)));
  await mustRefuse(wrong, 'lodash-like clone', 'whole', (m) => Object.assign(Object.create(Object.getPrototypeOf(m)), m));
  await mustRefuse(wrong, 'bare toBSON in a plain object', 'whole', (m) => ({ inner: m.toBSON }));
  await mustRefuse(wrong, 'descriptors copy in extra.k', 'extra', (m) => ({ k: Object.defineProperties({}, Object.getOwnPropertyDescriptors(m)), j: 2 }));
  const a = await withMarkers();
  const e = await lenient().findById(a.id);
  const bson = (() => { try { BSON.deserialize(BSON.serialize({ v: e.whole })); return 'ok'; } catch (err) { return (err as { code?: string }).code; } })();
  const sc = (() => { try { structuredClone(e.whole); return 'ok'; } catch (err) { return (err as Error).name; } })();
  t.is(bson, 'INPUT_UNDECRYPTABLE_WRITE_BACK');
  t.is(sc, 'DataCloneError');
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: legitimate free-form values (class instances, toBSON objects and classes, Maps, typed arrays, Dates, RegExps, Sets, boxed values, bigint, Longs, functions and symbols on instances) are stored as the driver writes them, in a free-form object and a field encrypted whole', async (t) => {
  class Money { constructor(public amount: number, public currency: string) {} }
  class WithToBSON { constructor(public x: number) {} toBSON() { return { x: this.x, kind: 'w' }; } }
  class Str { toBSON() { return 'as-string'; } }
  const vals: Array<[string, unknown]> = [
    ['class', new Money(1, 'EUR')], ['toBSON class', new WithToBSON(3)], ['toBSON string', new Str()],
    ['Map', new Map<string, unknown>([['a', 1], ['b', new Money(2, 'USD')]])], ['Float64Array', new Float64Array([1.5, 2])],
    ['Uint8Array', new Uint8Array([1, 2])], ['Date', new Date(0)], ['RegExp', /a.b/i], ['Set', new Set([1])], ['boxed', new String('bx')],
    ['bigint', { b: 5n }], ['Error', new Error('boom')], ['class with undefined', new Money(undefined as never, 'x')],
    ['class with symbol', Object.assign(new Money(1, 'y'), { [Symbol('s')]: 1 })], ['class with function', Object.assign(new Money(1, 'y'), { f: () => 1 })],
    ['class with Long', Object.assign(new Money(1, 'y'), { l: BSON.Long.fromNumber(7) })], ['toBSON returning Date', { toBSON: () => new Date(5) }],
    ['toBSON returning array', { toBSON: () => [1, 2] }], ['toBSON returning null', { toBSON: () => null }], ['class in array', [new Money(3, 'GBP')]],
  ];
  const wrong: string[] = [];
  for (const [name, v] of vals) {
    for (const field of ['extra', 'whole'] as const) {
      const put = field === 'extra' ? { o: v } : v;
      const reference = ejson(BSON.deserialize(BSON.serialize({ v: put }, { ignoreUndefined: false })).v);
      const id = new ObjectId();
      const r = await outcomeOf(repo().insertOne({ _id: id, [field]: put }));
      const st = r === 'ok' ? ejson((await repo().findById(id))?.[field]) : '-';
      if (r !== 'ok' || st !== reference) wrong.push(`${name} ${field}: ${r}, driver writes ${reference}, stored ${st}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: a class instance BSON cannot write (a cycle) in a free-form field is refused INPUT_MALFORMED before any command, its message quoting no value', async (t) => {
  class Node2 { self: unknown; secret = 'PLAINTEXT-SECRET-33'; constructor() { this.self = this; } }
  for (const field of ['extra', 'whole'] as const) {
    sent.length = 0;
    let err: any;
    try { await repo().insertOne({ ssn: 'PLAINTEXT-SSN-33', [field]: { n: new Node2() } }); } catch (e) { err = e; }
    t.true(err instanceof StrongboxError, String(err));
    t.is(err?.code, 'INPUT_MALFORMED');
    t.false(/PLAINTEXT/.test(String(err?.message)), err?.message);
    t.is(writes().length, 0);
  }
});


test.serial('held: ciphertext under a key named toBSON in a free-form object or an untyped array reads as markers under the opt-in (find and distinct), never ciphertext or an untyped error; save() of the loaded entity keeps it byte for byte, replaceOne with it is refused', async (t) => {
  const donor = await repo().insertOne({ phone: 'donor-P', ssn: 'donor-S' });
  const c = (await storedIn(coll(), donor._id)).phone;
  const a = await repo().insertOne({ name: 'tb', extra: { j: 1 }, list: [1] });
  await coll().updateOne({ _id: a._id }, { $set: { extra: { toBSON: c, j: 1 }, list: [{ toBSON: c }], whole: c } });
  const before = await storedIn(coll(), a._id);
  const e = await lenient().findById(a._id);
  t.true(e.extra.toBSON instanceof UndecryptableValue);
  t.true(e.list[0].toBSON instanceof UndecryptableValue);
  for (const key of ['extra', 'extra.toBSON', 'list']) {
    const d = await lenient().distinct(key, { _id: a._id });
    t.false(ejson(d).includes('"$binary"'), `${key}: ${inspect(d)}`);
  }
  e.name = 'changed';
  t.is(await outcomeOf(lenient().save(e)), 'ok');
  const after = await storedIn(coll(), a._id);
  t.is(ejson(after.extra), ejson(before.extra));
  t.is(ejson(after.list), ejson(before.list));
  t.is(await outcomeOf(lenient().replaceOne({ _id: a._id }, e)), 'INPUT_UNDECRYPTABLE_WRITE_BACK');
});

/** What an error shows (message, details, fix, stack), to look for plaintext in. */
const shown = (err: any): string => `${err?.message ?? ''} ${JSON.stringify(err?.details ?? '')} ${err?.fix ?? ''} ${String(err?.stack ?? '')}`;

test.serial('the keys of a value encrypted whole are its plaintext: refusals of what is inside it (a BSON-unwritable object, a marker copy, ciphertext) do not quote them, in insertOne, updateOne and save()', async (t) => {
  class Cyclic { self: unknown; constructor() { this.self = this; } }
  const a = await withMarkers();
  const m = (await lenient().findById(a.id)).whole as UndecryptableValue;
  const vals: Array<[string, unknown]> = [
    ['a cycle under a key', { 'PLAINTEXT-KEY-1': new Cyclic() }],
    ['a cycle under a Map key', new Map([['PLAINTEXT-KEY-2', new Cyclic()]])],
    ['a throwing toBSON under a key', { 'PLAINTEXT-KEY-3': { toBSON: () => { throw new Error('boom'); } } }],
    ['a marker copy under a key', { 'PLAINTEXT-KEY-4': { ...m } }],
    ['the marker\'s JSON form under a key inside a class instance', new Holder({ 'PLAINTEXT-KEY-5': JSON.parse(JSON.stringify(m)) })],
    ['ciphertext under a key', { 'PLAINTEXT-KEY-6': a.before.whole }],
  ];
  const wrong: string[] = [];
  for (const [name, v] of vals) {
    for (const via of ['insertOne', 'updateOne', 'save'] as const) {
      sent.length = 0;
      let err: any;
      try {
        if (via === 'insertOne') await repo().insertOne({ whole: v });
        else if (via === 'updateOne') await repo().updateOne({ _id: a.id }, { $set: { whole: v } });
        else { const e = await lenient().findById(a.id); e.whole = v; sent.length = 0; await lenient().save(e); }
      } catch (x) { err = x; }
      if (!(err instanceof StrongboxError) || /PLAINTEXT-KEY/.test(shown(err)) || writes().length > 0) wrong.push(`${via} whole = ${name}: ${err?.constructor?.name} ${err?.code}: ${String(err?.message).slice(0, 120)}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('a toBSON inside a value encrypted whole that throws its own error (which may quote the value) is refused typed with that message withheld by insertOne and save(), as updateOne does (INPUT_MALFORMED)', async (t) => {
  const wrong: string[] = [];
  const a = await repo().insertOne({ name: 'x' });
  const value = () => ({ k: { toBSON: () => { throw new Error('PLAINTEXT-IN-TOBSON'); } } });
  for (const via of ['insertOne', 'updateOne', 'save'] as const) {
    let err: any;
    try {
      if (via === 'insertOne') await repo().insertOne({ whole: value() });
      else if (via === 'updateOne') await repo().updateOne({ _id: a._id }, { $set: { whole: value() } });
      else { const e = await repo().findById(a._id); e.whole = value(); await repo().save(e); }
    } catch (x) { err = x; }
    if (!(err instanceof StrongboxError) || /PLAINTEXT-IN-TOBSON/.test(shown(err))) wrong.push(`${via}: ${err?.constructor?.name} ${err?.code}: ${String(err?.message).slice(0, 100)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

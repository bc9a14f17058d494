/**
 * Round-31 adversarial pass (e0762bc): marker identity in save(). Plain JavaScript against the public
 * API (repositories cast to any), the raw driver to plant ciphertext and read stored bytes, command
 * monitoring. FINDING tests assert the correct behaviour and fail today; "held" tests pass.
 * Serial: tests share the client's command events.
 */
import test from 'ava';
import { Binary, BSON, ObjectId, type Document } from 'mongodb';
import { StrongboxError, UndecryptableValue } from '../../src/index';
import { bytesOf, describe, outcome, outcomeOf, plantMarkers, storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { defineMarkerModel } from '../harness/markerModel';
import { requires, uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { Doc } = defineMarkerModel(DB, 'adv31');


const watched = watchedClient(DB, [Doc]);
const sent = watched.sent;
const repo = () => untypedRepository(watched.client, Doc);
const lenient = () => watched.client.repository(Doc as never, { onUndecryptable: 'marker' } as never) as any;
const coll = () => watched.raw.db(DB).collection('docs');
const storedRaw = (id: unknown) => storedIn(coll(), id);
const writes = () => sent.filter((c) => ['update', 'insert', 'findAndModify'].includes(c.commandName));
const ejson = (v: unknown) => BSON.EJSON.stringify({ v }, { relaxed: false });
const withMarkers = (doc: Document, paths: Record<string, 'phone' | 'ssn'>) => plantMarkers(repo(), coll(), doc, paths);



const all = { ssn: 'phone', ssn2: 'phone', 'extra.deep.1.x': 'phone', 'list.1': 'phone', 'list.2': 'phone', whole: 'phone', 'addr.zip': 'phone', 'items.0.secret': 'phone', 'items.1.secret': 'phone' } as const;
const base = () => ({ name: 'a', ssn: 'x', ssn2: 'y', extra: { deep: [1, { x: 1 }], k: 1 }, list: [1, 2, 3], whole: { w: 1 }, addr: { city: 'c', zip: 'z' }, items: [{ label: 'i0', secret: 's0' }, { label: 'i1', secret: 's1' }] });
const sentText = () => writes().map((c) => ejson(c.command.updates ?? c.command.documents ?? c.command)).join(' | ');

// ---------------------------------------------------------------------------------------------
// Findings of round 31, fixed (each failed before its fix)
// ---------------------------------------------------------------------------------------------

test.serial('a copy of a marker (structuredClone, spread, JSON round trip, prototype dropped) put back where the marker was is refused by save(): nothing is sent, the ciphertext stays (fixed: it was written over it as a document of the marker\'s fields)', async (t) => {
  const copies: Array<[string, (e: any) => void]> = [
    ['whole = structuredClone(marker)', (e) => { e.whole = structuredClone(e.whole); }],
    ['whole = { ...marker }', (e) => { e.whole = { ...e.whole }; }],
    ['whole = JSON round trip of marker', (e) => { e.whole = JSON.parse(JSON.stringify(e.whole)); }],
    ['extra = JSON round trip (marker inside)', (e) => { e.extra = JSON.parse(JSON.stringify(e.extra)); }],
    ['list = structuredClone (markers inside)', (e) => { e.list = structuredClone(e.list); }],
    ['marker prototype set to Object.prototype', (e) => { Object.setPrototypeOf(e.whole, Object.prototype); }],
  ];
  const wrong: string[] = [];
  for (const [name, change] of copies) {
    const a = await withMarkers(base(), all);
    const e = await lenient().findById(a.id);
    try {
      change(e);
    } catch (err) {
      // structuredClone refuses to copy a marker at all (its toBSON is a function): refused before any write.
      if ((err as Error).name !== 'DataCloneError') wrong.push(`${name}: the copy threw ${String(err)}`);
      continue;
    }
    e.name = 'n';
    sent.length = 0;
    const r = await outcomeOf(lenient().save(e));
    const after = await storedRaw(a.id);
    const lost = ['whole', 'extra', 'list'].filter((k) => !bytesOf(after[k]).equals(bytesOf(a.before[k])));
    if (lost.length > 0) wrong.push(`${name}: save ${r}; ciphertext replaced at ${lost.join(',')}; sent ${sentText().slice(0, 200)}`);
    else if (r !== 'INPUT_UNDECRYPTABLE_WRITE_BACK' || writes().length > 0) wrong.push(`${name}: save ${r}, ${writes().length} write(s) sent`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('distinct() on a plain field (string, free-form path, untyped array, plain field of an embedded document) holding planted ciphertext fails with DECRYPT_MISPLACED, or lists a marker under the opt-in (fixed: it listed the ciphertext as a value)', async (t) => {
  const a = await withMarkers({ name: 'a', extra: { k: 1 }, list: [1, 2], addr: { city: 'c' } }, { name: 'phone', 'extra.k': 'phone', 'list.1': 'phone', 'addr.city': 'phone' });
  const wrong: string[] = [];
  for (const [policy, r] of [['default', repo()], ['marker', lenient()]] as const) {
    for (const key of ['name', 'extra.k', 'list', 'addr.city']) {
      const o = await outcome(() => r.distinct(key, { _id: a.id }));
      // Correct: a DecryptionError (default) or an UndecryptableValue (opt-in), as a find of the same document gives.
      const leaked = o.error ? [] : (o.value as unknown[]).filter((v) => v instanceof Binary && v.sub_type === 6);
      if (leaked.length > 0) wrong.push(`${policy} distinct('${key}') returned ${leaked.length} ciphertext(s) (Binary subtype 6) as values`);
      else if (policy === 'default' && (o.error as { code?: string } | undefined)?.code !== 'DECRYPT_MISPLACED') wrong.push(`default distinct('${key}') gave ${o.error ? describe(o.error) : 'no error'}`);
      else if (policy === 'marker' && !(o.value as unknown[] | undefined)?.some((v) => v instanceof UndecryptableValue)) wrong.push(`marker distinct('${key}') gave ${o.error ? describe(o.error) : 'no marker'}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

requires('dottedKeys', test.serial)('ciphertext under a dotted key inside a free-form object is marked where it is stored, not at the value its dotted path also names (fixed: the reader put a marker by splitting its path on dots)', async (t) => {
  const a = await repo().insertOne({ name: 'a', extra: { x: { y: 'plain' } } });
  const donor = await repo().insertOne({ phone: 'p', ssn: 's' });
  const cipher = (await storedRaw(donor._id)).phone;
  await coll().updateOne({ _id: a._id }, { $set: { extra: { 'x.y': cipher, x: { y: 'plain' }, 'q.r': cipher } } });
  const read = await outcome(() => lenient().findById(a._id));
  t.is(read.error, undefined, `the read threw ${describe(read.error)}`);
  const e = read.value as any;
  t.true(e.extra['x.y'] instanceof UndecryptableValue, 'the ciphertext at extra["x.y"] is marked');
  t.true(e.extra['q.r'] instanceof UndecryptableValue, 'the ciphertext at extra["q.r"] is marked');
  t.is(e.extra.x.y, 'plain', 'the plain value at extra.x.y is left alone');
});

// ---------------------------------------------------------------------------------------------
// What held (these pass)
// ---------------------------------------------------------------------------------------------

test.serial('held: moved, swapped, reordered, duplicated, forged, wrapped or subclassed markers are refused by save(); nothing is sent and the stored document stays byte for byte', async (t) => {
  // A subclass whose toBSON (on its prototype) would write something else: the marker's own toBSON still answers.
  const Sub = class extends (UndecryptableValue as new (...args: ConstructorParameters<typeof UndecryptableValue>) => object) {};
  Object.defineProperty(Sub.prototype, 'toBSON', { value: () => 'evil' });
  const changes: Array<[string, (e: any) => void]> = [
    ['swap ssn/ssn2 (the same ciphertext planted in both)', (e) => { const m = e.ssn; e.ssn = e.ssn2; e.ssn2 = m; }],
    ['swap list.1/list.2 (same ciphertext)', (e) => { e.list.reverse(); }],
    ['swap items secrets (same ciphertext)', (e) => { const m = e.items[0].secret; e.items[0].secret = e.items[1].secret; e.items[1].secret = m; }],
    ['reverse items', (e) => { e.items.reverse(); }],
    ['splice items[0]', (e) => { e.items.splice(0, 1); }],
    ['duplicate a list marker', (e) => { e.list.push(e.list[1]); }],
    ['marker into a Map', (e) => { e.extra.deep[1] = new Map([['x', e.extra.deep[1].x]]); }],
    ['Object.create(marker)', (e) => { e.whole = Object.create(e.whole); }],
    ['Proxy around the marker', (e) => { e.whole = new Proxy(e.whole, {}); }],
    ['subclass with its own toBSON', (e) => { e.whole = new Sub('whole', e.whole.keyId, e.whole.algorithm, e.whole.reason); }],
    ['forged marker', (e) => { e.ssn = new UndecryptableValue('ssn', e.ssn.keyId, e.ssn.algorithm, e.ssn.reason); }],
  ];
  for (const [name, change] of changes) {
    const a = await withMarkers(base(), all);
    const e = await lenient().findById(a.id);
    change(e);
    e.name = 'n';
    sent.length = 0;
    t.is(await outcomeOf(lenient().save(e)), 'INPUT_UNDECRYPTABLE_WRITE_BACK', name);
    t.is(writes().length, 0, name);
    t.true(bytesOf(await storedRaw(a.id)).equals(bytesOf(a.before)), name);
  }
});

test.serial('held: markers of the same stored value (a second findOne, find(), distinct on a Deterministic field) swapped in; frozen; deleted and restored: save() sends only the other change', async (t) => {
  const changes: Array<[string, (e: any, id: ObjectId) => Promise<void>]> = [
    ['swap with a second read of the document, both saved', async (e, id) => { const e2 = await lenient().findById(id); const m = e.ssn; e.ssn = e2.ssn; e2.ssn = m; e2.name = 'other'; await lenient().save(e2); }],
    ['marker from find()', async (e, id) => { const [f] = await lenient().find({ _id: id }).toArray(); e.ssn = f.ssn; }],
    ['frozen marker', async (e) => { Object.freeze(e.whole); }],
    ['own toBSON on the marker where it was read (it cannot be redefined)', async (e) => { t.throws(() => Object.defineProperty(e.whole, 'toBSON', { value: () => 'evil' }), { instanceOf: TypeError }); }],
    ['deleted and restored', async (e) => { const m = e.ssn; delete e.ssn; e.ssn = m; }],
  ];
  for (const [name, change] of changes) {
    const a = await withMarkers(base(), all);
    const e = await lenient().findById(a.id);
    await change(e, a.id);
    e.name = 'n';
    sent.length = 0;
    t.is(await outcomeOf(lenient().save(e)), 'ok', name);
    t.deepEqual(writes().map((w) => Object.keys(w.command.updates[0].u.$set ?? {}).concat(Object.keys(w.command.updates[0].u.$unset ?? {}))), [['name']], name);
    const after = await storedRaw(a.id);
    for (const k of ['ssn', 'ssn2', 'whole', 'extra', 'list', 'addr', 'items']) t.true(bytesOf(after[k]).equals(bytesOf(a.before[k])), `${name}: ${k}`);
  }
  // A Deterministic field's distinct lists the marker; put into a document holding that ciphertext it stands for it.
  const d = await withMarkers({ name: 'd', phone: 'p' }, { phone: 'ssn' });
  const [marker] = await lenient().distinct('phone', { _id: d.id });
  t.true(marker instanceof UndecryptableValue);
  const e = await lenient().findById(d.id);
  e.phone = marker;
  e.name = 'n';
  t.is(await outcomeOf(lenient().save(e)), 'ok');
  t.true(bytesOf((await storedRaw(d.id)).phone).equals(bytesOf(d.before.phone)));
});

test.serial('held: after save(), a new ciphertext written behind the marker by another client is never overwritten; a marker of the new value is refused against the old snapshot', async (t) => {
  const a = await withMarkers(base(), all);
  const e = await lenient().findById(a.id);
  e.name = 'n1';
  await lenient().save(e);
  const donor = await repo().insertOne({ phone: 'other', ssn: 'o' });
  const c2 = (await storedRaw(donor._id)).phone;
  await coll().updateOne({ _id: a.id }, { $set: { ssn: c2 } });
  e.name = 'n2';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(e)), 'ok');
  t.deepEqual(Object.keys(writes()[0].command.updates[0].u.$set), ['name']);
  t.true(bytesOf((await storedRaw(a.id)).ssn).equals(bytesOf(c2)));
  e.ssn = (await lenient().findById(a.id)).ssn;
  e.name = 'n3';
  sent.length = 0;
  t.is(await outcomeOf(lenient().save(e)), 'INPUT_UNDECRYPTABLE_WRITE_BACK');
  t.is(writes().length, 0);
  t.true(bytesOf((await storedRaw(a.id)).ssn).equals(bytesOf(c2)));
});

test.serial('held: replaceOne, findOneAndReplace, bulkWrite replaceOne, insertOne, insertMany, updateOne $set/$push/$addToSet/$setOnInsert and filters refuse an entity or value holding a marker (typed, nothing sent)', async (t) => {
  const a = await withMarkers(base(), all);
  const e = await lenient().findById(a.id);
  const { _id, ...rest } = e;
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['replaceOne', () => lenient().replaceOne({ _id: a.id }, e)],
    ['findOneAndReplace', () => lenient().findOneAndReplace({ _id: a.id }, e)],
    ['bulkWrite replaceOne', () => lenient().bulkWrite([{ replaceOne: { filter: { _id: a.id }, replacement: e } }])],
    ['insertOne copy', () => lenient().insertOne(rest)],
    ['insertMany copy', () => lenient().insertMany([{ name: 'ok' }, rest])],
    ['updateOne $set', () => lenient().updateOne({ _id: a.id }, { $set: { ssn2: e.ssn } })],
    ['updateOne $push', () => lenient().updateOne({ _id: a.id }, { $push: { list: e.ssn } })],
    ['updateOne $addToSet', () => lenient().updateOne({ _id: a.id }, { $addToSet: { list: e.ssn } })],
    ['updateOne $setOnInsert', () => lenient().updateOne({ _id: new ObjectId() }, { $setOnInsert: { ssn: e.ssn } }, { upsert: true })],
    ['insert whole Map(marker)', () => lenient().insertOne({ whole: new Map([['k', e.ssn]]) })],
    ['find filter', () => lenient().find({ list: e.list[1] }).toArray()],
    ['aggregate $match', () => lenient().aggregate([{ $match: { name: e.ssn } }]).toArray()],
  ];
  for (const [name, call] of calls) {
    sent.length = 0;
    const r = await outcome(call);
    t.true(r.error instanceof StrongboxError, `${name}: ${describe(r.error)}`);
    t.is(writes().length, 0, name);
  }
  t.true(bytesOf(await storedRaw(a.id)).equals(bytesOf(a.before)));
});

test.serial('held: 300 markers in one untyped array: save() sends only the other change, three times', async (t) => {
  const paths: Record<string, 'phone'> = {};
  for (let i = 0; i < 300; i++) paths[`list.${i}`] = 'phone';
  const b = await withMarkers({ name: 'b', list: Array.from({ length: 300 }, (_, i) => i) }, paths);
  const e = await lenient().findById(b.id);
  for (let i = 0; i < 3; i++) {
    e.name = `n${i}`;
    sent.length = 0;
    t.is(await outcomeOf(lenient().save(e)), 'ok');
    t.deepEqual(writes().map((w) => w.command.updates[0].u), [{ $set: { name: `n${i}` } }]);
  }
  t.true(bytesOf((await storedRaw(b.id)).list).equals(bytesOf(b.before.list)));
});

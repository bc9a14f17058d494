/**
 * Round 41 (brief adv41, on 023cea1): update operands keep declared types; let / collation /
 * options. Plain JavaScript through the public API with command monitoring. Each FINDING test
 * asserts the correct behaviour and failed on 023cea1.
 *
 * Excluded (FerretDB, not findings): ±Infinity / NaN operands, decimal128 unencrypted, $push $sort
 * being ignored, `let` and collations unimplemented (only "refused before sending" is asserted for
 * those, never what the server does).
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Timestamp, type Document } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { describe, refusedBeforeSending, storedIn } from '../harness/adversary';
import { uniqueDbName } from '../harness/server';
import { typedBench } from '../harness/typedModel';

const DB = uniqueDbName(__filename);
const { sent, trepo, tcoll } = typedBench(DB, 'a41');
const WRITES = ['update', 'insert', 'findAndModify', 'delete'];
const QUERIES = ['find', 'aggregate', 'count', 'distinct', ...WRITES];
const tagOf = (v: unknown) => (v as { _bsontype?: string } | null)?._bsontype ?? (v instanceof Date ? 'Date' : Array.isArray(v) ? 'array' : typeof v);


test.serial('FINDING-1 (generated): an upsert inserts the filter\'s equality values, and they keep the declared type: { l: 5 } stored an int in a long field and { d: 5 } an int in a double field (updateOne, findOneAndUpdate, bulkWrite updateOne/updateMany)', async (t) => {
  const via = ['updateOne', 'findOneAndUpdate', 'bulkOne', 'bulkMany'] as const;
  const wrong: string[] = [];
  let k = 0;
  await fc.assert(fc.asyncProperty(fc.constantFrom(['l', 'Long'], ['d', 'Double'], ['i', 'Int32']), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(...via), fc.boolean(), async ([name, declared], value, how, withEq) => {
    const key = `up${k++}`;
    const filter = { name: key, [name]: withEq ? { $eq: value } : value };
    const update = { $set: { s: 'q' } };
    const call = how === 'updateOne' ? () => trepo().updateOne(filter, update, { upsert: true })
      : how === 'findOneAndUpdate' ? () => trepo().findOneAndUpdate(filter, update, { upsert: true })
        : () => trepo().bulkWrite([{ [how === 'bulkOne' ? 'updateOne' : 'updateMany']: { filter, update, upsert: true } }]);
    const error = await call().then(() => undefined, (e: unknown) => e);
    if (error !== undefined && !(error instanceof StrongboxError)) wrong.push(`${how} ${name}=${value}: ${describe(error)}`);
    const stored = await tcoll().findOne({ name: key }, { promoteValues: false });
    if (stored && tagOf(stored[name]) !== declared) wrong.push(`${how} ${name}${withEq ? ' $eq' : ''} ${value}: stored ${tagOf(stored[name])}`);
  }), { numRuns: 40, seed: 4141 });
  t.deepEqual(wrong.slice(0, 5), [], wrong.slice(0, 5).join('\n'));
});

test.serial('FINDING-2: $currentDate stores the declared type: { $type: "timestamp" } on a date field stored a timestamp, and true on a timestamp field stored a date', async (t) => {
  const seeded = await trepo().insertOne({ when: new Date(1_000_000_000_000), ts: new Timestamp({ t: 100, i: 1 }) });
  for (const update of [{ $currentDate: { when: { $type: 'timestamp' } } }, { $currentDate: { ts: true } }, { $currentDate: { ts: { $type: 'date' } } }]) {
    await trepo().updateOne({ _id: seeded._id }, update).catch((e: unknown) => { if (!(e instanceof StrongboxError)) throw e; });
  }
  const stored = await storedIn(tcoll(), seeded._id);
  t.deepEqual({ when: tagOf(stored.when), ts: tagOf(stored.ts) }, { when: 'Date', ts: 'Timestamp' });
});

test.serial('FINDING-3: aggregate let variable names are what MongoDB accepts (start with a lowercase letter, letters/digits/_ only): "$a", "a.b", "X", "" and "ROOT" were forwarded for the server to refuse with an untyped error', async (t) => {
  const pipeline = [{ $match: { s: 'x' } }];
  const wrong = await refusedBeforeSending(sent, (['$a', 'a.b', 'X', '', 'ROOT', 'a-b'] as const).map((name) =>
    [`let name ${JSON.stringify(name)}`, () => trepo().aggregate(pipeline, { let: { [name]: 1 } }).toArray()] as [string, () => Promise<unknown>]), QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-4: numeric options are what the server accepts: maxTimeMS -1, 1.5 or 2^60 and batchSize -5 were forwarded and refused by the server with an untyped MongoServerError', async (t) => {
  const pipeline = [{ $match: { s: 'x' } }];
  const wrong = await refusedBeforeSending(sent, [
    ['aggregate maxTimeMS -1', () => trepo().aggregate(pipeline, { maxTimeMS: -1 }).toArray()],
    ['aggregate maxTimeMS 1.5', () => trepo().aggregate(pipeline, { maxTimeMS: 1.5 }).toArray()],
    ['aggregate maxTimeMS 2^60', () => trepo().aggregate(pipeline, { maxTimeMS: 2 ** 60 }).toArray()],
    ['aggregate batchSize -5', () => trepo().aggregate(pipeline, { batchSize: -5 }).toArray()],
    ['find maxTimeMS -1', () => trepo().find({ s: 'x' }, { maxTimeMS: -1 }).toArray()],
    ['count maxTimeMS 0.5', () => trepo().count({ s: 'x' }, { maxTimeMS: 0.5 } as Document)],
  ], QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-5: a path below a free-form object with a $-prefixed part ({ $set: { "obj.$x": 1 } }) is refused like the value { obj: { $x: 1 } }: it was sent and the server answered with an untyped MongoServerError', async (t) => {
  const seeded = await trepo().insertOne({ obj: { a: 1 } });
  const wrong = await refusedBeforeSending(sent, [
    ['$set obj.$x', () => trepo().updateOne({ _id: seeded._id }, { $set: { 'obj.$x': 1 } })],
    ['$max obj.a.$y', () => trepo().updateOne({ _id: seeded._id }, { $max: { 'obj.a.$y': 1 } })],
  ], WRITES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: operands, free-form values read once, and let / collation / sort / projection checks', async (t) => {
  const seeded = await trepo().insertOne({ obj: { a: 1 }, tags: ['a'], i: 3 });
  let n = 0;
  const flip = () => { const o: Record<string, unknown> = {}; Object.defineProperty(o, 'k', { enumerable: true, get: () => (n++ === 0 ? 1 : { $x: 1 }) }); return o; };
  let m = 0;
  const flipKeys = new Proxy({}, { ownKeys: () => (m++ === 0 ? ['a'] : ['$x']), getOwnPropertyDescriptor: () => ({ enumerable: true, configurable: true, value: 1 }), get: () => 1 });
  await trepo().updateOne({ _id: seeded._id }, { $set: { 'obj.g': flip(), 'obj.p': flipKeys } });
  t.deepEqual((await tcoll().findOne({ _id: seeded._id }))?.obj, { a: 1, g: { k: 1 }, p: { a: 1 } }, 'getters and Proxy keys are read once');
  const c = (r: unknown) => ({ toBSON: () => r });
  const wrong = await refusedBeforeSending(sent, [
    ['$rename d->i', () => trepo().updateOne({ _id: seeded._id }, { $rename: { d: 'i' } })],
    ['$currentDate i', () => trepo().updateOne({ _id: seeded._id }, { $currentDate: { i: true } })],
    ['$max tags.$[]', () => trepo().updateOne({ _id: seeded._id }, { $max: { 'tags.$[]': 5 } })],
    ['$set tags.$[x]', () => trepo().updateOne({ _id: seeded._id }, { $set: { 'tags.$[x]': 5 } }, { arrayFilters: [{ x: 'a' }] })],
    ['upsert filter i 1.5', () => trepo().updateOne({ name: 'h', i: 1.5 }, { $set: { s: 'x' } }, { upsert: true })],
    ['$setOnInsert i string', () => trepo().updateOne({ name: 'h' }, { $setOnInsert: { i: 'zz' } }, { upsert: true })],
    ['$min obj.q toBSON dotted', () => trepo().updateOne({ _id: seeded._id }, { $min: { 'obj.q': c({ 'a.b': 1 }) } })],
    ['$set obj toBSON -> Map', () => trepo().updateOne({ _id: seeded._id }, { $set: { obj: c(new Map([['$x', 1]])) } })],
    ['upsert filter obj toBSON', () => trepo().updateOne({ name: 'h', obj: c({ $x: 1 }) }, { $set: { s: 'q' } }, { upsert: true })],
    ['let toBSON $$ROOT', () => trepo().aggregate([], { let: { x: c('$$ROOT') } }).toArray()],
    ['let toBSON $$CURRENT.eref', () => trepo().aggregate([], { let: { x: c('$$CURRENT.eref') } }).toArray()],
    ['let $accumulator', () => trepo().aggregate([], { let: { x: { $accumulator: { init: 'function(){}', accumulate: 'function(){}', accumulateArgs: [], merge: 'function(){}', lang: 'js' } } } }).toArray()],
    ['collation locale toBSON', () => trepo().find({}, { collation: { locale: c('e\0n') } }).toArray()],
    ['sort eref', () => trepo().find({}, { sort: { eref: 1 } }).toArray()],
    ['projection toBSON $function', () => trepo().find({}, { projection: { x: c({ $function: { body: 'function(){return 1}', args: [], lang: 'js' } }) } }).toArray()],
  ], QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

/**
 * What an update creates keeps the document what the model says (src/repository/encoding/creation.ts):
 * an array index past the end or into a missing array, a dotted path into a missing embedded
 * document, an upsert's copied filter equalities, an upsert that would insert a document without
 * its required fields, $unset of an element, $rename through an element. Plain JavaScript through
 * the public API, every command watched; the stored documents are read back raw and checked
 * against the model.
 */
import test from 'ava';
import * as fc from 'fast-check';
import type { Document, ObjectId } from 'mongodb';
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, StrongboxError } from '../../src/index';
import { describe, refusedBeforeSending, untypedRepository, watchedClient } from '../harness/adversary';
import { nonconforming } from '../harness/conformance';
import { uniqueDbName } from '../harness/server';
import { Address } from '../harness/shapes';

const DB = uniqueDbName(__filename);

class Item {
  @Field({ bsonType: 'string' }) label!: string;
  @Field({ bsonType: 'int', optional: true }) count?: number;
  @Embedded(() => Address, { optional: true }) at?: Address;
}

@Model({ db: DB, collection: 'shapes', keyAltName: 'creation' })
class Shape {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) name!: string;
  @Field({ bsonType: 'int', optional: true }) n?: number;
  @ArrayField({ of: 'int', optional: true }) nums?: number[];
  @EmbeddedArray(() => Item, { optional: true }) items?: Item[];
  @Embedded(() => Address, { optional: true }) addr?: Address;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) ssn?: any;
}

const watched = watchedClient(DB, [Shape]);
const repo = () => untypedRepository(watched.client, Shape);
const coll = () => watched.raw.db(DB).collection('shapes');
const UPDATES = ['update', 'findAndModify'];

const isInt = (v: unknown) => (v as { _bsontype?: string } | null)?._bsontype === 'Int32';


const seed = (name: string): Document => ({ name, n: 1, nums: [1, 2], items: [{ label: 'a', count: 1 }], addr: { city: 'c', zip: 'z' } });

test.serial('an update through an array index applies only where the element exists: no null padding, no object for a missing array', async (t) => {
  const full = await repo().insertOne(seed('idx-full'));
  const bare = await repo().insertOne({ name: 'idx-bare' });
  const result = await repo().updateOne({ _id: full._id }, { $set: { 'nums.5': 7 } });
  t.is(result.matchedCount, 0, 'the array has no element 5: nothing matched, nothing padded');
  t.deepEqual((await coll().findOne({ _id: full._id }))!.nums, [1, 2]);
  t.is((await repo().updateOne({ _id: full._id }, { $set: { 'nums.1': 9 } })).modifiedCount, 1, 'an element that exists is set');
  t.deepEqual((await coll().findOne({ _id: full._id }))!.nums, [1, 9]);
  for (const update of [{ $set: { 'nums.0': 3 } }, { $inc: { 'items.0.count': 1 } }, { $set: { 'items.0.label': 'x' } }, { $max: { 'nums.0': 4 } }]) {
    t.is((await repo().updateOne({ _id: bare._id }, update)).matchedCount, 0, `${JSON.stringify(update)} on a document without the array`);
  }
  t.deepEqual(Object.keys((await coll().findOne({ _id: bare._id }))!).sort(), ['_id', 'name']);
  await repo().updateOne({ _id: full._id }, { $inc: { 'items.0.count': 2 } });
  t.is((await repo().findById(full._id))!.items[0].count, 3, 'an element that exists is incremented');
});

test.serial('a dotted path into a missing embedded document applies only where it exists, unless the update gives all its required fields', async (t) => {
  const bare = await repo().insertOne({ name: 'emb-bare' });
  t.is((await repo().updateOne({ _id: bare._id }, { $set: { 'addr.city': 'x' } })).matchedCount, 0, 'addr would be created without zip');
  t.false('addr' in (await coll().findOne({ _id: bare._id }))!);
  await repo().updateOne({ _id: bare._id }, { $set: { 'addr.city': 'x', 'addr.zip': 'y' } });
  t.deepEqual((await coll().findOne({ _id: bare._id }))!.addr, { city: 'x', zip: 'y' }, 'every required field given: created');
  t.is((await repo().updateOne({ _id: bare._id }, { $set: { 'addr.note': 'n' } })).modifiedCount, 1, 'addr exists now: set');
  const wrong = await refusedBeforeSending(watched.sent, [
    ['$set items.$[].at.city (no condition can say which elements have at)', () => repo().updateOne({ _id: bare._id }, { $set: { 'items.$[].at.city': 'x' } })],
  ], UPDATES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('$unset of an element of a typed array, and $rename through an element, are refused before sending', async (t) => {
  const doc = await repo().insertOne(seed('unset'));
  const wrong = await refusedBeforeSending(watched.sent, [
    ['$unset nums.0', () => repo().updateOne({ _id: doc._id }, { $unset: { 'nums.0': '' } })],
    ['$unset items.0', () => repo().updateOne({ _id: doc._id }, { $unset: { 'items.0': '' } })],
    ['$unset nums.$[]', () => repo().updateOne({ _id: doc._id }, { $unset: { 'nums.$[]': '' } })],
    ['$rename n to nums.0', () => repo().updateOne({ _id: doc._id }, { $rename: { n: 'nums.0' } })],
    ['$rename items.0.count to n', () => repo().updateOne({ _id: doc._id }, { $rename: { 'items.0.count': 'n' } })],
  ], UPDATES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  await repo().updateOne({ _id: doc._id }, { $unset: { 'items.0.count': '' } });
  t.deepEqual((await coll().findOne({ _id: doc._id }))!.items, [{ label: 'a' }], 'a field inside an element can still be unset');
});

test.serial('an upsert refuses, before sending, what would make the inserted document other than the model says', async (t) => {
  const wrong = await refusedBeforeSending(watched.sent, [
    ['no name anywhere', () => repo().updateOne({ n: 5 }, { $set: { nums: [1] } }, { upsert: true })],
    ['name only in $in', () => repo().updateOne({ name: { $in: ['a', 'b'] } }, { $set: { n: 1 } }, { upsert: true })],
    ['findOneAndUpdate without name', () => repo().findOneAndUpdate({ n: 5 }, { $set: { n: 6 } }, { upsert: true })],
    ['bulkWrite updateOne without name', () => repo().bulkWrite([{ updateOne: { filter: { n: 5 }, update: { $set: { n: 6 } }, upsert: true } }])],
    ['filter nums: 3', () => repo().updateOne({ name: 'u', nums: 3 }, { $set: { n: 1 } }, { upsert: true })],
    ['filter nums $eq 3', () => repo().updateOne({ name: 'u', nums: { $eq: 3 } }, { $set: { n: 1 } }, { upsert: true })],
    ['filter nums $all [3]', () => repo().updateOne({ name: 'u', nums: { $all: [3] } }, { $set: { n: 1 } }, { upsert: true })],
    ['filter nums $in [3]', () => repo().updateOne({ name: 'u', nums: { $in: [3] } }, { $set: { n: 1 } }, { upsert: true })],
    ['filter $or [{ nums: 3 }]', () => repo().updateOne({ name: 'u', $or: [{ nums: 3 }] }, { $set: { n: 1 } }, { upsert: true })],
    ['filter $and [{ nums: 3 }]', () => repo().updateOne({ $and: [{ name: 'u' }, { nums: 3 }] }, { $set: { n: 1 } }, { upsert: true })],
    ['filter n: null', () => repo().updateOne({ name: 'u', n: null }, { $set: { nums: [1] } }, { upsert: true })],
    ['filter n $in [null]', () => repo().updateOne({ name: 'u', n: { $in: [null] } }, { $set: { nums: [1] } }, { upsert: true })],
    ['filter items: one element', () => repo().updateOne({ name: 'u', items: { label: 'a' } }, { $set: { n: 1 } }, { upsert: true })],
    ['filter items.label', () => repo().updateOne({ name: 'u', 'items.label': 'a' }, { $set: { n: 1 } }, { upsert: true })],
    ['filter items.0.label', () => repo().updateOne({ name: 'u', 'items.0.label': 'a' }, { $set: { n: 1 } }, { upsert: true })],
    ['filter nums.0', () => repo().updateOne({ name: 'u', 'nums.0': 3 }, { $set: { n: 1 } }, { upsert: true })],
    ['filter addr.city only', () => repo().updateOne({ name: 'u', 'addr.city': 'c' }, { $set: { n: 1 } }, { upsert: true })],
    ['filter extra: 5', () => repo().updateOne({ name: 'u', extra: 5 }, { $set: { n: 1 } }, { upsert: true })],
    ['$set nums.0', () => repo().updateOne({ name: 'u' }, { $set: { 'nums.0': 3 } }, { upsert: true })],
    ['$setOnInsert items.0.label', () => repo().updateOne({ name: 'u' }, { $setOnInsert: { 'items.0.label': 'x' } }, { upsert: true })],
    ['$set addr.city only', () => repo().updateOne({ name: 'u' }, { $set: { 'addr.city': 'x' } }, { upsert: true })],
  ], UPDATES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  t.is(await coll().countDocuments({ name: 'u' }), 0);
});

test.serial('an upsert that gives what the model needs inserts it: equalities, $elemMatch, whole arrays and documents, $setOnInsert', async (t) => {
  await repo().updateOne({ name: 'ok-1', nums: { $elemMatch: { $eq: 3 } }, 'extra.k': 1 }, { $setOnInsert: { nums: [3] } }, { upsert: true });
  await repo().updateOne({ name: 'ok-2', items: [{ label: 'a' }], 'addr.city': 'c', 'addr.zip': 'z', ssn: '123-45-6789' }, { $inc: { n: 2 } }, { upsert: true });
  await repo().updateOne({ n: { $exists: false }, name: { $in: ['x', 'y'] } }, { $setOnInsert: { name: 'ok-3' } }, { upsert: true });
  const stored = await coll().find({ name: /^ok-/ }, { promoteValues: false }).sort({ name: 1 }).toArray();
  t.deepEqual(stored.map((d) => d.name), ['ok-1', 'ok-2', 'ok-3']);
  for (const doc of stored) t.deepEqual(nonconforming(Shape, doc), [], doc.name);
  t.deepEqual(stored[1].items, [{ label: 'a' }]);
  t.true(isInt(stored[1].n), 'the $inc of a missing int field stores an int');
  t.deepEqual(stored[1].addr, { city: 'c', zip: 'z' });
  t.is((await repo().findOne({ ssn: '123-45-6789' }))!.name, 'ok-2', 'a Deterministic equality is copied as its ciphertext');
});

/* ---- generated: any update a caller might write leaves every stored document as the model says ---- */

const PATHS = ['n', 'nums', 'nums.0', 'nums.1', 'nums.4', 'nums.$[]', 'items', 'items.0', 'items.3', 'items.0.label', 'items.2.label', 'items.0.count', 'items.$[].count',
  'items.0.at', 'items.0.at.city', 'addr', 'addr.city', 'addr.zip', 'addr.note', 'extra', 'extra.k'] as const;
const anyValueArb = fc.oneof(
  fc.integer({ min: -2, max: 5 }), fc.constantFrom(null, 'a', 'c', [], [1], [1, 2], { label: 'l' }, { city: 'c', zip: 'z' }, { city: 'c' }, { k: 1 }, [{ label: 'l', count: 2 }]),
);
const addressArb = fc.constantFrom({ city: 'c', zip: 'z' }, { city: 'd', zip: 'y', note: 'n' }, { city: 'c' });
const itemArb = fc.record({ label: fc.constantFrom('l', 'm'), count: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['label'] });
/** A value of the path's declared type most of the time, anything otherwise. */
const valueFor = (path: string): fc.Arbitrary<unknown> => {
  const last = path.slice(path.lastIndexOf('.') + 1);
  const typed = last === 'n' || last === 'count' || /^nums\.(\d+|\$\[\])$/.test(path) ? fc.integer({ min: -2, max: 5 })
    : last === 'nums' ? fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 })
      : last === 'items' ? fc.array(itemArb, { maxLength: 2 })
        : /^items\.\d+$/.test(path) ? itemArb
          : last === 'addr' || last === 'at' ? addressArb
            : last === 'extra' ? fc.constantFrom({ k: 1 }, {})
              : path === 'extra.k' ? anyValueArb : fc.constantFrom('a', 'c', 'z');
  return fc.oneof({ weight: 5, arbitrary: typed }, { weight: 1, arbitrary: anyValueArb });
};
const pathValueArb = fc.constantFrom(...PATHS).chain((path) => valueFor(path).map((value) => [path, value] as const));
const isNumberPath = (path: string) => /(^n|\.count|^nums\.(\d+|\$\[\]))$/.test(path);
const isArrayPath = (path: string) => path === 'nums' || path === 'items';
/** An operator that fits the path most of the time (any operator otherwise), with its operand. */
const updateEntryArb = pathValueArb.chain(([path, value]) => {
  const fitting = ['$set', '$set', '$setOnInsert', '$unset', ...(isNumberPath(path) ? ['$inc', '$max'] : []), ...(isArrayPath(path) ? ['$push'] : [])];
  return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...fitting) }, { weight: 1, arbitrary: fc.constantFrom('$inc', '$push', '$rename') }).map((op) => {
    const element = op === '$push' ? (path === 'nums' ? (typeof value === 'number' ? value : 1) : { label: 'p' }) : value;
    return [op, path, op === '$unset' ? '' : op === '$rename' ? (typeof value === 'string' ? 'n' : 'addr.note') : element] as const;
  });
});
const updateArb = fc.array(updateEntryArb, { minLength: 1, maxLength: 2 }).map((entries) => {
  const update: Document = {};
  for (const [op, path, operand] of entries) (update[op] ??= {})[path] = operand;
  return update;
});
const filterArb = fc.array(pathValueArb.filter(([p]) => !p.includes('$')).chain(([path, value]) => fc.constantFrom('eq', '$eq', '$in1', '$exists', ...(isArrayPath(path) ? ['$all', '$elemMatch'] : [])).map((how) => [path, value, how] as const)), { maxLength: 2 }).map((entries) => {
  const filter: Document = {};
  for (const [path, value, how] of entries) {
    const element = Array.isArray(value) ? value[0] ?? 1 : value;
    filter[path] = how === 'eq' ? value : how === '$in1' ? { $in: [value] } : how === '$all' ? { $all: [element] } : how === '$elemMatch' ? { $elemMatch: path === 'items' ? { label: 'l' } : { $eq: element } } : how === '$exists' ? { $exists: typeof value === 'number' } : { $eq: value };
  }
  return filter;
});

test.serial('generated: updates and upserts (any operator, path, value and filter) leave every stored document as the model says, or are refused with a StrongboxError', async (t) => {
  const problems: string[] = [];
  let sentCount = 0;
  let refusedCount = 0;
  const codes = new Map<string, number>();
  await fc.assert(fc.asyncProperty(updateArb, filterArb, fc.constantFrom('updateOne', 'updateMany', 'findOneAndUpdate', 'bulkWrite'), fc.boolean(), async (update, filter, how, upsert) => {
    await coll().deleteMany({});
    await repo().insertOne(seed('g'));
    await repo().insertOne({ name: 'g' });
    await repo().insertOne({ name: 'g', nums: [], items: [] });
    const scoped = { name: 'g', ...filter };
    const options = { upsert };
    const call = how === 'bulkWrite' ? () => repo().bulkWrite([{ updateOne: { filter: scoped, update, upsert } }])
      : how === 'findOneAndUpdate' ? () => repo().findOneAndUpdate(scoped, update, options) : () => repo()[how](scoped, update, options);
    const error = await call().then(() => undefined, (e: unknown) => e);
    if (error === undefined) sentCount++;
    else if (error instanceof StrongboxError) { refusedCount++; codes.set(error.code, (codes.get(error.code) ?? 0) + 1); }
    else if (!/MongoServerError|MongoBulkWriteError/.test((error as Error).constructor.name)) problems.push(`${how} ${JSON.stringify(scoped)} ${JSON.stringify(update)}: ${describe(error)}`);
    for (const doc of await coll().find({}, { promoteValues: false }).toArray()) {
      const wrong = nonconforming(Shape, doc);
      if (wrong.length) problems.push(`${how}${upsert ? ' upsert' : ''} ${JSON.stringify(scoped)} ${JSON.stringify(update)}: ${wrong.join('; ')}`);
    }
  }), { numRuns: 300, seed: 4343 });
  t.log(`generated calls: ${sentCount} sent, ${refusedCount} refused (${[...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')})`);
  t.true(sentCount > 30 && refusedCount > 30, 'the generator reaches both outcomes');
  t.deepEqual(problems.slice(0, 6), [], problems.slice(0, 6).join('\n'));
});

import { BSONSymbol, Code, Decimal128, MaxKey, MinKey, MongoClient } from 'mongodb';

/**
 * Server features some tests need and FerretDB v1 lacks. The runner probes the real server
 * once and passes the answer to the ava workers in STRONGBOX_TEST_FEATURES, so test files can
 * decide synchronously, at registration, whether a test runs or is a named skip.
 */
export const probes = {
  validators: 'a $jsonSchema validator on create',
  collMod: 'the collMod command',
  partialIndexes: 'partial indexes (partialFilterExpression)',
  transactions: 'multi-document transactions',
  lookup: 'the $lookup aggregation stage',
  elemMatchDocuments: '$elemMatch with field conditions on embedded documents',
  arrayFilters: 'arrayFilters in updates',
  positionalOperator: 'the positional $ update operator',
  pullDocumentCondition: '$pull with a condition on embedded documents',
  groupAccumulators: 'the $push/$first/$addToSet accumulators of $group',
  changeStreams: 'change streams (a replica set or sharded cluster with the $changeStream stage)',
  numericAccumulators: 'the $avg/$min/$max accumulators of $group, and $sum of a field',
  expressionOperators: 'computing expression operators ($add, $size, $toUpper) in $project and $addFields',
  movedFields: 'field paths ("$name") as values in $project and $addFields (FerretDB v1 returns them as literal strings)',
  exoticPlainTypes: 'storing decimal128, JavaScript code, symbol, MinKey and MaxKey values unencrypted',
  dottedKeys: 'storing field names that contain dots (MongoDB 5.0+)',
} as const;
export type Feature = keyof typeof probes;

export async function probeFeatures(client: MongoClient): Promise<Feature[]> {
  const db = client.db(`sb_probe_${process.pid}`);
  const checks: Record<Feature, () => Promise<unknown>> = {
    validators: () => db.createCollection('v', { validator: { $jsonSchema: { bsonType: 'object' } } }),
    collMod: async () => { await db.createCollection('m'); await db.command({ collMod: 'm', validator: {} }); },
    partialIndexes: () => db.collection('p').createIndex({ k: 1 }, { partialFilterExpression: { k: { $exists: true } } }),
    transactions: async () => {
      const session = client.startSession();
      try { await session.withTransaction(() => db.collection('t').insertOne({ a: 1 }, { session })); } finally { await session.endSession(); }
    },
    lookup: () => db.collection('l').aggregate([{ $lookup: { from: 'p', localField: 'a', foreignField: 'a', as: 'j' } }]).toArray(),
    elemMatchDocuments: async () => {
      await db.collection('e').insertOne({ a: [{ k: 1, p: 2 }] });
      if (!(await db.collection('e').findOne({ a: { $elemMatch: { k: 1, p: 2 } } }))) throw new Error('no match');
    },
    positionalOperator: () => db.collection('e').updateOne({ 'a.k': 1 }, { $set: { 'a.$.p': 4 } }),
    arrayFilters: () => db.collection('e').updateOne({}, { $set: { 'a.$[x].p': 3 } }, { arrayFilters: [{ 'x.k': 1 }] }),
    pullDocumentCondition: async () => {
      // A partial condition: servers that only pull exact element matches fail this.
      await db.collection('q').insertOne({ a: [{ k: 1, p: 1 }, { k: 2, p: 2 }] });
      const r = await db.collection('q').updateOne({}, { $pull: { a: { k: 1 } } as never });
      if (r.modifiedCount !== 1) throw new Error('not pulled');
    },
    groupAccumulators: () => db.collection('e').aggregate([{ $group: { _id: null, a: { $push: '$a' }, f: { $first: '$a' }, s: { $addToSet: '$a' } } }]).toArray(),
    changeStreams: async () => {
      const stream = db.collection('c').watch([], { maxAwaitTimeMS: 1 });
      try { await stream.tryNext(); } finally { await stream.close(); }
    },
    numericAccumulators: async () => {
      await db.collection('n').insertMany([{ a: 1 }, { a: 2 }]);
      const [doc] = await db.collection('n').aggregate([{ $group: { _id: null, a: { $avg: '$a' }, l: { $min: '$a' }, h: { $max: '$a' }, s: { $sum: '$a' } } }]).toArray();
      if (doc?.s !== 3) throw new Error('$sum of a field');
    },
    movedFields: async () => {
      await db.collection('f').insertOne({ a: 1 });
      const [doc] = await db.collection('f').aggregate([{ $project: { b: '$a' } }]).toArray();
      if (doc?.b !== 1) throw new Error('field path read as a literal');
    },
    dottedKeys: () => db.collection('k').insertOne({ a: { 'x.y': 1 } }),
    expressionOperators: () => db.collection('e').aggregate([{ $addFields: { n: { $add: [1, { $size: '$a' }] }, u: { $toUpper: 'x' } } }]).toArray(),
    // Last: FerretDB v1 drops the connection when it meets these types.
    exoticPlainTypes: () => db.collection('x').insertOne({ d: Decimal128.fromString('1.5'), c: new Code('x'), s: new BSONSymbol('s'), lo: new MinKey(), hi: new MaxKey() }),
  };
  const supported: Feature[] = [];
  for (const [feature, check] of Object.entries(checks) as [Feature, () => Promise<unknown>][]) {
    try { await check(); supported.push(feature); } catch { /* unsupported */ }
  }
  await db.dropDatabase().catch(() => undefined);
  return supported;
}

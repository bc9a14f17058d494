import { MongoClient } from 'mongodb';

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
  };
  const supported: Feature[] = [];
  for (const [feature, check] of Object.entries(checks) as [Feature, () => Promise<unknown>][]) {
    try { await check(); supported.push(feature); } catch { /* unsupported */ }
  }
  await db.dropDatabase().catch(() => undefined);
  return supported;
}

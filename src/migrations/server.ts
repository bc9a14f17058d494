import type { MongoClient } from 'mongodb';

/**
 * Server features some migration steps need and some MongoDB-compatible servers lack. (No step
 * needs transactions: every step is idempotent and resumable on its own.)
 */
export type ServerFeature = 'collMod' | 'partialIndexes';

export const FEATURE_NAMES: Record<ServerFeature, string> = {
  collMod: 'the collMod command (setting a validator on an existing collection)',
  partialIndexes: 'partial indexes (partialFilterExpression)',
};

export interface ServerInfo {
  /** e.g. "MongoDB 7.0.14" or "FerretDB v1.24.2 (MongoDB 7.0.42 wire compatible)". */
  description: string;
  /** FerretDB runs one whole-collection scan per update or delete statement. */
  isFerretDb: boolean;
  /** Features this server is known to lack, for dry runs (a real run learns it from the server's answer). */
  knownGaps: ReadonlySet<ServerFeature>;
}

/** FerretDB v1 implements neither (nor validators or transactions); v2 (on DocumentDB) has them. */
const FERRETDB_V1_GAPS: ServerFeature[] = ['collMod', 'partialIndexes'];

export async function probeServer(client: MongoClient): Promise<ServerInfo> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  const ferret = typeof info.ferretdbVersion === 'string' ? info.ferretdbVersion as string : undefined;
  if (ferret) {
    const v1 = /^v?1\./.test(ferret);
    return {
      description: `FerretDB ${ferret} (MongoDB ${info.version} wire compatible)`,
      isFerretDb: true,
      knownGaps: new Set(v1 ? FERRETDB_V1_GAPS : []),
    };
  }
  return { description: `MongoDB ${info.version}`, isFerretDb: false, knownGaps: new Set() };
}

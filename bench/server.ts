import { MongoClient } from 'mongodb';
import { startLocalServer } from '../src/devserver/ferretdb';
import type { ServerKind } from './tasks';

export interface BenchServer {
  uri: string;
  kind: ServerKind;
  description: string;
  /** How the benchmark connects, for the report. */
  transport: string;
  stop(): Promise<void>;
}

/**
 * MONGODB_URI when set, otherwise a private FerretDB on 127.0.0.1. The benchmark uses the plain
 * port of the local server: TLS would cost the three implementations the same per byte and
 * round trip, and leaving it out keeps the comparison about the implementations.
 */
export async function benchServer(): Promise<BenchServer> {
  const given = process.env.MONGODB_URI;
  if (given) {
    const probe = new MongoClient(given, { serverSelectionTimeoutMS: 10_000 });
    try {
      const info = await probe.db('admin').command({ buildInfo: 1 });
      const ferret = info.ferretdbVersion ?? info.ferretdb?.version;
      return {
        uri: given,
        kind: ferret ? 'ferretdb' : 'mongodb',
        description: ferret ? `FerretDB ${ferret} (MONGODB_URI)` : `MongoDB ${info.version} (MONGODB_URI)`,
        transport: 'MONGODB_URI as given',
        stop: async () => undefined,
      };
    } finally {
      await probe.close();
    }
  }
  const local = await startLocalServer();
  return {
    uri: local.uri,
    kind: 'ferretdb',
    description: `${local.description}, SQLite backend, local process`,
    transport: 'plain TCP on 127.0.0.1 (the local server also has a TLS port; TLS costs all implementations alike, so it is left out)',
    stop: () => local.stop(),
  };
}

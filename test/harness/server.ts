import test, { type ExecutionContext, type SerialFn, type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { startLocalServer, pkiDir } from '../../src/devserver/ferretdb';
import { tlsFromEnv, type TestTls } from './env';
import { probes, type Feature } from './features';

export interface TestServer {
  /** TLS connection string (client certificate required on the local server). */
  readonly uri: string;
  readonly tls: TestTls;
  readonly description: string;
  readonly features: ReadonlySet<Feature>;
}

const FERRETDB_FEATURES: Feature[] = [];

let pending: Promise<TestServer> | undefined;

/**
 * The server every integration test talks to. Under `npm test` the runner has already started
 * it (or MONGODB_URI names a real MongoDB) and passes it through the environment; a test file run
 * on its own starts a private FerretDB, stopped when the worker exits.
 */
export function testServer(): Promise<TestServer> {
  pending ??= (async (): Promise<TestServer> => {
    const env = process.env;
    if (env.STRONGBOX_TEST_URI) {
      return {
        uri: env.STRONGBOX_TEST_URI,
        tls: JSON.parse(env.STRONGBOX_TEST_TLS ?? '{}'),
        description: env.STRONGBOX_TEST_SERVER ?? 'unknown',
        features: new Set(JSON.parse(env.STRONGBOX_TEST_FEATURES ?? '[]')),
      };
    }
    if (env.MONGODB_URI) {
      return { uri: env.MONGODB_URI, tls: tlsFromEnv(), description: 'MONGODB_URI', features: new Set(Object.keys(probes) as Feature[]) };
    }
    const server = await startLocalServer();
    process.once('beforeExit', () => void server.stop());
    return {
      uri: server.tlsUri,
      tls: { enabled: true, caFile: server.caFile, certificateKeyFile: server.clientCertificateKeyFile },
      description: server.description,
      features: new Set(FERRETDB_FEATURES),
    };
  })();
  return pending;
}

/** Each test file (and each call) gets its own database, so files can run in parallel. */
export function uniqueDbName(file: string, label = ''): string {
  const stem = basename(file).replace(/\.test\.js$/, '').replace(/[^a-zA-Z0-9]/g, '_').slice(0, 24);
  return `sb_${stem}${label ? `_${label}` : ''}_${randomBytes(3).toString('hex')}`;
}

function featuresAtRegistration(): Set<Feature> {
  const env = process.env;
  if (env.STRONGBOX_TEST_FEATURES) return new Set(JSON.parse(env.STRONGBOX_TEST_FEATURES));
  if (env.MONGODB_URI) return new Set(Object.keys(probes) as Feature[]);
  return new Set(FERRETDB_FEATURES);
}

/**
 * `requires('validators')('title', impl)`: registers the test when the server has the feature,
 * otherwise a named skip whose reason is printed, so nothing passes silently. The same test runs
 * for real when MONGODB_URI points at MongoDB.
 */
export function requires(feature: Feature, runner: TestFn | SerialFn = test) {
  const available = featuresAtRegistration().has(feature);
  return (title: string, impl: (t: ExecutionContext) => Promise<void> | void) => {
    if (available) return runner(title, impl);
    const reason = `server lacks ${probes[feature]}; runs for real with MONGODB_URI on MongoDB`;
    console.log(`SKIP ${title}: ${reason}`);
    return runner.skip(`${title} [skipped: ${reason}]`, impl);
  };
}

export { pkiDir, tlsFromEnv };

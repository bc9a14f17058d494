/**
 * `strongbox/testing`: a database for an app's integration tests. With MONGODB_URI set it is that
 * server (TLS files from MONGODB_TLS_CA_FILE and MONGODB_TLS_CERTIFICATE_KEY_FILE); otherwise a
 * private development server (FerretDB, TLS with a client certificate) on 127.0.0.1, installed into
 * the per-user cache on first use. Not part of the main entry point: production code never loads it.
 */
import { installDevTools } from './devserver/install';
import { startLocalServer } from './devserver/ferretdb';
import { resolveDevTools } from './devserver/tools';
import type { TlsOptions } from './tls/options';

/** A database an app's tests connect to, from startTestDatabase. */
export interface TestDatabase {
  /** Connection string for `createClient({ uri })`. */
  readonly uri: string;
  /** TLS options for `createClient({ tls })`. */
  readonly tls: TlsOptions;
  /** e.g. "FerretDB v1.24.2 (MongoDB 7.0.77 wire compatible)" or "MONGODB_URI". */
  readonly description: string;
  /** Stops the server this call started (nothing for MONGODB_URI). */
  stop(): Promise<void>;
}

/** Options of startTestDatabase. */
export interface TestDatabaseOptions {
  /** Progress lines of a first-time installation; default: standard error. */
  log?: (line: string) => void;
}

/**
 * Gives the app's tests a database: the server MONGODB_URI names, or a private development server
 * started (and, the first time, installed) for this process. Call `stop()` when the tests end.
 */
export async function startTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const env = process.env;
  if (env.MONGODB_URI) {
    const tls: TlsOptions = {
      ...(env.MONGODB_TLS_CA_FILE ? { caFile: env.MONGODB_TLS_CA_FILE } : {}),
      ...(env.MONGODB_TLS_CERTIFICATE_KEY_FILE ? { certificateKeyFile: env.MONGODB_TLS_CERTIFICATE_KEY_FILE } : {}),
    };
    return { uri: env.MONGODB_URI, tls, description: 'MONGODB_URI', stop: async () => undefined };
  }
  const tools = resolveDevTools();
  installDevTools(tools, options.log ?? ((line) => process.stderr.write(`strongbox/testing: ${line}\n`)));
  const server = await startLocalServer({ tools });
  return {
    uri: server.tlsUri,
    tls: { enabled: true, caFile: server.caFile, certificateKeyFile: server.clientCertificateKeyFile },
    description: server.description,
    stop: () => server.stop(),
  };
}

import type { TlsOptions } from '../../src';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';

export interface ExampleConnection {
  uri: string;
  tls: TlsOptions;
  stop(): Promise<void>;
}

/** MONGODB_URI when set; otherwise the embedded local server over TLS with a client certificate. */
export async function exampleConnection(): Promise<ExampleConnection> {
  if (process.env.MONGODB_URI) return { uri: process.env.MONGODB_URI, tls: {}, stop: async () => undefined };
  const local: LocalServer = await startLocalServer();
  return {
    uri: local.tlsUri,
    tls: { enabled: true, caFile: local.caFile, certificateKeyFile: local.clientCertificateKeyFile },
    stop: () => local.stop(),
  };
}

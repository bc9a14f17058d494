import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { StrongboxConfig } from '../../src/config/strongboxConfig';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { testServer } from './server';

/** A fresh 96-byte local master key in a private temporary file. */
export function masterKeyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'strongbox-key-')), 'master.key');
  writeFileSync(file, randomBytes(96).toString('base64'), { mode: 0o600 });
  return file;
}

/**
 * A Strongbox client on the test server over TLS (with the test client certificate), a private
 * master key and a key vault of its own, unless overridden.
 */
export async function testClient(models: Function[], overrides: Partial<StrongboxConfig> = {}): Promise<StrongboxClient> {
  const server = await testServer();
  return createClient({
    uri: server.uri,
    tls: server.tls,
    kms: { local: { keyFile: masterKeyFile() } },
    keyVault: { namespace: `sb_keys_${randomBytes(4).toString('hex')}.__keyVault` },
    models,
    environment: 'development',
    warn: () => undefined,
    ...overrides,
  });
}

/** A plain driver client (no decryption at all), to see what the server really stores. */
export async function rawClient(): Promise<MongoClient> {
  const server = await testServer();
  const tls = server.tls as { caFile?: string; certificateKeyFile?: string };
  const client = new MongoClient(server.uri, { tlsCAFile: tls.caFile, tlsCertificateKeyFile: tls.certificateKeyFile });
  await client.connect();
  return client;
}

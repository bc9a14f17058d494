/**
 * Fault: the key vault lives on a second server (keyVault: { uri, tls }), which is stopped.
 * Writes that need a data key not cached yet fail closed with a typed error and write nothing;
 * reads that need an uncached key fail with a DecryptionError naming the key vault; a client
 * cannot even be created. Keys already cached keep working (libmongocrypt keeps them 60 s).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Binary } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { ConfigError, DecryptionError, StrongboxError } from '../../src/errors';
import { masterKeyFile, rawClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { defineTenantRecord, labelledSecret } from './support';

const DB = uniqueDbName(__filename);

const TenantRecord = defineTenantRecord(DB);

const secret = labelledSecret;
const keyFile = masterKeyFile();
const namespace = `sb_vault_${randomBytes(3).toString('hex')}.__keyVault`;

let vault: LocalServer;
const open = async (): Promise<StrongboxClient> => {
  const server = await testServer();
  return createClient({
    uri: server.uri, tls: server.tls,
    kms: { local: { keyFile } },
    keyVault: { namespace, uri: vault.tlsUri, tls: { enabled: true, caFile: vault.caFile, certificateKeyFile: vault.clientCertificateKeyFile } },
    models: [TenantRecord],
    environment: 'development',
    warn: () => undefined,
    // The key vault's outage must show within seconds, not the driver's default 30.
    driverOptions: { serverSelectionTimeoutMS: 800, connectTimeoutMS: 800 },
  });
};

test.after.always(async () => { await vault?.stop(); });

test('key vault unreachable: uncached keys fail closed and nothing is written; cached keys keep working; reads fail clearly', async (t) => {
  vault = await startLocalServer();
  const writer = await open();
  const reader = await open();
  const raw = await rawClient();
  const records = raw.db(DB).collection('records');
  const written: string[] = [];
  try {
    const before = secret('before');
    written.push(before);
    await writer.repository(TenantRecord).insertOne({ tenant: 'acme', secret: before } as never);
    await vault.kill();

    // The writer holds acme's key id and key material: writing for acme needs no key vault.
    const cached = secret('cached');
    written.push(cached);
    await writer.repository(TenantRecord).insertOne({ tenant: 'acme', secret: cached } as never);
    t.is(await records.countDocuments({ tenant: 'acme' }), 2, 'a write with a cached key succeeds during the outage');

    // A new tenant needs a new key: fail closed.
    const fresh = secret('fresh');
    written.push(fresh);
    const newKey = await t.throwsAsync(writer.repository(TenantRecord).insertOne({ tenant: 'globex', secret: fresh } as never));
    t.true(newKey instanceof StrongboxError, `a typed error, got ${String(newKey)}`);
    t.regex(newKey!.message, /key vault/i);
    t.regex(newKey!.message, /globex/, 'the message names the key it needed');
    t.is(await records.countDocuments({ tenant: 'globex' }), 0, 'nothing was written');

    // The reader never loaded acme's key: the same write fails closed for it.
    const uncached = secret('uncached');
    written.push(uncached);
    const readerWrite = await t.throwsAsync(reader.repository(TenantRecord).insertOne({ tenant: 'acme', secret: uncached } as never));
    t.true(readerWrite instanceof StrongboxError, `a typed error, got ${String(readerWrite)}`);
    t.regex(readerWrite!.message, /key vault/i);
    t.is(await records.countDocuments({ tenant: 'acme' }), 2, 'nothing was written');

    // Reading needs the key too: a DecryptionError naming the key vault, never ciphertext passed off as a value.
    const readErr = await t.throwsAsync(reader.repository(TenantRecord).findOne({ tenant: 'acme' }), { instanceOf: DecryptionError });
    t.is(readErr!.code, 'DECRYPT_KEY_VAULT_UNREACHABLE');
    t.regex(readErr!.message, /key vault could not be read/);

    // A new client cannot start without its key vault.
    const startErr = await t.throwsAsync(open(), { instanceOf: ConfigError });
    t.is(startErr!.code, 'CONNECT_FAILED');
    t.regex(startErr!.message, /the key vault/);

    for (const err of [newKey, readerWrite, readErr, startErr]) {
      for (const value of written) t.false(String(err?.message).includes(value) || String(err?.stack).includes(value), 'no plaintext in errors');
    }
    // Whatever was stored is encrypted.
    for (const doc of await records.find({}).toArray()) t.true(doc.secret instanceof Binary && doc.secret.sub_type === 6);
  } finally {
    await Promise.all([writer.close(), reader.close(), raw.close()]);
  }
});

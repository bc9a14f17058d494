/**
 * The `kmip` KMS provider over TLS against a real KMIP server (PyKMIP), with the key vault on the
 * local MongoDB-compatible server, and the TLS settings built from Strongbox's KmsTlsOptions.
 */
import anyTest, { type TestFn } from 'ava';
import { readFileSync } from 'node:fs';
import { ClientEncryption, MongoClient } from 'mongodb';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { checkKmsTlsOptions, kmsTlsToDriverOptions } from '../../src/tls/kms';
import type { KmsTlsOptions } from '../../src/tls/options';
import { translateTlsError } from '../../src/tls/translate';
import { startKmipServer, type KmipServer } from '../harness/kmip';
import { pki } from '../harness/tlsFront';

const test = anyTest as TestFn<{ server: LocalServer; kmip: KmipServer; keyVaultClient: MongoClient }>;

test.before(async (t) => {
  const [server, kmip] = await Promise.all([startLocalServer(), startKmipServer()]);
  const keyVaultClient = new MongoClient(server.uri);
  await keyVaultClient.connect();
  t.context = { server, kmip, keyVaultClient };
});
test.after.always(async (t) => {
  await t.context.keyVaultClient?.close();
  await Promise.all([t.context.kmip?.stop(), t.context.server?.stop()]);
});

function encryptionWith(t: { context: { kmip: KmipServer; keyVaultClient: MongoClient } }, tls: KmsTlsOptions): ClientEncryption {
  const { errors } = checkKmsTlsOptions({ kmip: tls });
  if (errors.length > 0) throw errors[0];
  return new ClientEncryption(t.context.keyVaultClient, {
    keyVaultNamespace: 'encryption.__keyVault',
    kmsProviders: { kmip: { endpoint: t.context.kmip.endpoint } },
    tlsOptions: kmsTlsToDriverOptions({ kmip: tls }),
  });
}

test('a data key created in the KMIP server encrypts and decrypts a value', async (t) => {
  const encryption = encryptionWith(t, { caFile: pki('ca.pem'), certificateKeyFile: pki('client.pem') });
  const keyId = await encryption.createDataKey('kmip');
  const stored = await t.context.keyVaultClient.db('encryption').collection('__keyVault').findOne({ _id: keyId as never });
  t.is(stored?.masterKey?.provider, 'kmip', 'the data key is wrapped by a KMIP-held master key');
  for (const algorithm of ['AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic', 'AEAD_AES_256_CBC_HMAC_SHA_512-Random'] as const) {
    const ciphertext = await encryption.encrypt('123-45-6789', { keyId, algorithm });
    t.is(ciphertext.sub_type, 6);
    t.is(await encryption.decrypt(ciphertext), '123-45-6789');
  }
});

test('an encrypted client key for the KMS works with its passphrase', async (t) => {
  const passphrase = readFileSync(pki('client-encrypted.passphrase'), 'utf8').trim();
  const encryption = encryptionWith(t, { caFile: pki('ca.pem'), certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: passphrase });
  const keyId = await encryption.createDataKey('kmip');
  t.is(await encryption.decrypt(await encryption.encrypt(7, { keyId, algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random' })), 7);
});

test('a KMS whose certificate is not signed by the configured CA is refused with a clear error', async (t) => {
  const tls = { caFile: pki('other-ca.pem'), certificateKeyFile: pki('client.pem') };
  const err = await t.throwsAsync(encryptionWith(t, tls).createDataKey('kmip'));
  const translated = translateTlsError(err, { kms: { provider: 'kmip', tls }, address: t.context.kmip.endpoint });
  t.is(translated?.code, 'TLS_UNKNOWN_CA', String(err));
  t.regex(translated!.message, /kmip key management service at localhost:\d+/);
  t.regex(translated!.message, /other-ca\.pem/);
  t.regex(translated!.fix!, /`kmsTls\.kmip\.caFile` \(driver `tlsOptions\.kmip\.tlsCAFile`\)/);
  t.notRegex(translated!.fix!, /allowInvalidCertificates/, 'no insecure escape for KMS connections');
});

test('a KMS that requires a client certificate refuses a client without one, clearly', async (t) => {
  const tls = { caFile: pki('ca.pem') };
  const err = await t.throwsAsync(encryptionWith(t, tls).createDataKey('kmip'));
  const translated = translateTlsError(err, { kms: { provider: 'kmip', tls } });
  // PyKMIP speaks TLS 1.2 only, where a missing client certificate ends in handshake_failure.
  t.is(translated?.code, 'TLS_HANDSHAKE_FAILURE', String(err));
  t.regex(translated!.message, /requires a client certificate.*`kmsTls\.kmip\.certificateKeyFile`/);
});

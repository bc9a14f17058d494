/*
 * What Strongbox relies on below the driver's public API, pinned against the installed packages.
 * src/crypto/driverInternals.ts drives the driver's internal key/KMS state machine with the
 * binding's MongoCrypt, and src/crypto/engine.ts (classifyCryptError) tells failures apart by
 * the text of libmongocrypt's and the driver's messages. Neither is a published contract: when a
 * driver or binding upgrade changes them, these tests say what changed and where to look.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { Binary, BSON, ClientEncryption, MongoClient, type Document } from 'mongodb';
import { classifyCryptError, CryptoEngine, type UndecryptableReason } from '../../src/crypto/engine';
import { createNativeMongoCrypt, runContext, type NativeMongoCrypt } from '../../src/crypto/driverInternals';
import { EncryptionError } from '../../src/errors';
import { rawClient } from '../harness/client';

const versions = `mongodb ${require('mongodb/package.json').version}, mongodb-client-encryption ${require('mongodb-client-encryption/package.json').version}`;
const CHECK = `Installed: ${versions}. Check src/crypto/driverInternals.ts and classifyCryptError in src/crypto/engine.ts against this version's sources, then update them and this test together.`;
const DETERMINISTIC = 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic';

let client: MongoClient;
let keyVaultNamespace: string;
const masterKey = randomBytes(96);

test.before(async () => {
  client = await rawClient();
  keyVaultNamespace = `sb_contract_${randomBytes(4).toString('hex')}.__keyVault`;
});
test.after.always(async () => {
  await client?.db(keyVaultNamespace.split('.')[0]).dropDatabase().catch(() => undefined);
  await client?.close();
});

function encryptionWith(key: Buffer, keyVaultClient: MongoClient = client): ClientEncryption {
  return new ClientEncryption(keyVaultClient, { keyVaultNamespace, kmsProviders: { local: { key } } });
}

function nativeCrypt(key: Buffer): NativeMongoCrypt {
  return createNativeMongoCrypt({ local: { key } }, (doc: Document) => BSON.serialize(doc));
}

const keepAlive = new Set<NativeMongoCrypt>();

/** The raw error of decrypting `ciphertext` through a fresh libmongocrypt handle (no cached keys). */
async function rawDecryptFailure(t: ExecutionContext, key: Buffer, executor: ClientEncryption, ciphertext: Binary): Promise<unknown> {
  // The handle must outlive its context: the native context uses it until the run ends.
  const crypt = nativeCrypt(key);
  const context = crypt.makeExplicitDecryptionContext(BSON.serialize({ v: ciphertext }));
  try {
    await runContext(executor, context, {});
  } catch (err) {
    return err;
  } finally {
    keepAlive.add(crypt);
  }
  return t.fail(`Decrypting succeeded where it must fail. ${CHECK}`);
}

function classifiesAs(t: ExecutionContext, err: unknown, expected: UndecryptableReason, situation: string): void {
  const text = `${(err as Error)?.name}: ${(err as Error)?.message}`;
  t.is(classifyCryptError(err), expected,
    `The error for ${situation} no longer classifies as '${expected}'. It now reads: ${JSON.stringify(text)}. ${CHECK}`);
}

test('the driver\'s internal modules still have the shape Strongbox calls', (t) => {
  const modules = {
    'mongodb/lib/client-side-encryption/state_machine': ['StateMachine'],
    'mongodb/lib/client-side-encryption/crypto_callbacks': ['aes256CbcEncryptHook', 'aes256CbcDecryptHook', 'hmacSha512Hook', 'randomHook', 'sha256Hook'],
  };
  for (const [path, names] of Object.entries(modules)) {
    let loaded: Record<string, unknown> = {};
    t.notThrows(() => { loaded = require(path); }, `${path} can no longer be loaded. ${CHECK}`);
    for (const name of names) t.is(typeof loaded[name], 'function', `${path} no longer exports ${name}. ${CHECK}`);
  }
  const { StateMachine } = require('mongodb/lib/client-side-encryption/state_machine');
  t.is(typeof StateMachine?.prototype?.execute, 'function', `StateMachine.prototype.execute is gone. ${CHECK}`);
  const { MongoCrypt } = require('mongodb-client-encryption');
  // The rewrap context unwraps the keys Strongbox encrypts with; the explicit encryption context checks that both ciphers agree.
  for (const method of ['makeRewrapManyDataKeyContext', 'makeExplicitEncryptionContext', 'makeDecryptionContext', 'makeExplicitDecryptionContext']) {
    t.is(typeof MongoCrypt?.prototype?.[method], 'function', `The binding's MongoCrypt.${method} is gone. ${CHECK}`);
  }
});

test('the state machine runs Strongbox\'s contexts: same ciphertext as the public API, and back', async (t) => {
  const encryption = encryptionWith(masterKey);
  const keyId = await encryption.createDataKey('local');
  const engine = new CryptoEngine(encryption, { local: { key: masterKey } }, {});
  const ours = await engine.encrypt('6789', 'Deterministic', keyId);
  const theirs = await encryption.encrypt('6789', { keyId, algorithm: DETERMINISTIC });
  t.true(Buffer.from(ours.buffer).equals(Buffer.from(theirs.buffer)),
    `Deterministic ciphertext made through the internal state machine differs from ClientEncryption.encrypt. ${CHECK}`);
  t.is(await engine.decryptValue(theirs), '6789', `Decrypting through the internal state machine failed. ${CHECK}`);
  const { docs, failures } = await engine.decryptDocuments([{ a: ours, n: 1 }, { a: theirs, n: 2 }]);
  t.deepEqual({ docs, failures: failures.size }, { docs: [{ a: '6789', n: 1 }, { a: '6789', n: 2 }], failures: 0 },
    `Decrypting a batch of documents in one context changed. ${CHECK}`);
});

test('a data key missing from the key vault is told apart by its message', async (t) => {
  const encryption = encryptionWith(masterKey);
  const keyId = await encryption.createDataKey('local');
  const ciphertext = await encryption.encrypt('gone', { keyId, algorithm: DETERMINISTIC });
  await encryption.deleteKey(keyId);
  classifiesAs(t, await rawDecryptFailure(t, masterKey, encryptionWith(masterKey), ciphertext), 'missing-key', 'a data key missing from the key vault');
});

test('a data key wrapped by another master key is told apart by its message', async (t) => {
  const encryption = encryptionWith(masterKey);
  const keyId = await encryption.createDataKey('local');
  const ciphertext = await encryption.encrypt('wrapped', { keyId, algorithm: DETERMINISTIC });
  const otherMasterKey = randomBytes(96);
  classifiesAs(t, await rawDecryptFailure(t, otherMasterKey, encryptionWith(otherMasterKey), ciphertext), 'wrong-master-key', 'a data key wrapped by another master key');
});

test('an unreachable key vault is told apart by the driver\'s error name', async (t) => {
  const encryption = encryptionWith(masterKey);
  const keyId = await encryption.createDataKey('local');
  const ciphertext = await encryption.encrypt('vault', { keyId, algorithm: DETERMINISTIC });
  // Port 1 on loopback: nothing listens, so server selection fails fast and stays local.
  const unreachable = new MongoClient('mongodb://127.0.0.1:1/', { serverSelectionTimeoutMS: 300 });
  try {
    classifiesAs(t, await rawDecryptFailure(t, masterKey, encryptionWith(masterKey, unreachable), ciphertext), 'key-vault-unreachable', 'an unreachable key vault');
  } finally {
    await unreachable.close();
  }
});

test('an unreachable KMS is told apart by its message', async (t) => {
  const encryption = new ClientEncryption(client, {
    keyVaultNamespace,
    kmsProviders: { aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'not-a-secret' } },
  });
  // A KMS endpoint on loopback port 1, where nothing listens (libmongocrypt wants a dotted host).
  const err = await t.throwsAsync(encryption.createDataKey('aws', {
    masterKey: { region: 'us-east-1', key: 'arn:aws:kms:us-east-1:000000000000:key/contract', endpoint: '127.0.0.1:1' },
  }));
  classifiesAs(t, err, 'kms-unreachable', 'an unreachable KMS');
});

test('values libmongocrypt or BSON refuse keep their codes', async (t) => {
  const encryption = encryptionWith(masterKey);
  const keyId = await encryption.createDataKey('local');
  const engine = new CryptoEngine(encryption, { local: { key: masterKey } }, {});
  const refused = async (value: unknown, algorithm: 'Deterministic' | 'Random', code: string, situation: string) => {
    const err = await t.throwsAsync(engine.encrypt(value, algorithm, keyId), { instanceOf: EncryptionError });
    t.is<string, string>(err!.code, code, `${situation} is no longer recognised by its message (now ${JSON.stringify(String((err!.cause as Error)?.message))}). ${CHECK}`);
  };
  await refused(1.5, 'Deterministic', 'ENCRYPT_TYPE_REFUSED', 'Deterministic encryption of a double');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await refused(cyclic, 'Random', 'ENCRYPT_VALUE_CYCLIC', 'A cyclic value');
});

/*
 * The `aws` KMS provider for real: data keys wrapped by a master key in an AWS KMS emulator
 * (moto's server behind a TLS front with the test CA, reached through the master key's
 * `endpoint`), used through a model, rotated local → AWS → local, and failing closed when the
 * KMS is down or presents a certificate the client does not trust.
 */
import anyTest, { type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import type { ObjectId } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { MasterKeyDescription, StrongboxConfig } from '../../src/config/strongboxConfig';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { DecryptionError, EncryptionError, KeyError } from '../../src/errors';
import { listKeys } from '../../src/keys/keys';
import { createKey } from '../../src/keys/manage';
import { rewrapKeys } from '../../src/keys/rotate';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { translateTlsError } from '../../src/tls/translate';
import { startAwsKmsEmulator, type AwsKmsEmulator } from '../harness/awsKms';
import { masterKeyFile } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { pki } from '../harness/tlsFront';

const test = anyTest as TestFn<{ aws: AwsKmsEmulator }>;
const DB = uniqueDbName(__filename);

test.before(async (t) => {
  t.context.aws = await startAwsKmsEmulator();
});
test.after.always(async (t) => {
  await t.context.aws?.stop();
});

/** A model per database, so the tests (which ava runs concurrently) never share a collection. */
function modelIn(db: string) {
  @Model({ db, collection: 'accounts', keyAltName: 'aws-accounts' })
  class Account {
    @Id() _id!: ObjectId;
    @Field() owner!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) iban!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'aws-notes' }) notes!: Random<string>;
  }
  return Account;
}

const awsMasterKey = (aws: AwsKmsEmulator, endpoint = aws.endpoint): MasterKeyDescription => ({ provider: 'aws', region: aws.region, key: aws.keyArn, endpoint });

async function open(aws: AwsKmsEmulator, model: Function, kms: Partial<StrongboxConfig['kms']>, keyVault: StrongboxConfig['keyVault']): Promise<StrongboxClient> {
  const server = await testServer();
  return createClient({
    uri: server.uri, tls: server.tls, models: [model], environment: 'development', warn: () => undefined, keyVault,
    kms: { ...kms, tls: { aws: { caFile: pki('ca.pem') } } },
  });
}
const awsProvider = (aws: AwsKmsEmulator) => ({ aws: { ...aws.credentials } });
const vault = () => `sb_keys_${randomBytes(4).toString('hex')}.__keyVault`;
const accounts = (n: number) => Array.from({ length: n }, (_, i) => ({ owner: `owner-${i}`, iban: `DE00 1234 ${i}`, notes: `note ${i}` }));

async function readAll(client: StrongboxClient, model: Function): Promise<string[]> {
  const docs = await client.repository(model as new () => { owner: string; iban: string; notes: string }).find({}).toArray();
  return docs.map((d) => `${d.owner}|${d.iban}|${d.notes}`).sort();
}

test('a data key under an AWS master key (custom endpoint, session token) encrypts and decrypts through a model', async (t) => {
  const { aws } = t.context;
  const db = `${DB}_model`;
  const Account = modelIn(db);
  const namespace = vault();
  const client = await open(aws, Account, awsProvider(aws), { namespace, masterKey: awsMasterKey(aws) });
  try {
    const repo = client.repository(Account);
    await repo.insertOne({ owner: 'ada', iban: 'DE89 3704 0044', notes: 'prefers email' });
    const found = await repo.findOne({ iban: 'DE89 3704 0044' });
    t.is(found?.notes, 'prefers email', 'an equality query on the Deterministic field finds the document, decrypted');
    const raw = await client.dataClient.db(db).collection('accounts').findOne({ owner: 'ada' });
    t.is(raw?.iban?.sub_type, 6, 'stored as BinData subtype 6');
    const keys = await listKeys(client);
    t.is(keys.length, 2);
    for (const key of keys) t.deepEqual(key.masterKey, { provider: 'aws', region: aws.region, key: aws.keyArn, endpoint: aws.endpoint });
  } finally {
    await client.close();
  }
  // A fresh client has no data key cached: reading makes libmongocrypt ask the emulator to unwrap.
  const fresh = await open(aws, Account, awsProvider(aws), { namespace, masterKey: awsMasterKey(aws) });
  try {
    t.deepEqual(await readAll(fresh, Account), ['ada|DE89 3704 0044|prefers email']);
  } finally {
    await fresh.close();
  }
});

test('rotation local → AWS → local keeps every document readable, each time by a client holding only the new provider', async (t) => {
  const { aws } = t.context;
  const db = `${DB}_rotate`;
  const Account = modelIn(db);
  const namespace = vault();
  const localKey = masterKeyFile();
  const both = await open(aws, Account, { local: { keyFile: localKey }, ...awsProvider(aws) }, { namespace, masterKey: { provider: 'local' } });
  let before: string[];
  try {
    await both.repository(Account).insertMany(accounts(8));
    before = await readAll(both, Account);
    // An explicit key under the AWS master key while new keys default to local.
    const explicit = await createKey(both, { altNames: 'aws-explicit', masterKey: awsMasterKey(aws) });
    t.deepEqual(explicit.masterKey, { provider: 'aws', region: aws.region, key: aws.keyArn, endpoint: aws.endpoint });
    await both.keyVault.collection.deleteOne({ keyAltNames: 'aws-explicit' });
    const { provider: _, ...masterKey } = awsMasterKey(aws) as { provider: string };
    const toAws = await rewrapKeys(both, { provider: 'aws', masterKey });
    t.is(toAws.rewrapped.length, 2);
    t.true((await listKeys(both)).every((k) => k.masterKey.provider === 'aws' && k.masterKey.key === aws.keyArn));
  } finally {
    await both.close();
  }
  const awsOnly = await open(aws, Account, awsProvider(aws), { namespace, masterKey: awsMasterKey(aws) });
  try {
    t.deepEqual(await readAll(awsOnly, Account), before, 'read with the AWS provider alone');
  } finally {
    await awsOnly.close();
  }
  const back = await open(aws, Account, { local: { keyFile: localKey }, ...awsProvider(aws) }, { namespace, masterKey: { provider: 'local' } });
  try {
    const toLocal = await rewrapKeys(back, { provider: 'local' });
    t.is(toLocal.rewrapped.length, 2);
    t.true((await listKeys(back)).every((k) => k.masterKey.provider === 'local'));
  } finally {
    await back.close();
  }
  const localOnly = await open(aws, Account, { local: { keyFile: localKey } }, { namespace });
  try {
    t.deepEqual(await readAll(localOnly, Account), before, 'read with the local key alone');
  } finally {
    await localOnly.close();
  }
});

test('with the KMS down, reads raise DecryptionError and writes under a new key fail before anything is written', async (t) => {
  const { aws } = t.context;
  const db = `${DB}_down`;
  const Account = modelIn(db);
  const namespace = vault();
  const front = await aws.front();
  const endpoint = `127.0.0.1:${front.port}`;
  const writer = await open(aws, Account, awsProvider(aws), { namespace, masterKey: awsMasterKey(aws, endpoint) });
  try {
    await writer.repository(Account).insertOne({ owner: 'bob', iban: 'FR76 3000 6000', notes: 'vip' });
  } finally {
    await writer.close();
  }
  await front.close();
  const reader = await open(aws, Account, awsProvider(aws), { namespace, masterKey: awsMasterKey(aws, endpoint) });
  try {
    const err = await t.throwsAsync(reader.repository(Account).find({}).toArray(), { instanceOf: DecryptionError });
    t.regex(err!.message, /KMS holding the master key could not be reached/);
    t.false(err!.message.includes('FR76') || err!.message.includes('vip'), 'no plaintext in the error');
    // Writing needs the data keys unwrapped by the KMS: refused, nothing written.
    await t.throwsAsync(reader.repository(Account).insertOne({ owner: 'eve', iban: 'FR76 1', notes: 'x' }), { instanceOf: EncryptionError });
    t.is(await reader.dataClient.db(db).collection('accounts').countDocuments({ owner: 'eve' }), 0);
    // So does creating a key: the KMS must wrap it.
    const created = await t.throwsAsync(createKey(reader, { altNames: 'aws-new' }), { instanceOf: KeyError });
    t.is(created!.code, 'KEY_CREATE_FAILED');
    t.is(await reader.keyVault.collection.countDocuments({ keyAltNames: 'aws-new' }), 0);
  } finally {
    await reader.close();
  }
});

test('a KMS presenting a certificate from an untrusted CA is refused: no data key, no document, a TLS_UNKNOWN_CA cause', async (t) => {
  const { aws } = t.context;
  const db = `${DB}_untrusted`;
  const Account = modelIn(db);
  const impostor = await aws.front('server-otherca');
  const client = await open(aws, Account, awsProvider(aws), { namespace: vault(), masterKey: awsMasterKey(aws, `127.0.0.1:${impostor.port}`) });
  try {
    const err = await t.throwsAsync(client.repository(Account).insertOne({ owner: 'mallory', iban: 'GB29 NWBK', notes: 'n' }), { instanceOf: KeyError });
    t.is(err!.code, 'KEY_CREATE_FAILED');
    const translated = translateTlsError(err!.cause, { kms: { provider: 'aws', tls: { caFile: pki('ca.pem') } } });
    t.is(translated?.code, 'TLS_UNKNOWN_CA', String(err!.cause));
    t.is(await client.dataClient.db(db).collection('accounts').countDocuments({}), 0);
    t.deepEqual(await listKeys(client), [], 'no data key was stored');
  } finally {
    await client.close();
    await impostor.close();
  }
});

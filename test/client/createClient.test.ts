import test from 'ava';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createClient } from '../../src/client/createClient';
import { STRONGBOX_DRIVER_OPTIONS, type StrongboxConfig } from '../../src/config/strongboxConfig';
import { ConfigError, KeyError, ModelDefinitionError } from '../../src/errors';
import { Person } from '../../examples/models/person';
import type { ObjectId } from 'mongodb';
import { Deterministic, Encrypted, Field, Id, Model, Random } from '../../src/metadata';
import { masterKeyFile, testClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';

/** Written by this file only: the shared example model's collection is audited by the CLI tests meanwhile. */
const READER_DB = uniqueDbName(__filename);
@Model({ db: READER_DB, collection: 'people', keyAltName: 'people' })
class Reader {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

async function config(overrides: Partial<StrongboxConfig>): Promise<StrongboxConfig> {
  const server = await testServer();
  return { uri: server.uri, tls: server.tls, kms: { local: { keyFile: masterKeyFile() } }, models: [Person], environment: 'development', warn: () => undefined, ...overrides };
}

const invalid: Array<[string, Partial<StrongboxConfig>, Function, string]> = [
  ['an unknown mode', { mode: 'magic' as never }, ConfigError, 'CONFIG_MODE'],
  ['a missing uri', { uri: '' }, ConfigError, 'CONFIG_URI'],
  ['no KMS at all', { kms: undefined as never }, ConfigError, 'CONFIG_KMS_MISSING'],
  ['a KMS object naming no provider', { kms: {} }, ConfigError, 'CONFIG_KMS_MISSING'],
  ['a key vault namespace without a collection', { keyVault: { namespace: 'encryption' } }, KeyError, 'KEY_VAULT_NAMESPACE'],
  ['a master key for an unconfigured provider', { keyVault: { masterKey: { provider: 'aws', region: 'x', key: 'y' } } }, ConfigError, 'CONFIG_MASTER_KEY_PROVIDER'],
  ['a local master key of the wrong length', { kms: { local: { key: Buffer.alloc(32) } } }, KeyError, 'KEY_MASTER_WRONG_LENGTH'],
  ['a class that is not a model', { models: [class NotAModel {}] }, ModelDefinitionError, 'MODEL_NOT_DECORATED'],
  ['driverOptions that are not an object', { driverOptions: 'maxPoolSize=5' as never }, ConfigError, 'CONFIG_DRIVER_OPTION'],
  ['a TLS option in driverOptions (TLS is configured under tls)', { driverOptions: { tlsInsecure: true } as never }, ConfigError, 'CONFIG_DRIVER_OPTION'],
  ['a BSON option set by the connection string', { uri: 'mongodb://127.0.0.1:9/?ignoreUndefined=true' }, ConfigError, 'CONFIG_DRIVER_OPTION'],
  ...STRONGBOX_DRIVER_OPTIONS.map((name): [string, Partial<StrongboxConfig>, Function, string] => [`driverOptions.${name}, which Strongbox sets itself`, { driverOptions: { [name]: name === 'fieldsAsRaw' ? {} : name === 'autoEncryption' ? { keyVaultNamespace: 'a.b', kmsProviders: {} } : true } as never }, ConfigError, 'CONFIG_DRIVER_OPTION']),
];

for (const [title, overrides, type, code] of invalid) {
  test(`createClient refuses ${title} before connecting`, async (t) => {
    // An unreachable port proves nothing was attempted on the network: validation fails first.
    const err = await t.throwsAsync(createClient(await config({ uri: 'mongodb://127.0.0.1:9/', ...overrides })), { instanceOf: type as never });
    t.is((err as { code?: string }).code, code);
    t.regex((err as Error).message, /Fix: /);
  });
}

const hasQueryAnalysis = (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'mongocryptd'))) || !!process.env.STRONGBOX_CRYPT_SHARED_LIB_PATH;

test('automatic mode without mongocryptd or crypt_shared fails fast and suggests explicit mode', async (t) => {
  if (hasQueryAnalysis) { t.pass('query analysis is available here; the automatic-mode test below runs instead'); return; }
  const err = await t.throwsAsync(createClient(await config({ uri: 'mongodb://127.0.0.1:9/', mode: 'automatic' })), { instanceOf: ConfigError });
  t.is((err as ConfigError).code, 'CONFIG_AUTOMATIC_UNAVAILABLE');
  t.regex(err!.message, /mode: 'explicit'/);
});

(hasQueryAnalysis ? test : test.skip)(`automatic mode: the driver encrypts with the generated schema map${hasQueryAnalysis ? '' : ' [skipped: needs mongocryptd or crypt_shared (STRONGBOX_CRYPT_SHARED_LIB_PATH), MongoDB Enterprise/Atlas]'}`, async (t) => {
  if (!hasQueryAnalysis) return;
  const client = await testClient([Person], { mode: 'automatic', cryptSharedLibPath: process.env.STRONGBOX_CRYPT_SHARED_LIB_PATH });
  try {
    const auto = await client.automaticClient();
    const people = auto.db('app').collection('people');
    await people.insertOne({ name: 'Auto', phone: '+1-555-0000', ssn: '000-00-0000' });
    const back = await people.findOne({ phone: '+1-555-0000' });
    t.is(back?.ssn, '000-00-0000');
    const raw = await client.dataClient.db('app').collection('people').findOne({ name: 'Auto' });
    t.is(raw?.ssn?.sub_type, 6);
  } finally { await client.close(); }
});
if (!hasQueryAnalysis) console.log('SKIP automatic mode: needs mongocryptd or crypt_shared (MongoDB Enterprise/Atlas); runs when STRONGBOX_CRYPT_SHARED_LIB_PATH is set or mongocryptd is on PATH');

test('close() closes every connection it opened, including extra driver clients', async (t) => {
  const client = await testClient([Person]);
  const decrypting = await client.decryptingClient();
  await client.close();
  await t.throwsAsync(client.dataClient.db('admin').command({ ping: 1 }));
  await t.throwsAsync(decrypting.db('admin').command({ ping: 1 }));
});

test('automaticClient() on an explicit-mode client is a ConfigError saying which mode to use', async (t) => {
  const client = await testClient([Person]);
  try {
    const error = await t.throwsAsync(client.automaticClient(), { instanceOf: ConfigError });
    t.is(error?.code, 'CONFIG_AUTOMATIC_CLIENT');
    t.regex(error?.message ?? '', /mode: 'automatic'/);
  } finally { await client.close(); }
});

test('the auto-decrypting driver client reads what a repository wrote', async (t) => {
  const client = await testClient([Reader]);
  try {
    await client.repository(Reader).insertOne({ name: 'Dee', phone: '+1-555-4321', ssn: '999-88-7777' });
    const driver = await client.decryptingClient();
    const doc = await driver.db(READER_DB).collection('people').findOne({ name: 'Dee' });
    t.deepEqual([doc?.phone, doc?.ssn], ['+1-555-4321', '999-88-7777']);
  } finally { await client.close(); }
});

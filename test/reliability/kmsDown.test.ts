/**
 * Fault: the KMS holding the master key (a real KMIP server, PyKMIP, over mutual TLS) is
 * stopped. Data keys are wrapped by it, so a client that has not unwrapped a key yet can neither
 * encrypt nor decrypt with it: writes and equality queries fail closed with an EncryptionError,
 * reads with a DecryptionError naming the KMS, and creating a new key fails with a KeyError.
 * Nothing is written and no plaintext is sent.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { BSON, Binary, type CommandStartedEvent, type ObjectId } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { DecryptionError, EncryptionError, KeyError } from '../../src/errors';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { startKmipServer, type KmipServer } from '../harness/kmip';
import { rawClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { defineTenantRecord, labelledSecret } from './support';
import { pki } from '../harness/tlsFront';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'patients', keyAltName: 'kms-fault' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) diagnosis!: Random<string>;
}

const TenantRecord = defineTenantRecord(DB);

const secret = labelledSecret;
const namespace = `sb_kmskeys_${randomBytes(3).toString('hex')}.__keyVault`;

let kmip: KmipServer;
const open = async (): Promise<StrongboxClient> => {
  const server = await testServer();
  const client = await createClient({
    uri: server.uri, tls: server.tls,
    kms: { kmip: { endpoint: kmip.endpoint }, tls: { kmip: { caFile: pki('ca.pem'), certificateKeyFile: pki('client.pem') } } },
    keyVault: { namespace },
    models: [Patient, TenantRecord],
    environment: 'development',
    warn: () => undefined,
    driverOptions: { monitorCommands: true },
  });
  return client;
};

test.before(async () => { kmip = await startKmipServer(); });
test.after.always(async () => { await kmip?.stop(); });

test('KMS unreachable: writes, queries and new keys fail closed, reads fail clearly, nothing is written and no plaintext is sent', async (t) => {
  const writer = await open();
  const reader = await open();
  const raw = await rawClient();
  const commands: CommandStartedEvent[] = [];
  reader.dataClient.on('commandStarted', (e) => commands.push(e));
  const plaintexts: string[] = [];
  const s = (label: string) => { const v = secret(label); plaintexts.push(v); return v; };
  try {
    const stored = { name: 'Ada', email: s('email'), diagnosis: s('diagnosis') };
    await writer.repository(Patient).insertOne(stored as never);
    await writer.repository(TenantRecord).insertOne({ tenant: 'acme', secret: s('acme') } as never);
    const keyCount = await writer.keyVault.collection.countDocuments();
    t.is(keyCount, 2, 'both data keys were created in the KMIP server');

    await kmip.stop();

    // The reader never unwrapped the key: decrypting needs the KMS.
    const readErr = await t.throwsAsync(reader.repository(Patient).findOne({ name: 'Ada' }), { instanceOf: DecryptionError });
    t.is(readErr!.code, 'DECRYPT_KMS_UNREACHABLE');
    t.regex(readErr!.message, /KMS holding the master key could not be reached/);
    const marker = (await reader.repository(Patient, { onUndecryptable: 'marker' }).findOne({ name: 'Ada' }))!;
    t.false(typeof marker.email === 'string' || typeof marker.diagnosis === 'string', 'a lenient read never passes ciphertext off as a value');

    // Encrypting needs the unwrapped key just as much: writes and equality queries fail closed.
    const writeErr = await t.throwsAsync(reader.repository(Patient).insertOne({ name: 'Bob', email: s('email2'), diagnosis: s('diagnosis2') } as never), { instanceOf: EncryptionError });
    t.regex(writeErr!.message, /nothing was written.*KMS holding the master key could not be reached/);
    const queryErr = await t.throwsAsync(reader.repository(Patient).findOne({ email: stored.email }), { instanceOf: EncryptionError });
    t.regex(queryErr!.message, /KMS/);
    t.is(await raw.db(DB).collection('patients').countDocuments({ name: 'Bob' }), 0, 'nothing was written');

    // A new tenant needs a new data key, which the KMS must wrap.
    const keyErr = await t.throwsAsync(writer.repository(TenantRecord).insertOne({ tenant: 'globex', secret: s('globex') } as never), { instanceOf: KeyError });
    t.is(keyErr!.code, 'KEY_CREATE_FAILED');
    t.regex(keyErr!.message, /globex/);
    t.is(await raw.db(DB).collection('records').countDocuments({ tenant: 'globex' }), 0, 'nothing was written');
    t.is(await writer.keyVault.collection.countDocuments(), keyCount, 'no half-made key was stored');

    // The writer unwrapped its keys before the outage; libmongocrypt keeps them for 60 s.
    await writer.repository(Patient).insertOne({ name: 'Cached', email: s('email3'), diagnosis: s('diagnosis3') } as never);
    t.is((await writer.repository(Patient).findOne({ name: 'Cached' }))!.diagnosis, plaintexts[plaintexts.length - 1]);

    const sent = commands.map((c) => BSON.EJSON.stringify(c.command));
    t.deepEqual(plaintexts.filter((p) => sent.some((x) => x.includes(p))), [], 'no plaintext reached the server');
    for (const err of [readErr, writeErr, queryErr, keyErr]) {
      t.deepEqual(plaintexts.filter((p) => `${err!.message}${err!.stack}${String(err!.cause)}`.includes(p)), [], 'no plaintext in errors');
    }
    for (const doc of await raw.db(DB).collection('patients').find({}).toArray()) {
      t.true(doc.email instanceof Binary && doc.email.sub_type === 6 && doc.diagnosis instanceof Binary && doc.diagnosis.sub_type === 6);
    }
  } finally {
    await Promise.all([writer.close(), reader.close(), raw.close()]);
  }
});

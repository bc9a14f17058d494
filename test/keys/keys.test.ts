/*
 * Key management: ensure (idempotent), list (no key material), rotation that keeps every
 * document readable (to a new local master key, and to another provider with
 * rewrapManyDataKey), and deletion that counts what it shreds and needs confirmation.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ObjectId } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { StrongboxConfig } from '../../src/config/strongboxConfig';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { DecryptionError } from '../../src/errors';
import { deleteKey, keyDeletionImpact } from '../../src/keys/delete';
import { ensureModelKeys, listKeys } from '../../src/keys/keys';
import { rewrapKeys, rotateLocalMasterKey } from '../../src/keys/rotate';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { masterKeyFile } from '../harness/client';
import { startKmipServer } from '../harness/kmip';
import { testServer, uniqueDbName } from '../harness/server';
import { pki } from '../harness/tlsFront';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'patients', keyAltName: 'keys-main' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() tenant!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'keys-notes' }) notes!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant' }) secret!: Random<string>;
}

async function open(overrides: Partial<StrongboxConfig>, namespace: string, db = DB): Promise<StrongboxClient> {
  const server = await testServer();
  @Model({ db, collection: 'patients', keyAltName: 'keys-main' })
  class P {
    @Id() _id!: ObjectId;
    @Field() tenant!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'keys-notes' }) notes!: Random<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/tenant' }) secret!: Random<string>;
  }
  return createClient({ uri: server.uri, tls: server.tls, keyVault: { namespace }, models: db === DB ? [Patient] : [P], environment: 'development', warn: () => undefined, kms: {}, ...overrides });
}

const vault = () => `sb_keys_${randomBytes(4).toString('hex')}.__keyVault`;
const people = (n: number) => Array.from({ length: n }, (_, i) => ({ tenant: `tenant-${i % 3}`, email: `p${i}@example.test`, notes: `notes ${i}`, secret: `secret ${i}` }));

async function readAll(client: StrongboxClient, db = DB): Promise<string[]> {
  const docs = await client.dataClient.db(db).collection('patients').find().toArray();
  const { docs: plain, failures } = await client.engine.decryptDocuments(docs);
  if (failures.size) throw new Error(`${failures.size} documents could not be decrypted`);
  return plain.map((d) => `${d.email}|${d.notes}|${d.secret}`).sort();
}

test('ensure creates the models\' keys once; list shows them without key material, with their users', async (t) => {
  const client = await open({ kms: { local: { keyFile: masterKeyFile() } } }, vault());
  try {
    const first = await ensureModelKeys(client);
    t.deepEqual(first.map((k) => [k.altName, k.created]).sort(), [['keys-main', true], ['keys-notes', true]]);
    const second = await ensureModelKeys(client);
    t.deepEqual(second.map((k) => k.created), [false, false]);
    t.deepEqual(second.map((k) => k.id).sort(), first.map((k) => k.id).sort());
    const listed = await listKeys(client);
    t.is(listed.length, 2);
    t.false(JSON.stringify(listed).includes('keyMaterial'));
    t.deepEqual(listed.find((k) => k.altNames.includes('keys-main'))!.usedBy.sort(), [`${DB}.patients.email`]);
    t.is(listed[0].masterKey.provider, 'local');
  } finally {
    await client.close();
  }
});

test('rotating to a new local master key keeps every document readable, and only with the new key', async (t) => {
  const db = `${DB}_local`;
  const namespace = vault();
  const oldKey = masterKeyFile();
  const newKey = masterKeyFile();
  const client = await open({ kms: { local: { keyFile: oldKey } } }, namespace, db);
  const model = [...client.registry][0].target as new () => object;
  let before: string[];
  let idsBefore: string[];
  try {
    await client.repository(model).insertMany(people(30) as never);
    before = await readAll(client, db);
    idsBefore = (await listKeys(client)).map((k) => k.id).sort();
    t.is(idsBefore.length, 5, 'two model keys and three tenant keys');
    const decode = (file: string) => Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    const result = await rotateLocalMasterKey(client, { current: decode(oldKey), next: decode(newKey) });
    t.is(result.rewrapped.length, 5);
    const again = await rotateLocalMasterKey(client, { current: decode(oldKey), next: decode(newKey) });
    t.deepEqual([again.rewrapped.length, again.alreadyDone.length], [0, 5], 'running it again finds the work done');
  } finally {
    await client.close();
  }
  const rotated = await open({ kms: { local: { keyFile: newKey } } }, namespace, db);
  try {
    t.deepEqual(await readAll(rotated, db), before, 'every document reads the same under the new master key');
    t.deepEqual((await listKeys(rotated)).map((k) => k.id).sort(), idsBefore, 'data key ids (named in every ciphertext) are unchanged');
  } finally {
    await rotated.close();
  }
  const stale = await open({ kms: { local: { keyFile: oldKey } } }, namespace, db);
  try {
    await t.throwsAsync(stale.repository([...stale.registry][0].target as new () => object).find({}).toArray(), { instanceOf: DecryptionError }, 'the old master key no longer opens the data keys');
  } finally {
    await stale.close();
  }
});

test('rewrapping under another provider (local → KMIP) with rewrapManyDataKey keeps every document readable', async (t) => {
  const kmip = await startKmipServer();
  const db = `${DB}_kmip`;
  const namespace = vault();
  const localKey = masterKeyFile();
  const kmipConfig = { kmip: { endpoint: kmip.endpoint }, tls: { kmip: { caFile: pki('ca.pem'), certificateKeyFile: pki('client.pem') } } };
  try {
    const both = await open({ kms: { local: { keyFile: localKey }, ...kmipConfig }, keyVault: { namespace, masterKey: { provider: 'local' } } }, namespace, db);
    let before: string[];
    try {
      await both.repository([...both.registry][0].target as new () => object).insertMany(people(12) as never);
      before = await readAll(both, db);
      const result = await rewrapKeys(both, { provider: 'kmip', masterKey: {} });
      t.is(result.rewrapped.length, 5);
      t.true((await listKeys(both)).every((k) => k.masterKey.provider === 'kmip'));
    } finally {
      await both.close();
    }
    const kmipOnly = await open({ kms: kmipConfig }, namespace, db);
    try {
      t.deepEqual(await readAll(kmipOnly, db), before, 'a client with only the KMIP provider reads everything');
    } finally {
      await kmipOnly.close();
    }
  } finally {
    await kmip.stop();
  }
});

test('deleting a key needs confirmation, reports how many documents it shreds, and shreds exactly those', async (t) => {
  const db = `${DB}_shred`;
  const keyFile = masterKeyFile();
  const namespace = vault();
  const client = await open({ kms: { local: { keyFile } } }, namespace, db);
  try {
    await client.repository([...client.registry][0].target as new () => object).insertMany(people(9) as never);
    const impact = await keyDeletionImpact(client, { altName: 'tenant-1' });
    t.deepEqual(impact.collections, [{ namespace: `${db}.patients`, documents: 3, values: 3 }]);
    const refused = await t.throwsAsync(deleteKey(client, { altName: 'tenant-1' }, { confirm: false }), { code: 'KEY_DELETE_UNCONFIRMED' });
    t.regex(refused!.message, /would make 3 document\(s\)/);
    t.truthy(await client.keyVault.findKeyId('tenant-1'), 'nothing was deleted');

    await deleteKey(client, { altName: 'tenant-1' }, { confirm: true });
    t.is(await client.keyVault.findKeyId('tenant-1'), undefined);
    await t.throwsAsync(deleteKey(client, { altName: 'tenant-1' }, { confirm: true }), { code: 'KEY_NOT_FOUND' });
  } finally {
    await client.close();
  }
  // A fresh client: the one above may still hold the key in libmongocrypt's one-minute key cache.
  const fresh = await open({ kms: { local: { keyFile } } }, namespace, db);
  try {
    const docs = await fresh.dataClient.db(db).collection('patients').find().toArray();
    const { failures } = await fresh.engine.decryptDocuments(docs);
    t.is(failures.size, 3, 'exactly the tenant-1 documents became unreadable');
    t.true([...failures.values()].every((f) => f.length === 1 && f[0].path === 'secret' && f[0].reason === 'missing-key'));
  } finally {
    await fresh.close();
  }
});

test('rotating from a master key that did not wrap the keys changes no key', async (t) => {
  const db = `${DB}_wrong`;
  const client = await open({ kms: { local: { keyFile: masterKeyFile() } } }, vault(), db);
  try {
    await ensureModelKeys(client);
    const before = (await client.keyVault.collection.find().toArray()).map((k) => k.keyMaterial.toString('hex')).sort();
    await t.throwsAsync(rotateLocalMasterKey(client, { current: randomBytes(96), next: randomBytes(96) }), { code: 'KEY_ROTATE_WRONG_MASTER_KEY' });
    const after = (await client.keyVault.collection.find().toArray()).map((k) => k.keyMaterial.toString('hex')).sort();
    t.deepEqual(after, before, 'no key was touched');
  } finally {
    await client.close();
  }
});

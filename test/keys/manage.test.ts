/*
 * Explicit key management (client-side encryption specification: createDataKey with
 * keyMaterial, addKeyAltName, removeKeyAltName, getKeyByAltName, getKey, getKeys): each alt name
 * names one key, checked before writing and, where the server has partial indexes, by the key
 * vault's unique index as well.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Binary, UUID, type ObjectId } from 'mongodb';
import { createKey, getKey, addKeyAltName, removeKeyAltName } from '../../src/keys/manage';
import { listKeys } from '../../src/keys/keys';
import { altNameIndexState } from '../../src/keys/altNameIndex';
import { unwrapLocal } from '../../src/keys/localRewrap';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { KeyError } from '../../src/errors';
import { Encrypted, Field, Id, Model, type Deterministic } from '../../src/metadata';
import { masterKeyFile, testClient } from '../harness/client';
import { requires, uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'invoices' })
class Invoice {
  @Id() _id!: ObjectId;
  @Field() customer!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'manage-billing' }) iban!: Deterministic<string>;
}

async function withClient(run: (client: StrongboxClient) => Promise<void>): Promise<void> {
  const client = await testClient([Invoice]);
  try { await run(client); } finally { await client.close(); }
}

const DETERMINISTIC = 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic' as const;
const keyIdOf = (hex: string) => new Binary(Buffer.from(hex.replace(/-/g, ''), 'hex'), 4);

test('custom key material is the data key: unwrapped from the key vault, it is the 96 bytes given', async (t) => {
  const keyFile = masterKeyFile();
  const client = await testClient([Invoice], { kms: { local: { keyFile } } });
  try {
    const material = randomBytes(96);
    const copy = Buffer.from(material);
    const given = await createKey(client, { altNames: ['manage-b', 'manage-b2'], keyMaterial: material });
    const generated = await createKey(client, { altNames: 'manage-c' });
    t.true(material.equals(copy), "the caller's buffer is left as it was");
    t.deepEqual(given.altNames, ['manage-b', 'manage-b2']);
    const masterKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    const unwrap = async (id: string) => {
      const doc = await client.keyVault.collection.findOne({ _id: keyIdOf(id) });
      return unwrapLocal(masterKey, Buffer.from((doc!.keyMaterial as Binary).buffer));
    };
    t.true((await unwrap(given.id))?.equals(material), 'the stored key wraps exactly the given material');
    t.false((await unwrap(generated.id))?.equals(material));
    const ciphertext = await client.encryption.encrypt('DE89 3704', { keyId: keyIdOf(given.id), algorithm: DETERMINISTIC });
    t.is(await client.encryption.decrypt(ciphertext), 'DE89 3704');
  } finally {
    await client.close();
  }
});

test('key material of the wrong length is refused before anything is written', async (t) => {
  await withClient(async (client) => {
    for (const keyMaterial of [randomBytes(32), randomBytes(97), 'x'.repeat(96) as never]) {
      const err = await t.throwsAsync(createKey(client, { altNames: 'manage-short', keyMaterial }), { instanceOf: KeyError });
      t.is(err!.code, 'KEY_MATERIAL_WRONG_LENGTH');
    }
    t.deepEqual(await listKeys(client), []);
  });
});

test('a taken alt name is refused when creating or adding, naming the key that has it and what enforces it', async (t) => {
  await withClient(async (client) => {
    const first = await createKey(client, { altNames: ['manage-x', 'manage-y'] });
    const other = await createKey(client, { altNames: 'manage-z' });
    const created = await t.throwsAsync(createKey(client, { altNames: ['manage-new', 'manage-y'] }), { instanceOf: KeyError });
    t.is(created!.code, 'KEY_ALT_NAME_TAKEN');
    t.regex(created!.message, new RegExp(`'manage-y' belongs to data key ${first.id}`));
    t.regex(created!.message, /unique (partial )?index on keyAltNames/);
    t.truthy(created!.fix);
    const added = await t.throwsAsync(addKeyAltName(client, { id: other.id }, 'manage-x'), { instanceOf: KeyError });
    t.is(added!.code, 'KEY_ALT_NAME_TAKEN');
    t.deepEqual((await listKeys(client)).map((k) => k.altNames), [['manage-x', 'manage-y'], ['manage-z']], 'nothing changed');
  });
});

test('add and remove alt names; get a key by alt name or id', async (t) => {
  await withClient(async (client) => {
    const key = await createKey(client, { altNames: 'manage-one' });
    t.deepEqual((await addKeyAltName(client, { altName: 'manage-one' }, 'manage-two')).altNames, ['manage-one', 'manage-two']);
    t.deepEqual((await addKeyAltName(client, { id: key.id }, 'manage-two')).altNames, ['manage-one', 'manage-two'], 'adding a name the key has is a no-op');
    t.is((await getKey(client, { altName: 'manage-two' })).id, key.id);
    t.is((await getKey(client, { id: key.id })).masterKey.provider, 'local');
    t.deepEqual((await removeKeyAltName(client, { id: key.id }, 'manage-one')).altNames, ['manage-two']);
    await t.throwsAsync(getKey(client, { altName: 'manage-one' }), { code: 'KEY_NOT_FOUND' });
    await t.throwsAsync(removeKeyAltName(client, { id: key.id }, 'manage-one'), { code: 'KEY_ALT_NAME_NOT_ON_KEY' });
    // The last one too: the key stays, reachable by id.
    t.deepEqual((await removeKeyAltName(client, { altName: 'manage-two' }, 'manage-two')).altNames, []);
    t.is((await getKey(client, { id: key.id })).id, key.id);
    await t.throwsAsync(getKey(client, { id: new UUID().toHexString() }), { code: 'KEY_NOT_FOUND' });
    await t.throwsAsync(addKeyAltName(client, { id: key.id }, ''), { code: 'KEY_ALT_NAME_INVALID' });
  });
});

test('removing the alt name a model uses is refused unless forced', async (t) => {
  await withClient(async (client) => {
    await client.repository(Invoice).insertOne({ customer: 'acme', iban: 'DE00 1' });
    const key = await getKey(client, { altName: 'manage-billing' });
    t.deepEqual(key.usedBy, [`${DB}.invoices.iban`]);
    const err = await t.throwsAsync(removeKeyAltName(client, { id: key.id }, 'manage-billing'), { instanceOf: KeyError });
    t.is(err!.code, 'KEY_ALT_NAME_IN_USE');
    t.regex(err!.message, new RegExp(`${DB}\\.invoices\\.iban`));
    t.deepEqual((await getKey(client, { id: key.id })).altNames, ['manage-billing'], 'unchanged');
    t.deepEqual((await removeKeyAltName(client, { id: key.id }, 'manage-billing', { force: true })).altNames, []);
  });
});

test('the key vault has a unique index on keyAltNames', async (t) => {
  await withClient(async (client) => {
    const state = await altNameIndexState(client.keyVault.collection);
    t.true(state === 'unique-partial' || state === 'unique-plain', state);
  });
});

requires('partialIndexes')('the server itself refuses an alt name another key has (unique partial index), even bypassing Strongbox', async (t) => {
  await withClient(async (client) => {
    t.is(await altNameIndexState(client.keyVault.collection), 'unique-partial');
    const key = await createKey(client, { altNames: ['manage-srv-a', 'manage-srv-b'] });
    const other = await createKey(client, { altNames: 'manage-srv-c' });
    await t.throwsAsync(client.encryption.addKeyAltName(keyIdOf(other.id), 'manage-srv-b'), { message: /E11000|duplicate key/ });
    t.deepEqual((await getKey(client, { id: key.id })).altNames, ['manage-srv-a', 'manage-srv-b']);
  });
});

/*
 * The runner's guarantees: a dry run sends only reads (proved with command monitoring), one
 * runner at a time (atomic lock; a stale lock expires), edited applied migrations are flagged,
 * destructive steps need permission, missing server features are skipped or stop the run.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandStartedEvent, Document } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { isEncryptedBinary } from '../../src/crypto/blob';
import { Deterministic, Encrypted, Field, Id, Model, Random } from '../../src/metadata';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationLock } from '../../src/migrations/lock';
import { MigrationRunner } from '../../src/migrations/runner';
import type { Migration } from '../../src/migrations/types';
import { rawClient, testClient } from '../harness/client';
import { requires, testServer, uniqueDbName } from '../harness/server';
import { lines } from './helpers';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'users' })
class User {
  @Id() _id!: string;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'runner' }) ssn!: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'runner' }) email!: Deterministic<string>;
}

let client: StrongboxClient;
const commands: CommandStartedEvent[] = [];

test.before(async () => {
  client = await testClient([User], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
});
test.after.always(async () => { await client?.close(); });

/** A collection of plaintext users, as an application without encryption left it. */
async function seed(collection: string, count: number): Promise<void> {
  const raw = await rawClient();
  try {
    await raw.db(DB).collection(collection).insertMany(Array.from({ length: count }, (_, i) => ({ _id: `u${String(i).padStart(5, '0')}` as never, name: `User ${i}`, ssn: `ssn-${i}`, email: `u${i}@example.test` })));
  } finally {
    await raw.close();
  }
}

function encryptUsers(collection: string, extra: Partial<Migration> = {}): Migration {
  const namespace = `${DB}.${collection}`;
  return {
    up: [
      { op: 'createCollection', namespace },
      { op: 'encryptField', namespace, path: 'ssn', algorithm: 'Random', key: { altName: `${collection}-key` } },
      ...(extra.up ?? []),
    ],
    down: [...(extra.down ?? []), { op: 'decryptField', namespace, path: 'ssn' }],
  };
}

const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'create', 'createIndexes', 'collMod', 'drop', 'dropIndexes', 'dropDatabase', 'bulkWrite']);

test.serial('--dry-run prints every command and sends only reads: no lock, no key, no write', async (t) => {
  await seed('dry', 5);
  const namespace = `${DB}.dry`;
  const raw = await rawClient();
  await raw.db(DB).collection('dry').createIndex({ name: 1 }, { name: 'old_name' });
  const migration = defineLoadedMigration('20250101T000000_dry', encryptUsers('dry', {
    up: [
      { op: 'createIndex', namespace, index: { name: 'email_1', key: { email: 1 }, unique: true } },
      { op: 'dropIndex', namespace, name: 'old_name' },
      { op: 'setValidator', namespace, validator: { $jsonSchema: { bsonType: 'object', properties: { ssn: { encrypt: { keyId: [{ $keyAltName: 'dry-key' }], algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random' } } } } } },
    ],
  }));
  const output = lines();
  const runner = new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_dry` }, out: output.out });
  commands.length = 0;
  const report = await runner.up({ dryRun: true });
  const sent = commands.map((c) => c.commandName);
  t.log(output.text());
  t.log(`commands sent: ${[...new Set(sent)].join(', ')}`);
  t.deepEqual(sent.filter((c) => WRITES.has(c)), [], 'nothing but reads was sent');
  t.true(sent.length > 0, 'the dry run did read (changelog, collections, key vault)');
  t.deepEqual(report.migrations, ['20250101T000000_dry']);
  const text = output.text();
  t.regex(text, /createIndexes.*email_1/);
  t.regex(text, /dropIndexes.*old_name/);
  t.regex(text, /5 of 5 document\(s\) have values to rewrite \(5 plaintext/);
  t.regex(text, /the data key 'dry-key' does not exist yet/);
  t.regex(text, /collMod/);
  t.regex(text, /needs --allow-destructive/);
  t.regex(text, /insert.*"lock"/);
  try {
    t.is(await client.keyVault.findKeyId('dry-key'), undefined, 'no data key was created');
    t.is(await raw.db(`${DB}_dry`).collection('changelog').countDocuments(), 0);
    t.is(await raw.db(`${DB}_dry`).collection('lock').countDocuments(), 0);
    t.false((await raw.db(DB).collection('dry').find().toArray()).some((d) => isEncryptedBinary(d.ssn)), 'no document changed');
    t.deepEqual((await raw.db(DB).collection('dry').listIndexes().toArray()).map((i) => i.name).sort(), ['_id_', 'old_name']);
  } finally {
    await raw.close();
  }
});

test('two runners at once: one gets the lock, the other a clear error; the work is done once', async (t) => {
  await seed('race', 3000);
  const migration = defineLoadedMigration('20250101T000000_race', encryptUsers('race'));
  const make = () => new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_race`, batchSize: 250 } });
  const results = await Promise.allSettled([make().up(), make().up()]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.is(failed.length, 1, 'exactly one runner failed');
  t.is(failed[0].reason.code, 'MIGRATION_LOCKED');
  t.regex(failed[0].reason.message, /Another migration runner is active: runner \S+ \(host \S+, pid \d+, since/);
  t.log(failed[0].reason.message);
  const raw = await rawClient();
  try {
    const docs = await raw.db(DB).collection('race').find().toArray();
    t.is(docs.length, 3000);
    t.true(docs.every((d) => isEncryptedBinary(d.ssn)));
    t.is(await raw.db(`${DB}_race`).collection('lock').countDocuments({ releasedAt: { $exists: false } }), 0, 'the winner released the lock');
  } finally {
    await raw.close();
  }
});

test('the lock is one conditional write: of many racers exactly one wins, also for an expired lock', async (t) => {
  const db = client.dataClient.db(`${DB}_locks`);
  const racers = Array.from({ length: 8 }, () => new MigrationLock(db, { ttlMs: 60_000 }));
  const first = await Promise.allSettled(racers.map((l) => l.acquire()));
  t.is(first.filter((r) => r.status === 'fulfilled').length, 1);
  const winner = racers[first.findIndex((r) => r.status === 'fulfilled')];
  await winner.release();

  await db.collection('lock').insertOne({ _id: 10 as never, owner: 'ghost', host: 'gone', pid: 1, acquiredAt: new Date(0), expiresAt: new Date(Date.now() - 1000) });
  const takers = Array.from({ length: 8 }, () => new MigrationLock(db, { ttlMs: 60_000 }));
  const second = await Promise.allSettled(takers.map((l) => l.acquire()));
  const won = second.filter((r): r is PromiseFulfilledResult<string | undefined> => r.status === 'fulfilled');
  t.is(won.length, 1, 'one racer took the expired lock over');
  t.regex(won[0].value!, /took over the expired lock of runner ghost/);
  await takers[second.indexOf(won[0])].release();
});

test('a live lock of another runner stops a run with its name; a stale one is taken over', async (t) => {
  await seed('stale', 3);
  const migration = defineLoadedMigration('20250101T000000_stale', encryptUsers('stale'));
  const database = `${DB}_stale`;
  const lockCollection = client.dataClient.db(database).collection('lock');
  await lockCollection.insertOne({ _id: 7 as never, owner: 'other-host:4242:abcd', host: 'other-host', pid: 4242, acquiredAt: new Date(), expiresAt: new Date(Date.now() + 60_000) });
  const runner = new MigrationRunner(client, { migrations: [migration], settings: { database } });
  const error = await t.throwsAsync(runner.up(), { code: 'MIGRATION_LOCKED' });
  t.regex(error!.message, /other-host:4242:abcd/);
  t.regex(error!.message, /strongbox migration unlock/);
  t.regex(await runner.lockHolder() ?? '', /other-host:4242:abcd/);

  await lockCollection.updateOne({ _id: 7 as never }, { $set: { expiresAt: new Date(Date.now() - 1) } });
  const output = lines();
  await new MigrationRunner(client, { migrations: [migration], settings: { database }, out: output.out }).up();
  t.regex(output.text(), /took over the expired lock of runner other-host:4242:abcd/);
});

test('an applied migration whose file was edited is flagged; reformatting it is not', async (t) => {
  await seed('edited', 3);
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-checksum-'));
  const file = join(folder, '20250101T000000_edited.js');
  // What tsc emits for a generated migration.
  const write = (m: Migration, indent: number) => writeFileSync(file, `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nconst migration = ${JSON.stringify(m, null, indent)};\nexports.default = migration;\n`);
  write(encryptUsers('edited'), 2);
  const settings = { database: `${DB}_edited`, compiledFolder: folder };
  await new MigrationRunner(client, { settings }).up();

  write(encryptUsers('edited'), 8);
  t.deepEqual((await new MigrationRunner(client, { settings }).status()).map((s) => s.state), ['applied'], 'formatting is not a change');

  const edited = encryptUsers('edited');
  (edited.up[1] as { algorithm: string }).algorithm = 'Deterministic';
  write(edited, 2);
  const runner = new MigrationRunner(client, { settings });
  t.deepEqual((await runner.status()).map((s) => s.state), ['modified']);
  const error = await t.throwsAsync(runner.up(), { code: 'MIGRATION_CHECKSUM_MISMATCH' });
  t.true(error!.message.includes(file), 'the message names the file');
  await t.throwsAsync(runner.down({ allowDestructive: true }), { code: 'MIGRATION_CHECKSUM_MISMATCH' });
  t.true(readFileSync(file, 'utf8').includes('Deterministic'));
});

test('destructive steps need permission, and nothing runs before that is checked', async (t) => {
  await seed('destructive', 3);
  const namespace = `${DB}.destructive`;
  const migration = defineLoadedMigration('20250101T000000_destructive', {
    up: [{ op: 'createIndex', namespace, index: { name: 'name_1', key: { name: 1 } } }, { op: 'dropCollection', namespace }],
    down: [],
  });
  const runner = new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_destructive` } });
  const error = await t.throwsAsync(runner.up(), { code: 'MIGRATION_DESTRUCTIVE' });
  t.regex(error!.message, /drop collection .*destructive/);
  const indexes = await client.dataClient.db(DB).collection('destructive').listIndexes().toArray();
  t.false(indexes.some((i) => i.name === 'name_1'), 'the first, harmless step did not run either');
  await runner.up({ allowDestructive: true });
  t.is((await client.dataClient.db(DB).listCollections({ name: 'destructive' }).toArray()).length, 0);
});

test('up --to and down --to move between migrations in order', async (t) => {
  await seed('steps', 4);
  const namespace = `${DB}.steps`;
  const index = (name: string): Migration => ({ up: [{ op: 'createIndex', namespace, index: { name, key: { [name]: 1 } } }], down: [{ op: 'dropIndex', namespace, name }] });
  const migrations = ['a', 'b', 'c'].map((n, i) => defineLoadedMigration(`2025010${i + 1}T000000_${n}`, index(n)));
  const runner = new MigrationRunner(client, { migrations, settings: { database: `${DB}_steps` } });
  const states = async () => (await runner.status()).map((s) => s.state).join(',');
  await runner.up({ to: '20250102T000000_b' });
  t.is(await states(), 'applied,applied,pending');
  await runner.up();
  t.is(await states(), 'applied,applied,applied');
  await runner.down({ to: '20250101T000000_a', allowDestructive: true });
  t.is(await states(), 'applied,pending,pending');
  await runner.down({ allowDestructive: true });
  t.is(await states(), 'pending,pending,pending');
  await t.throwsAsync(runner.up({ to: '20990101T000000_nope' }), { code: 'MIGRATION_UNKNOWN_TARGET' });
});

test('a step the server cannot run is skipped with a warning, or stops the run under --strict', async (t) => {
  const server = await testServer();
  await seed('features', 2);
  const namespace = `${DB}.features`;
  const migration = defineLoadedMigration('20250101T000000_features', {
    up: [
      { op: 'setValidator', namespace, validator: { $jsonSchema: { bsonType: 'object', properties: { ssn: { encrypt: { keyId: [{ $keyAltName: 'features-key' }], algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random' } } } } } },
      { op: 'createIndex', namespace, index: { name: 'partial_email', key: { email: 1 }, partialFilterExpression: { email: { $exists: true } } } },
      { op: 'encryptField', namespace, path: 'ssn', algorithm: 'Random', key: { altName: 'features-key' } },
    ],
    down: [],
  });
  const settings = { database: `${DB}_features` };
  if (server.features.has('collMod') && server.features.has('partialIndexes')) {
    const report = await new MigrationRunner(client, { migrations: [migration], settings }).up({ strict: true });
    t.deepEqual(report.skipped, []);
    const [info] = await client.dataClient.db(DB).listCollections({ name: 'features' }).toArray();
    t.truthy((info as Document).options.validator);
    return;
  }
  const strict = await t.throwsAsync(new MigrationRunner(client, { migrations: [migration], settings }).up({ strict: true }), { code: 'SERVER_UNSUPPORTED' });
  t.regex(strict!.message, /step 1 \(set the \$jsonSchema validator.*does not support the collMod command.*--strict/);
  t.is((await new MigrationRunner(client, { migrations: [migration], settings }).status())[0].state, 'pending', 'a stopped migration is not recorded');

  const output = lines();
  const report = await new MigrationRunner(client, { migrations: [migration], settings, out: output.out }).up();
  t.log(output.text());
  t.is(report.skipped.length, 2, 'the validator and the partial index were skipped');
  t.regex(output.text(), /SKIPPED: FerretDB .* lacks the collMod command/);
  t.regex(output.text(), /SKIPPED: FerretDB .* lacks partial indexes/);
  const [status] = await new MigrationRunner(client, { migrations: [migration], settings }).status();
  t.is(status.state, 'applied', 'the rest ran and the migration is recorded');
  t.is(status.skipped?.length, 2, 'with its skipped steps');
  const raw = await rawClient();
  try {
    t.true((await raw.db(DB).collection('features').find().toArray()).every((d) => isEncryptedBinary(d.ssn)));
  } finally {
    await raw.close();
  }
});

requires('collMod')('the validator a migration sets makes the server refuse plaintext in encrypted fields', async (t) => {
  await seed('enforced', 1);
  const namespace = `${DB}.enforced`;
  const migration = defineLoadedMigration('20250101T000000_enforced', encryptUsers('enforced', {
    up: [{ op: 'setValidator', namespace, validator: { $jsonSchema: { bsonType: 'object', properties: { ssn: { encrypt: { keyId: [{ $keyAltName: 'enforced-key' }], algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random' } } } } } }],
    down: [{ op: 'setValidator', namespace, validator: null }],
  }));
  await new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_enforced` } }).up();
  const raw = await rawClient();
  try {
    await t.throwsAsync(raw.db(DB).collection('enforced').insertOne({ _id: 'x' as never, ssn: 'plaintext' }));
  } finally {
    await raw.close();
  }
});

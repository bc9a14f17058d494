/*
 * Backfill mechanics on the real server: replaying a batch a crash left half-written, resuming
 * after a checkpoint across _id type brackets, and conditional updates that leave concurrently
 * changed documents alone.
 */
import test from 'ava';
import { Int32, ObjectId, type Document } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { isEncryptedBinary } from '../../src/crypto/blob';
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { BackfillState } from '../../src/migrations/backfill/state';
import { operationFingerprint } from '../../src/migrations/checksum';
import { UpdateWriter } from '../../src/migrations/backfill/writers';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { lines } from './helpers';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'placeholder' })
class Placeholder {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'backfill' }) ssn!: Random<string>;
}

let client: StrongboxClient;
test.before(async () => { client = await testClient([Placeholder]); });
test.after.always(async () => { await client?.close(); });

const migration = (collection: string) => defineLoadedMigration('20250101T000000_backfill', {
  up: [{ op: 'encryptField', namespace: `${DB}.${collection}`, path: 'ssn', algorithm: 'Random', key: { altName: 'backfill' } }],
  down: [],
});

test('a batch left half-written (journaled, deleted, not re-inserted) is finished before anything else', async (t) => {
  const raw = await rawClient();
  try {
    const people = raw.db(DB).collection('halfway');
    const docs = Array.from({ length: 10 }, (_, i) => ({ _id: new ObjectId(), i, ssn: `ssn-${i}` }));
    await people.insertMany(docs);
    // The crash: the rewritten first five are in the journal, the originals deleted, the new ones not inserted.
    const key = await client.keyVault.ensureDataKey('backfill');
    const rewritten = await Promise.all(docs.slice(0, 5).map(async (d) => ({ ...d, ssn: await client.engine.encrypt(d.ssn, 'Random', key) })));
    const state = new BackfillState(raw.db(`${DB}_halfway`));
    await state.journal.insertMany(rewritten.map((doc) => ({ namespace: `${DB}.halfway`, step: '20250101T000000_backfill:up:0', doc })));
    await people.deleteMany({ _id: { $in: rewritten.map((d) => d._id) } });
    t.is(await people.countDocuments(), 5);

    const output = lines();
    await new MigrationRunner(client, { migrations: [migration('halfway')], settings: { database: `${DB}_halfway`, backfillWrite: 'replace' }, out: output.out }).up();
    t.regex(output.text(), /finished 5 document\(s\) of a batch an interrupted run had left half-written/);
    t.regex(output.text(), /done: 5 document\(s\) rewritten, 10 read/, 'the recovered five are recognised as done');
    const stored = await people.find().sort({ i: 1 }).toArray();
    t.is(stored.length, 10);
    const { docs: plain } = await client.engine.decryptDocuments(stored);
    t.deepEqual(plain.map((d) => d.ssn), docs.map((d) => d.ssn));
    t.is(await state.journal.countDocuments(), 0);
  } finally {
    await raw.close();
  }
});

test('resuming after a checkpoint continues in _id order across types: numbers, then strings, then ObjectIds', async (t) => {
  const raw = await rawClient();
  try {
    const people = raw.db(DB).collection('mixed');
    const ids: unknown[] = [...[1, 2, 3, 7, 9].map((n) => new Int32(n)), 'a', 'm', 'z', new ObjectId(), new ObjectId()];
    await people.insertMany(ids.map((_id, i) => ({ _id: _id as never, ssn: `ssn-${i}` })));
    // An earlier run wrote everything up to _id 3 (here: left plaintext, to see what is skipped).
    const state = new BackfillState(raw.db(`${DB}_mixed`));
    await state.save({ _id: '20250101T000000_backfill:up:0', namespace: `${DB}.mixed`, fingerprint: operationFingerprint(migration('mixed').migration.up[0]), lastId: new Int32(3), processed: 3, changed: 3 });
    const runner = new MigrationRunner(client, { migrations: [migration('mixed')], settings: { database: `${DB}_mixed`, batchSize: 2 } });
    await t.throwsAsync(runner.up(), { code: 'MIGRATION_POSTCHECK' }, 'the post-check notices the three it was told were done');
    const after = await people.find({}, { promoteValues: false }).toArray();
    const encrypted = after.filter((d) => isEncryptedBinary(d.ssn)).map((d) => String(d._id));
    t.deepEqual(new Set(encrypted), new Set(ids.slice(3).map(String)), 'exactly the documents after _id 3, of every later type');
    await runner.up();
    t.true((await people.find().toArray()).every((d) => isEncryptedBinary(d.ssn)), 'a second run finishes the rest');
  } finally {
    await raw.close();
  }
});

test('a checkpoint left by an operation since edited is not reused', async (t) => {
  const raw = await rawClient();
  try {
    const people = raw.db(DB).collection('edited');
    await people.insertMany(Array.from({ length: 6 }, (_, i) => ({ _id: `p${i}` as never, ssn: `ssn-${i}` })));
    const state = new BackfillState(raw.db(`${DB}_edited`));
    await state.save({ _id: '20250101T000000_backfill:up:0', namespace: `${DB}.edited`, fingerprint: 'another-operation', lastId: 'p4', processed: 5, changed: 5 });
    const output = lines();
    await new MigrationRunner(client, { migrations: [migration('edited')], settings: { database: `${DB}_edited` }, out: output.out }).up();
    t.regex(output.text(), /belongs to an operation since edited; starting from the beginning/);
    t.true((await people.find().toArray()).every((d) => isEncryptedBinary(d.ssn)));
  } finally {
    await raw.close();
  }
});

test('conditional updates leave a document changed since it was read alone, and report it', async (t) => {
  const raw = await rawClient();
  try {
    const people = raw.db(DB).collection('concurrent');
    await people.insertMany([{ _id: 'a' as never, ssn: 'old-a' }, { _id: 'b' as never, ssn: 'old-b' }]);
    const read = await people.find({}, { promoteValues: false }).sort({ _id: 1 }).toArray() as Document[];
    await people.updateOne({ _id: 'b' as never }, { $set: { ssn: 'changed meanwhile' } });
    const writer = new UpdateWriter(people);
    const result = await writer.write(read.map((doc) => ({ doc, top: 'ssn', after: `rewritten-${doc._id}` })));
    t.deepEqual(result, { written: 1, conflicts: 1 });
    t.deepEqual((await people.find().sort({ _id: 1 }).toArray()).map((d) => d.ssn), ['rewritten-a', 'changed meanwhile']);
  } finally {
    await raw.close();
  }
});

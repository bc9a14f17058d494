/*
 * The fault test: a backfill of 20,000 documents in a child process is killed with SIGKILL
 * after some batches are confirmed written, then run again. Afterwards every document must
 * decrypt to its original value, none may be encrypted twice, none lost.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ObjectId, type Document } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import { inspectEncryptedBlob, isEncryptedBinary } from '../../src/crypto/blob';
import { BackfillState } from '../../src/migrations/backfill/state';
import { MigrationRunner } from '../../src/migrations/runner';
import { masterKeyFile, rawClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { CRASH_MIGRATION, crashMigration, crashModel } from './backfillChild';
import { ChildRun, CRASH_TEST_LOCK_TTL_MS, lines } from './helpers';

const DB = uniqueDbName(__filename);
const STATE_DB = `${DB}_sb`;
const DOCUMENTS = 20_000;
const BATCH = 2000;

test('a backfill killed with SIGKILL mid-way and run again leaves every document encrypted once, none lost', async (t) => {
  const server = await testServer();
  const keyFile = masterKeyFile();
  const keyVault = `${DB}_keys.__keyVault`;
  const raw = await rawClient();
  const original = new Map<string, string>();
  try {
    const docs = Array.from({ length: DOCUMENTS }, (_, n) => {
      const doc = { _id: new ObjectId(), n, ssn: `${String(n).padStart(5, '0')}-${randomBytes(6).toString('hex')}` };
      original.set(doc._id.toHexString(), doc.ssn);
      return doc;
    });
    for (let i = 0; i < docs.length; i += 5000) await raw.db(DB).collection('people').insertMany(docs.slice(i, i + 5000));

    // First run, in a child process, killed once at least three batches are recorded as written.
    const started = Date.now();
    const child = new ChildRun('backfillChild.js', { CRASH_URI: server.uri, CRASH_TLS: JSON.stringify(server.tls), CRASH_KEY_FILE: keyFile, CRASH_KEY_VAULT: keyVault, CRASH_DB: DB, CRASH_STATE_DB: STATE_DB, CRASH_BATCH: String(BATCH) });
    const state = new BackfillState(raw.db(STATE_DB));
    const confirmed = await child.progressReaches(3 * BATCH, async () => Number((await state.progress.findOne({ _id: `${CRASH_MIGRATION}:up:0` }))?.processed ?? 0));
    // Somewhere inside the next batch (reading, encrypting, journaling or writing it).
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 400)));
    t.is(await child.kill(), 'SIGKILL');
    const firstRunMs = Date.now() - started;

    const people = raw.db(DB).collection('people');
    const afterKill = await people.find({}, { projection: { ssn: 1 } }).toArray();
    const encryptedAfterKill = afterKill.filter((d) => isEncryptedBinary(d.ssn)).length;
    const journal = await state.journal.countDocuments({});
    t.log(`killed after ${firstRunMs} ms: ${confirmed} documents confirmed written; ${afterKill.length} documents present, ${encryptedAfterKill} encrypted, ${journal} journal entries`);
    t.true(encryptedAfterKill >= confirmed && encryptedAfterKill < DOCUMENTS, 'the first run stopped mid-way');

    // Second run: waits for the dead runner's lock to expire, recovers, resumes.
    const client = await createClient({ uri: server.uri, tls: server.tls, kms: { local: { keyFile } }, keyVault: { namespace: keyVault }, models: [crashModel(DB)], warn: () => undefined });
    try {
      const output = lines();
      const resumed = Date.now();
      await new MigrationRunner(client, { migrations: [crashMigration(DB)], settings: { database: STATE_DB, batchSize: BATCH, lockTtlMs: CRASH_TEST_LOCK_TTL_MS }, out: output.out, lockWaitMs: 10_000 }).up();
      const secondRunMs = Date.now() - resumed;
      t.log(output.text());
      t.regex(output.text(), /took over the expired lock/);
      t.regex(output.text(), /resuming after \d+ document\(s\)/);

      const stored = await people.find({}).toArray();
      t.is(stored.length, DOCUMENTS, 'no document lost, none duplicated');
      t.deepEqual(new Set(stored.map((d) => (d._id as ObjectId).toHexString())), new Set(original.keys()), 'exactly the original _ids');
      for (const doc of stored) {
        const info = inspectEncryptedBlob(doc.ssn);
        if (!info || info.algorithm !== 'Random' || info.originalBsonType !== 2) t.fail(`document ${(doc._id as ObjectId).toHexString()}: ssn is not a Random ciphertext of a string (encrypted twice would show type 5)`);
      }
      const { docs: decrypted, failures } = await client.engine.decryptDocuments(stored as Document[]);
      t.is(failures.size, 0);
      let matches = 0;
      for (const doc of decrypted) if (doc.ssn === original.get((doc._id as ObjectId).toHexString())) matches++;
      t.is(matches, DOCUMENTS, 'every document decrypts to its original value');
      t.is(await state.journal.countDocuments({}), 0, 'the journal is empty');
      t.is(await state.progress.countDocuments({}), 0, 'the checkpoint is cleared');
      t.log(`second run ${secondRunMs} ms for ${DOCUMENTS - encryptedAfterKill} remaining documents (${Math.round(((DOCUMENTS - encryptedAfterKill) / secondRunMs) * 1000)} docs/s, lock wait included)`);
    } finally {
      await client.close();
    }
  } finally {
    await raw.close();
  }
});

/*
 * Code steps ({ op: 'run', … }) against the real server: they read and write through the
 * configured repositories (encrypted values stay ciphertext in storage), a dry run describes
 * them without calling them, their source is part of the checksum, a failure mid-way is
 * recorded and resumed (or refused when the step is not resumable), and a SIGKILL mid-step
 * followed by a re-run loses nothing and does nothing twice.
 */
import test from 'ava';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { isEncryptedBinary } from '../../src/crypto/blob';
import { BackfillState } from '../../src/migrations/backfill/state';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { masterKeyFile, rawClient, testClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { SPLIT_MIGRATION, personModel, splitMigration, splitStep, type SplitHooks } from './codeStepModels';
import { ChildRun, CRASH_TEST_LOCK_TTL_MS, lines } from './helpers';

const BASE = uniqueDbName(__filename);

async function seeded(name: string, count: number, keyFile = masterKeyFile()): Promise<{ db: string; client: StrongboxClient; Person: ReturnType<typeof personModel> }> {
  const db = `${BASE}_${name}`;
  const Person = personModel(db);
  const client = await testClient([Person], { kms: { local: { keyFile } } });
  const people = client.repository(Person);
  await people.insertMany(Array.from({ length: count }, (_, i) => ({ _id: `p${String(i).padStart(5, '0')}`, fullName: `Given${i} Family Name${i}` })));
  return { db, client, Person };
}

function runner(client: StrongboxClient, db: string, migration: ReturnType<typeof splitMigration>, out?: (line: string) => void) {
  return new MigrationRunner(client, { migrations: [migration], settings: { database: `${db}_sb`, batchSize: 10 }, ...(out ? { out } : {}) });
}

test('a code step reads and writes through the repositories; a dry run describes it without calling it; down reverts it', async (t) => {
  const { db, client, Person } = await seeded('basic', 35);
  try {
    const hooks: SplitHooks = { handed: [] };
    const migration = splitMigration(db, Person, hooks);
    const dry = lines();
    await runner(client, db, migration, dry.out).up({ dryRun: true });
    t.is(hooks.handed.length, 0, 'a dry run does not call the step');
    t.regex(dry.text(), /run code step "split full name" \[widening\]/);
    t.regex(dry.text(), /calls the step's up function \(\d+ line\(s\) of source, part of the checksum\)/);

    const output = lines();
    await runner(client, db, migration, output.out).up();
    t.is(hooks.handed.length, 35);
    t.regex(output.text(), /35 document\(s\) visited by its batch loops/);
    const people = await client.repository(Person).find({}, { sort: { _id: 1 } }).toArray();
    t.deepEqual(people.map((p) => [p.first, p.last, p.splits]), people.map((_, i) => [`Given${i}`, `Family Name${i}`, 1]));
    const raw = await rawClient();
    try {
      const stored = await raw.db(db).collection('people').find({}).toArray();
      t.true(stored.every((d) => isEncryptedBinary(d.first) && isEncryptedBinary(d.fullName)), 'first is stored encrypted');
      t.is(await raw.db(`${db}_sb`).collection('code_step_runs').countDocuments({}), 0, 'the run records go once the migration is recorded');
    } finally {
      await raw.close();
    }

    await runner(client, db, migration).down({ allowDestructive: true });
    const reverted = await client.repository(Person).find({}).toArray();
    t.true(reverted.every((p) => p.first === undefined && p.last === undefined && p.fullName.startsWith('Given')));
  } finally {
    await client.close();
  }
});

test('the source text of a code step is part of the checksum', (t) => {
  const Person = personModel(`${BASE}_checksum`);
  const a = splitMigration('x', Person, { handed: [] });
  const b = defineLoadedMigration(SPLIT_MIGRATION, { up: [{ ...splitStep(Person, { handed: [] }), up: async () => undefined }], down: [] });
  const c = defineLoadedMigration(SPLIT_MIGRATION, { up: [{ ...splitStep(Person, { handed: [] }), up: async () => { /* edited */ } }], down: [] });
  t.is(a.checksum, splitMigration('x', Person, { handed: [{ } as never] }).checksum, 'closure state is not source');
  t.not(b.checksum, c.checksum);
});

test('a code step that throws mid-way is recorded where it stopped; the re-run resumes after the last recorded batch', async (t) => {
  const { db, client, Person } = await seeded('throws', 47);
  try {
    const first: SplitHooks = { handed: [], failAfter: 25 };
    const error = await t.throwsAsync(runner(client, db, splitMigration(db, Person, first)).up());
    t.regex(error!.message, new RegExp(`Migration ${SPLIT_MIGRATION}, step 2 \\(run code step "split full name"\\) failed: stopped on purpose after 25 documents`));
    const raw = await rawClient();
    try {
      const record = await raw.db(`${db}_sb`).collection('code_step_runs').findOne({ _id: `${SPLIT_MIGRATION}:up:1` as never });
      t.is(record?.state, 'running');
      t.is(record?.processed, 20, 'two batches of 10 were recorded before the failure');
      t.regex(String(record?.error), /stopped on purpose/);
    } finally {
      await raw.close();
    }
    const second: SplitHooks = { handed: [] };
    const output = lines();
    await runner(client, db, splitMigration(db, Person, second), output.out).up();
    t.regex(output.text(), /resuming: an earlier run stopped in this step/);
    t.regex(output.text(), /already done.*skipped/, 'the index step before it is not redone');
    const confirmed = new Set(first.handed.slice(0, 20));
    t.false(second.handed.some((id) => confirmed.has(id)), 'no document of a recorded batch is handed over again');
    const people = await client.repository(Person).find({}).toArray();
    t.is(people.length, 47);
    t.true(people.every((p) => p.splits === 1 && p.first === p.fullName.split(' ')[0]), 'every document split exactly once');
  } finally {
    await client.close();
  }
});

test('a step that says it is not resumable is refused after an interruption until released', async (t) => {
  const { db, client, Person } = await seeded('strict', 30);
  try {
    await t.throwsAsync(runner(client, db, splitMigration(db, Person, { handed: [], failAfter: 12 }, false)).up());
    const refused = await t.throwsAsync(runner(client, db, splitMigration(db, Person, { handed: [] }, false)).up(), { code: 'MIGRATION_CODE_STEP_NOT_RESUMABLE' } as never);
    t.regex(refused!.message, /code step "split full name" was interrupted \(stopped on purpose after 12 documents\) and says it is not resumable/);
    t.regex(refused!.message, new RegExp(`strongbox migration release ${SPLIT_MIGRATION}:up:1`));
    await runner(client, db, splitMigration(db, Person, { handed: [] }, false)).releaseCodeStep(`${SPLIT_MIGRATION}:up:1`);
    await t.throwsAsync(runner(client, db, splitMigration(db, Person, { handed: [] }, false)).releaseCodeStep(`${SPLIT_MIGRATION}:up:1`), { code: 'MIGRATION_CODE_STEP_UNKNOWN' } as never);
    await runner(client, db, splitMigration(db, Person, { handed: [] }, false)).up();
    const people = await client.repository(Person).find({}).toArray();
    t.true(people.every((p) => p.splits === 1));
  } finally {
    await client.close();
  }
});

test('a migration whose code step has no down function is refused by down before anything changes', async (t) => {
  const { db, client, Person } = await seeded('irreversible', 3);
  try {
    const step = { ...splitStep(Person, { handed: [] }), down: undefined };
    const migration = defineLoadedMigration(SPLIT_MIGRATION, { up: [step], down: [step] });
    const r = new MigrationRunner(client, { migrations: [migration], settings: { database: `${db}_sb` } });
    await r.up();
    const error = await t.throwsAsync(r.down(), { code: 'MIGRATION_CODE_STEP_IRREVERSIBLE' } as never);
    t.regex(error!.message, new RegExp(`${SPLIT_MIGRATION}: code step "split full name"`));
    t.is((await r.status())[0].state, 'applied');
  } finally {
    await client.close();
  }
});

test('a code step killed with SIGKILL mid-way and run again: nothing lost, nothing done twice', async (t) => {
  const server = await testServer();
  const keyFile = masterKeyFile();
  const { db, client, Person } = await seeded('kill', 400, keyFile);
  const stateDb = `${db}_sb`;
  const keyVault = `${client.keyVault.namespace.db}.${client.keyVault.namespace.collection}`;
  try {
    const child = new ChildRun('codeStepChild.js', { CODE_URI: server.uri, CODE_TLS: JSON.stringify(server.tls), CODE_KEY_FILE: keyFile, CODE_KEY_VAULT: keyVault, CODE_DB: db, CODE_STATE_DB: stateDb, CODE_BATCH: '20', CODE_SLOW_MS: '60' });
    const raw = await rawClient();
    const state = new BackfillState(raw.db(stateDb));
    let confirmed = 0;
    try {
      confirmed = await child.progressReaches(100, async () => Number((await state.progress.findOne({ _id: `${SPLIT_MIGRATION}:up:1#loop 0` }))?.processed ?? 0));
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 60)));
      t.is(await child.kill(), 'SIGKILL');
      const splitAtKill = await raw.db(db).collection('people').countDocuments({ nameSplit: true });
      t.log(`killed with ${confirmed} documents confirmed, ${splitAtKill} split`);
      t.true(splitAtKill >= confirmed && splitAtKill < 400, 'the first run stopped mid-way');
    } finally {
      await raw.close();
    }
    const second: SplitHooks = { handed: [] };
    const output = lines();
    await new MigrationRunner(client, { migrations: [splitMigration(db, Person, second)], settings: { database: stateDb, batchSize: 20, lockTtlMs: CRASH_TEST_LOCK_TTL_MS }, out: output.out, lockWaitMs: 10_000 }).up();
    t.regex(output.text(), /resuming: an earlier run stopped in this step/);
    t.true(second.handed.length <= 400 - confirmed, `the re-run was handed only what was left (${second.handed.length})`);
    const people = await client.repository(Person).find({}).toArray();
    t.is(people.length, 400, 'nothing lost');
    t.true(people.every((p) => p.splits === 1 && p.first === p.fullName.split(' ')[0] && p.last === p.fullName.split(' ').slice(1).join(' ')), 'every document split exactly once');
  } finally {
    await client.close();
  }
});

/*
 * `migration baseline` against the real server: recorded only after an audit finds the stored
 * data as the models say; otherwise it lists what differs and records nothing.
 */
import test from 'ava';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { readSnapshot, SNAPSHOT_FILE } from '../../src/migrations/snapshot';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

function staffModel(collection: string) {
  @Model({ db: DB, collection })
  class Staff {
    @Id() _id!: string;
    @Field() name!: string;
    @Encrypted({ algorithm: 'Random', keyAltName: 'baseline' }) salary!: Random<number>;
  }
  return Staff;
}

const existing = (collection: string) => defineLoadedMigration('20250501T000000_encrypt_salary', {
  up: [{ op: 'encryptField', namespace: `${DB}.${collection}`, path: 'salary', algorithm: 'Random', key: { altName: 'baseline' } }],
  down: [{ op: 'decryptField', namespace: `${DB}.${collection}`, path: 'salary' }],
});

test('a database whose data matches the models is recorded as migrated without running anything', async (t) => {
  const Staff = staffModel('staff');
  const client = await testClient([Staff]);
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-baseline-'));
  try {
    await client.repository(Staff).insertMany([{ _id: 'a', name: 'A', salary: 10 }, { _id: 'b', name: 'B', salary: 20 }]);
    const runner = new MigrationRunner(client, { migrations: [existing('staff')], settings: { database: `${DB}_sb`, folder } });
    const report = await runner.baseline();
    t.deepEqual(report.recorded, ['20250501T000000_encrypt_salary']);
    t.deepEqual(report.audited, { [`${DB}.staff`]: 2 });
    t.deepEqual((await runner.status()).map((s) => s.state), ['applied']);
    t.true(existsSync(join(folder, SNAPSHOT_FILE)));
    t.deepEqual(Object.keys(readSnapshot(join(folder, SNAPSHOT_FILE)).collections), [`${DB}.staff`]);
    t.deepEqual((await runner.up()).migrations, [], 'nothing left to apply');
    await t.throwsAsync(runner.baseline(), { code: 'MIGRATION_BASELINE_APPLIED' } as never);
  } finally {
    await client.close();
  }
});

test('stored data that does not match the models is listed and nothing is recorded', async (t) => {
  const Staff = staffModel('legacy');
  const client = await testClient([Staff]);
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-baseline-'));
  const raw = await rawClient();
  try {
    await raw.db(DB).collection('legacy').insertMany([{ _id: 'x' as never, name: 'X', salary: 123456 }]);
    const runner = new MigrationRunner(client, { migrations: [existing('legacy')], settings: { database: `${DB}_sb_legacy`, folder } });
    const error = await t.throwsAsync(runner.baseline(), { code: 'MIGRATION_BASELINE_MISMATCH' } as never);
    t.regex(error!.message, /Audit of .*legacy/);
    t.regex(error!.message, /salary/);
    t.notRegex(error!.message, /123456/, 'no stored value in the message');
    t.deepEqual((await runner.status()).map((s) => s.state), ['pending']);
    t.false(existsSync(join(folder, SNAPSHOT_FILE)));
  } finally {
    await raw.close();
    await client.close();
  }
});

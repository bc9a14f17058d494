/*
 * Child process of the crash test: runs one encrypting backfill until the parent kills it.
 * Everything it needs comes from the environment, so parent and child share the server, the
 * master key and the key vault.
 */
import 'reflect-metadata';
import type { ObjectId } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { streamProgress } from '../../src/migrations/progress';
import { MigrationRunner } from '../../src/migrations/runner';
import { CRASH_TEST_LOCK_TTL_MS } from './helpers';

export const CRASH_MIGRATION = '20250101T000000_encrypt_ssn';

export function crashModel(db: string) {
  @Model({ db, collection: 'people' })
  class Person {
    @Id() _id!: ObjectId;
    @Field() n!: number;
    @Encrypted({ algorithm: 'Random', keyAltName: 'crash' }) ssn!: Random<string>;
  }
  return Person;
}

export function crashMigration(db: string) {
  return defineLoadedMigration(CRASH_MIGRATION, {
    up: [{ op: 'encryptField', namespace: `${db}.people`, path: 'ssn', algorithm: 'Random', key: { altName: 'crash' } }],
    down: [{ op: 'decryptField', namespace: `${db}.people`, path: 'ssn' }],
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const db = env.CRASH_DB!;
  const client = await createClient({
    uri: env.CRASH_URI!,
    tls: JSON.parse(env.CRASH_TLS!),
    kms: { local: { keyFile: env.CRASH_KEY_FILE! } },
    keyVault: { namespace: env.CRASH_KEY_VAULT! },
    models: [crashModel(db)],
    warn: () => undefined,
  });
  const runner = new MigrationRunner(client, {
    migrations: [crashMigration(db)],
    settings: { database: env.CRASH_STATE_DB!, batchSize: Number(env.CRASH_BATCH), lockTtlMs: CRASH_TEST_LOCK_TTL_MS },
    out: (line) => process.stdout.write(`${line}\n`),
    progress: streamProgress(process.stdout, { lineIntervalMs: 250 }),
  });
  await runner.up();
  await client.close();
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1); });
}

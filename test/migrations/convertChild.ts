/*
 * Child process of the conversion SIGKILL test: runs the conversions until the parent kills it.
 * Server, master key, key vault and databases come from the environment; the child declares no
 * model, as a migration run from the CLI against an older code base would not.
 */
import 'reflect-metadata';
import { createClient } from '../../src/client/createClient';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { CRASH_TEST_LOCK_TTL_MS } from './helpers';

export const CONVERT_MIGRATION = '20250801T000000_convert_types';

/** Plain nested text to numbers, an encrypted number to text, an encrypted number in an array of embedded documents to text. */
export function convertMigration(db: string) {
  const namespace = `${db}.accounts`;
  return defineLoadedMigration(CONVERT_MIGRATION, {
    up: [
      { op: 'convertField', namespace, path: 'address.zip', to: 'number' },
      { op: 'convertField', namespace, path: 'code', to: 'string' },
      { op: 'convertField', namespace, path: 'contacts.pin', to: 'string' },
    ],
    down: [],
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const client = await createClient({
    uri: env.CONVERT_URI!, tls: JSON.parse(env.CONVERT_TLS!), kms: { local: { keyFile: env.CONVERT_KEY_FILE! } },
    keyVault: { namespace: env.CONVERT_KEY_VAULT! }, models: [], warn: () => undefined,
  });
  await new MigrationRunner(client, {
    migrations: [convertMigration(env.CONVERT_DB!)],
    settings: { database: env.CONVERT_STATE_DB!, batchSize: Number(env.CONVERT_BATCH), lockTtlMs: CRASH_TEST_LOCK_TTL_MS },
    out: (line) => process.stdout.write(`${line}\n`),
    // A pause after every checkpointed batch, so that on a fast server too the kill lands inside a step.
    progress: () => ({ advance: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(env.CONVERT_PAUSE_MS)), finish: () => undefined }),
  }).up();
  await client.close();
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1); });
}

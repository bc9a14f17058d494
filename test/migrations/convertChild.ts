/*
 * Child process of the conversion SIGKILL test: converts a plain field to arrays (scalar → array)
 * in small batches until the parent kills it. Everything comes from the environment.
 */
import 'reflect-metadata';
import { createClient } from '../../src/client/createClient';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';

export const CONVERT_MIGRATION = '20250801T000000_tags_to_arrays';

export function convertMigration(db: string) {
  return defineLoadedMigration(CONVERT_MIGRATION, { up: [{ op: 'convertField', namespace: `${db}.items`, path: 'tag', to: 'array' }], down: [] });
}

async function main(): Promise<void> {
  const env = process.env;
  const client = await createClient({
    uri: env.CONVERT_URI!, tls: JSON.parse(env.CONVERT_TLS!), kms: { local: { keyFile: env.CONVERT_KEY_FILE! } },
    keyVault: { namespace: env.CONVERT_KEY_VAULT! }, models: [], warn: () => undefined,
  });
  await new MigrationRunner(client, {
    migrations: [convertMigration(env.CONVERT_DB!)],
    settings: { database: env.CONVERT_STATE_DB!, batchSize: Number(env.CONVERT_BATCH), lockTtlMs: 1000 },
    out: (line) => process.stdout.write(`${line}\n`),
  }).up();
  await client.close();
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1); });
}

/*
 * Child process of the code-step SIGKILL test: runs the split-name migration slowly until the
 * parent kills it. Server, key and databases come from the environment.
 */
import 'reflect-metadata';
import { createClient } from '../../src/client/createClient';
import { MigrationRunner } from '../../src/migrations/runner';
import { CRASH_TEST_LOCK_TTL_MS } from './helpers';
import { personModel, splitMigration } from './codeStepModels';

async function main(): Promise<void> {
  const env = process.env;
  const Person = personModel(env.CODE_DB!);
  const client = await createClient({
    uri: env.CODE_URI!, tls: JSON.parse(env.CODE_TLS!), kms: { local: { keyFile: env.CODE_KEY_FILE! } },
    keyVault: { namespace: env.CODE_KEY_VAULT! }, models: [Person], warn: () => undefined,
  });
  await new MigrationRunner(client, {
    migrations: [splitMigration(env.CODE_DB!, Person, { handed: [], slowMs: Number(env.CODE_SLOW_MS) })],
    settings: { database: env.CODE_STATE_DB!, batchSize: Number(env.CODE_BATCH), lockTtlMs: CRASH_TEST_LOCK_TTL_MS },
    out: (line) => process.stdout.write(`${line}\n`),
  }).up();
  await client.close();
}

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1); });
}

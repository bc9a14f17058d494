/**
 * A migration with a code step, start to finish (`node dist/examples/code-step/run.js`):
 * 200 customers with an encrypted full name; a dry run describes the code step without calling
 * it; `up` splits every name (encrypted given name, plain family name); status shows it applied.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type TlsOptions } from '../../src';
import { defineLoadedMigration, MigrationRunner } from '../../src/entries/migrations';
import { exampleConnection } from '../support/connection';
import { Customer } from './customer';
import migration from './20250601T000000_split_customer_name';

export async function run(connection: { uri: string; tls: TlsOptions }, log: (line: string) => void = console.log): Promise<void> {
  const keyFile = join(mkdtempSync(join(tmpdir(), 'strongbox-code-step-')), 'master.key');
  writeFileSync(keyFile, randomBytes(96).toString('base64'), { mode: 0o600 });
  const client = await createClient({
    uri: connection.uri, tls: connection.tls, kms: { local: { keyFile } }, keyVault: { namespace: 'example_code_step.__keyVault' }, models: [Customer],
  });
  try {
    const raw = client.dataClient;
    for (const db of ['example_code_step', 'example_code_step_migrations']) await raw.db(db).dropDatabase();
    await client.repository(Customer).insertMany(Array.from({ length: 200 }, (_, i) => ({ fullName: `Given${i} van Family${i}` })));
    log('200 customers stored with an encrypted fullName.');

    // What the CLI does with the compiled file of the migrations folder.
    const runner = new MigrationRunner(client, {
      migrations: [defineLoadedMigration('20250601T000000_split_customer_name', migration)],
      settings: { database: 'example_code_step_migrations', batchSize: 100 },
      out: log,
    });
    log('\n$ strongbox migration up --dry-run');
    await runner.up({ dryRun: true });
    log('\n$ strongbox migration up');
    await runner.up();

    const sample = await client.repository(Customer).findOne({}, { sort: { _id: 1 } });
    log(`\nFirst customer now: givenName ${sample?.givenName}, familyName ${sample?.familyName}`);
    const stored = await raw.db('example_code_step').collection('customers').findOne({}, { sort: { _id: 1 } });
    log(`Stored givenName is ciphertext: BinData subtype ${(stored?.givenName as { sub_type?: number })?.sub_type}`);
    log(`Customers split: ${await client.repository(Customer).count({ familyName: { $exists: true } })} of 200`);
    log(`Status: ${(await runner.status()).map((s) => `${s.id} ${s.state}`).join(', ')}`);
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  exampleConnection().then(async (connection) => {
    try {
      await run(connection);
    } finally {
      await connection.stop();
    }
  }).catch((err) => { console.error(err); process.exit(1); });
}

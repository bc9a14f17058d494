/**
 * Adding encryption to an existing plaintext collection, start to finish:
 *
 *   1. an application has written 2,000 customers in plaintext (here: the raw driver);
 *   2. `strongbox migration create customers` records the model as it is (baseline);
 *   3. the model gains @Encrypted on email and ssn (before/ → after/);
 *   4. `strongbox migration create encrypt_customer_pii` generates the backfill;
 *   5. tsc compiles the migrations; `migration up --dry-run`, then `migration up`;
 *   6. `strongbox audit Customer` shows every value encrypted as the model says.
 *
 * Run: npx tsc -p . && node dist/examples/migrate-existing/run.js
 * (starts the embedded server, or uses MONGODB_URI with MONGODB_TLS_CA_FILE and
 * MONGODB_TLS_CERTIFICATE_KEY_FILE).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { main } from '../../src/cli/main';
import { createClient } from '../../src';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import config from './strongbox.config';
import { Customer } from './after/customer';

const REPO = resolve(__dirname, '..', '..', '..');

async function strongbox(...argv: string[]): Promise<number> {
  console.log(`\n$ strongbox ${argv.join(' ')}`);
  const code = await main([...argv, '--config', join(__dirname, 'strongbox.config.js')], {
    out: (line) => console.log(`  ${line.replace(/\n/g, '\n  ')}`),
    err: (line) => console.error(`  ${line}`),
  });
  if (code !== 0 && argv[0] !== 'audit') throw new Error(`strongbox ${argv[0]} exited with ${code}`);
  return code;
}

/** What a project's own `tsc` does; here the generated files' `'strongbox'` import maps to this repository. */
function compileMigrations(work: string): void {
  console.log('\n$ tsc   # compiles migrations/*.ts to dist/migrations/*.js, with the rest of the project');
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, target: 'ES2022', module: 'commonjs', rootDir: 'migrations', outDir: 'dist/migrations', types: [], skipLibCheck: true,
      paths: { strongbox: [join(REPO, 'dist', 'src', 'index.d.ts')] },
    },
    include: ['migrations/*.ts'],
  }));
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { stdio: 'inherit' });
}

async function run(): Promise<void> {
  let local: LocalServer | undefined;
  let uri = process.env.MONGODB_URI;
  let tls: Record<string, unknown> = {
    ...(process.env.MONGODB_TLS_CA_FILE ? { enabled: true, caFile: process.env.MONGODB_TLS_CA_FILE } : {}),
    ...(process.env.MONGODB_TLS_CERTIFICATE_KEY_FILE ? { certificateKeyFile: process.env.MONGODB_TLS_CERTIFICATE_KEY_FILE } : {}),
  };
  if (!uri) {
    local = await startLocalServer();
    uri = local.tlsUri;
    tls = { enabled: true, caFile: local.caFile, certificateKeyFile: local.clientCertificateKeyFile };
    console.log(`Started ${local.description}`);
  }
  const work = mkdtempSync(join(tmpdir(), 'strongbox-example-'));
  writeFileSync(join(work, 'master.key'), randomBytes(96).toString('base64'), { mode: 0o600 });
  Object.assign(process.env, { EXAMPLE_URI: uri, EXAMPLE_TLS: JSON.stringify(tls), EXAMPLE_WORKDIR: work, EXAMPLE_STAGE: 'before' });
  console.log(`Project folder: ${work}`);

  const raw = new MongoClient(uri, { tlsCAFile: tls.caFile as string | undefined, tlsCertificateKeyFile: tls.certificateKeyFile as string | undefined });
  try {
    for (const db of ['example_shop', 'example_strongbox', 'example_encryption']) await raw.db(db).dropDatabase();
    console.log('\n1. The application wrote 2,000 customers without encryption:');
    await raw.db('example_shop').collection('customers').insertMany(Array.from({ length: 2000 }, (_, i) => ({
      name: `Customer ${i}`, email: `customer${i}@example.com`, ssn: `${100 + (i % 800)}-${String(i % 97).padStart(2, '0')}-${String(i).padStart(4, '0')}`,
    })));
    console.log(`  ${JSON.stringify(await raw.db('example_shop').collection('customers').findOne({}, { projection: { _id: 0 } }))}`);

    console.log('\n2. Record the model as it is:');
    await strongbox('migration', 'create', 'customers');

    console.log('\n3. The model gains @Encrypted (examples/migrate-existing/after/customer.ts), and the migration is generated:');
    process.env.EXAMPLE_STAGE = 'after';
    await strongbox('migration', 'create', 'encrypt_customer_pii');
    const generated = readdirSync(join(work, 'migrations')).filter((f) => f.endsWith('_encrypt_customer_pii.ts'))[0];
    console.log(`\n--- migrations/${generated} ---\n${readFileSync(join(work, 'migrations', generated), 'utf8')}---`);

    console.log('\n4. Compile, look at what would be sent, then run it:');
    compileMigrations(work);
    await strongbox('migration', 'up', '--dry-run');
    await strongbox('migration', 'up');
    await strongbox('migration', 'status');

    console.log('\n5. What the server stores now:');
    console.log(`  ${JSON.stringify(await raw.db('example_shop').collection('customers').findOne({}, { projection: { _id: 0 } }))}`);

    console.log('\n6. Audit:');
    const auditCode = await strongbox('audit', 'Customer');
    const client = await createClient(config());
    try {
      const found = await client.repository(Customer).findOne({ email: 'customer42@example.com' });
      console.log(`\nThe application still finds customers by email (Deterministic): ${found?.name}, ssn ${found?.ssn}`);
    } finally {
      await client.close();
    }
    if (auditCode !== 0) throw new Error('the audit found values that disagree with the model');
    console.log('\nDone: every email and ssn is encrypted as the model says.');
  } finally {
    await raw.close();
    await local?.stop();
  }
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

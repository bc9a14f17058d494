/* examples/migrate-existing runs start to finish against the test server. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { testServer } from '../harness/server';

test('examples/migrate-existing: plaintext collection → @Encrypted → generated migration → up → audit consistent', async (t) => {
  const server = await testServer();
  const tls = server.tls as { caFile?: string; certificateKeyFile?: string };
  const script = join(resolve(__dirname, '..', '..'), 'examples', 'migrate-existing', 'run.js');
  const { stdout } = await promisify(execFile)(process.execPath, [script], {
    env: { ...process.env, MONGODB_URI: server.uri, MONGODB_TLS_CA_FILE: tls.caFile ?? '', MONGODB_TLS_CERTIFICATE_KEY_FILE: tls.certificateKeyFile ?? '' },
    encoding: 'utf8',
  });
  t.regex(stdout, /import type \{ Migration \} from 'strongbox';/);
  t.regex(stdout, /2000 of 2000 document\(s\) have values to rewrite/);
  t.regex(stdout, /email\s+Deterministic string, key 'customers'\s+0\s+2000\s+0\s+0\s+-/);
  t.regex(stdout, /ssn\s+Random, key 'customers'\s+0\s+0\s+2000\s+0\s+-/);
  t.regex(stdout, /finds customers by email \(Deterministic\): Customer 42/);
  t.regex(stdout, /Done: every email and ssn is encrypted/);
});

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BSON } from 'mongodb';
import { main } from '../../src/cli/main';
import { masterKeyFile } from '../harness/client';
import { pkiDir, testServer, uniqueDbName } from '../harness/server';

const cli = resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** The CLI as a process, as a shell or CI runs it: exit code and both streams. */
async function runProcess(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...argv], { env });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

/** Writes a compiled-style configuration module, as a project's tsc would emit it. */
async function configFile(tlsOverride?: object, options: { quiet?: boolean; keyVault?: string } = {}): Promise<string> {
  const server = await testServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  const file = join(dir, 'strongbox.config.js');
  const person = resolve(__dirname, '..', '..', 'examples', 'models', 'person.js');
  writeFileSync(file, `const { Person } = require(${JSON.stringify(person)});
module.exports = { default: {
  uri: ${JSON.stringify(server.uri)},
  tls: ${JSON.stringify(tlsOverride ?? server.tls)},
  kms: { local: { keyFile: ${JSON.stringify(masterKeyFile())} } },
  keyVault: { namespace: '${options.keyVault ?? `sb_cli_${process.pid}`}.__keyVault' },
  models: [Person],
  ${options.quiet === false ? '' : 'warn: () => undefined,'}
} };\n`);
  return file;
}

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('strongbox schema prints the schema map and validators of the configured models', async (t) => {
  const r = await run(['schema', '--config', await configFile()]);
  t.is(r.code, 0, r.err);
  const parsed = BSON.EJSON.parse(r.out) as { schemaMap: Record<string, any>; validators: Record<string, any> };
  t.deepEqual(Object.keys(parsed.schemaMap), ['app.people']);
  t.is(parsed.schemaMap['app.people'].properties.ssn.encrypt.algorithm, 'AEAD_AES_256_CBC_HMAC_SHA_512-Random');
  t.is(parsed.schemaMap['app.people'].properties.phone.encrypt.bsonType, 'string');
  t.is(parsed.schemaMap['app.people'].encryptMetadata.keyId[0].sub_type, 4, 'the model key is named by its UUID');
  t.truthy(parsed.validators['app.people'].$jsonSchema);
});

test('strongbox doctor passes on a good configuration and fails, with reasons, on a bad CA', async (t) => {
  const good = await run(['doctor', '--config', await configFile()]);
  t.is(good.code, 0, good.out + good.err);
  t.regex(good.out, /✔/);
  const server = await testServer();
  if (!server.tls.caFile) { t.pass('MONGODB_URI without a test CA: the bad-CA half needs the local PKI'); return; }
  const bad = await run(['doctor', '--config', await configFile({ ...server.tls, caFile: join(pkiDir, 'other-ca.pem') }), '--timeout', '1500']);
  t.is(bad.code, 1);
  t.regex(bad.out, /✘/);
});

test('usage errors: unknown command, missing configuration', async (t) => {
  const unknown = await run(['frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.err, /unknown command "frobnicate"/);
  const missing = await run(['schema', '--config', '/nonexistent/strongbox.config.js']);
  t.is(missing.code, 1);
  t.regex(missing.err, /does not exist.*\[CONFIG_NOT_FOUND\]/s);
  const ts = await run(['schema', '--config', resolve(__dirname, '..', '..', '..', 'strongbox.config.ts')]);
  t.regex(ts.err, /TypeScript source.*\[CONFIG_TYPESCRIPT_SOURCE\]/s);
});

test('--help, -h and --version exit 0; no command and an unknown one exit 2', async (t) => {
  const version = (JSON.parse(readFileSync(resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await runProcess(argv);
    t.is(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    t.regex(r.out, /^Usage: strongbox <command>/, argv.join(' '));
    t.regex(r.out, /Exit codes: 0 success; 1 a check found a problem .*\n?.*2 usage error/);
  }
  const v = await runProcess(['--version']);
  t.is(v.code, 0);
  t.is(v.out.trim(), version);
  for (const argv of [['audit', '-h'], ['migration', '--help'], ['server', '--help']]) {
    const r = await runProcess(argv);
    t.is(r.code, 0, argv.join(' '));
    t.regex(r.out, /^Usage:\s+strongbox (audit|migration|server)/, argv.join(' '));
  }
  const none = await runProcess([]);
  t.is(none.code, 2);
  t.regex(none.err, /^Usage: strongbox <command>/);
  t.is((await runProcess(['frobnicate'])).code, 2);
});

test('--json output of keys list, migration status and audit parses; audit without a model audits every model', async (t) => {
  const config = await configFile();
  const keys = await run(['keys', 'list', '--json', '--config', config]);
  t.is(keys.code, 0, keys.err);
  t.true(Array.isArray(JSON.parse(keys.out)));
  const status = await run(['migration', 'status', '--json', '--config', config]);
  t.is(status.code, 0, status.err);
  t.deepEqual(JSON.parse(status.out), []);
  const all = await run(['audit', '--json', '--config', config]);
  t.is(all.code, 0, all.out + all.err);
  const reports = JSON.parse(all.out) as Array<{ model: string; namespace: string; consistent: boolean }>;
  t.deepEqual(reports.map((r) => [r.model, r.namespace]), [['Person', 'app.people']]);
  const one = JSON.parse((await run(['audit', 'Person', '--json', '--config', config])).out) as { model: string };
  t.is(one.model, 'Person', 'with a model: that one report, not an array');
  const repairAll = await run(['audit', '--repair-migration', 'fix', '--config', config]);
  t.is(repairAll.code, 2);
  t.regex(repairAll.err, /\[CLI_AUDIT_REPAIR_MODEL\]/);
});

test('a note about the server is said once, not by every later command', async (t) => {
  const config = await configFile(undefined, { quiet: false, keyVault: uniqueDbName(__filename, 'note') });
  const first = await runProcess(['keys', 'list', '--config', config]);
  const second = await runProcess(['keys', 'list', '--config', config]);
  t.is(first.code, 0, first.err);
  t.is(second.code, 0, second.err);
  const notes = (text: string) => text.split('\n').filter((line) => line.startsWith('strongbox: note:')).length;
  const server = await testServer();
  t.is(notes(first.err), server.features.has('partialIndexes') ? 0 : 1, `the first run says why the key vault index is not partial: ${first.err}`);
  t.is(notes(second.err), 0, 'the key vault index is in place: nothing new to say');
});

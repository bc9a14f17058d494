/*
 * The CLI end to end, as a user runs it: migration create → tsc → up --dry-run → up → status,
 * audit, keys list / delete without --confirm / rotate, down, unlock.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { isEncryptedBinary } from '../../src/crypto/blob';
import { masterKeyFile, rawClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const REPO = resolve(__dirname, '..', '..', '..');

async function run(config: string, ...argv: string[]) {
  const out: string[] = [];
  const code = await main([...argv, '--config', config], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out: out.join('\n') };
}

test('migration create, tsc, up --dry-run, up, status, audit, keys and down through the CLI', async (t) => {
  const server = await testServer();
  const work = mkdtempSync(join(tmpdir(), 'strongbox-cli-'));
  const keyFile = masterKeyFile();
  const config = join(work, 'strongbox.config.js');
  // As a project's tsc would emit it; the model is the crash test's (people.ssn, Random, key 'crash').
  writeFileSync(config, `const { crashModel } = require(${JSON.stringify(join(__dirname, 'backfillChild.js'))});
module.exports = { default: () => ({
  uri: ${JSON.stringify(server.uri)}, tls: ${JSON.stringify(server.tls)},
  kms: { local: { keyFile: process.env.CLI_TEST_KEY_FILE || ${JSON.stringify(keyFile)} } },
  keyVault: { namespace: '${DB}_keys.__keyVault' },
  models: [crashModel(${JSON.stringify(DB)})],
  migrations: { folder: ${JSON.stringify(join(work, 'migrations'))}, compiledFolder: ${JSON.stringify(join(work, 'dist'))}, database: '${DB}_sb',
    importFrom: ${JSON.stringify(join(REPO, 'dist', 'src', 'migrations'))} },
  warn: () => undefined,
}) };\n`);
  const raw = await rawClient();
  try {
    await raw.db(DB).collection('people').insertMany(Array.from({ length: 50 }, (_, n) => ({ n, ssn: `ssn-${n}` })));

    const created = await run(config, 'migration', 'create', 'encrypt', 'ssn');
    t.is(created.code, 0, created.out);
    t.regex(created.out, /Wrote .*_encrypt_ssn\.ts \(3 up step\(s\)/);
    const uncompiled = await run(config, 'migration', 'status');
    t.is(uncompiled.code, 1, 'a migration that is not compiled is never silently left out');
    t.regex(uncompiled.out, /_encrypt_ssn\.ts \(not compiled\).*\[MIGRATION_NOT_COMPILED\]/s);

    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', rootDir: 'migrations', outDir: 'dist', types: [], skipLibCheck: true }, include: ['migrations/*.ts'] }));
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { encoding: 'utf8' });
    t.is(readdirSync(join(work, 'dist')).length, 1);

    const dry = await run(config, 'migration', 'up', '--dry-run');
    t.is(dry.code, 0, dry.out);
    t.regex(dry.out, /Dry run against/);
    t.regex(dry.out, /50 of 50 document\(s\) have values to rewrite/);
    t.false((await raw.db(DB).collection('people').findOne({}))!.ssn instanceof Object, 'still plaintext after the dry run');

    const up = await run(config, 'migration', 'up');
    t.is(up.code, 0, up.out);
    t.true((await raw.db(DB).collection('people').find().toArray()).every((d) => isEncryptedBinary(d.ssn)));
    const status = await run(config, 'migration', 'status');
    t.regex(status.out, /applied\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{8}T\d{6}_encrypt/);
    t.is(status.code, 0);

    const audit = await run(config, 'audit', 'Person');
    t.is(audit.code, 0, audit.out);
    t.regex(audit.out, /ssn\s+Random, key 'crash'\s+0\s+0\s+50\s+0\s+-/);
    t.regex(audit.out, /Consistent/);
    const json = JSON.parse((await run(config, 'audit', `${DB}.people`, '--json')).out);
    t.deepEqual(json.paths[0].expected.key, { altName: 'crash' });

    const keys = await run(config, 'keys', 'list');
    t.regex(keys.out, new RegExp(`crash\\n    master key: local; created .*\\n    used by: ${DB}.people.ssn`));
    const refused = await run(config, 'keys', 'delete', '--alt-name', 'crash');
    t.is(refused.code, 1);
    t.regex(refused.out, /would make 50 document\(s\) of the configured models unreadable/);
    t.regex(refused.out, /Nothing was deleted/);

    const newKey = join(work, 'new.key');
    writeFileSync(newKey, randomBytes(96).toString('base64'), { mode: 0o600 });
    const rotated = await run(config, 'keys', 'rotate', '--new-local-key-file', newKey);
    t.is(rotated.code, 0, rotated.out);
    t.regex(rotated.out, /Rewrapped 1 local data key\(s\) \(every key\)/);
    process.env.CLI_TEST_KEY_FILE = newKey;

    const blocked = await run(config, 'migration', 'down');
    t.is(blocked.code, 1);
    t.regex(blocked.out, /MIGRATION_DESTRUCTIVE/);
    const down = await run(config, 'migration', 'down', '--allow-destructive');
    t.is(down.code, 0, down.out);
    t.deepEqual((await raw.db(DB).collection('people').find().sort({ n: 1 }).toArray()).map((d) => d.ssn).slice(0, 2), ['ssn-0', 'ssn-1'], 'decrypted with the rotated key');
    t.regex((await run(config, 'migration', 'unlock')).out, /No migration lock was held/);
  } finally {
    delete process.env.CLI_TEST_KEY_FILE;
    await raw.close();
  }
});

/*
 * `strongbox keys create | add-alt-name | remove-alt-name | show` through the CLI entry point,
 * against the test server, with a compiled-style configuration module.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { masterKeyFile } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';

const dir = mkdtempSync(join(tmpdir(), 'sb-keys-cli-'));

async function configFile(): Promise<string> {
  const server = await testServer();
  const file = join(dir, 'strongbox.config.js');
  const person = resolve(__dirname, '..', '..', 'examples', 'models', 'person.js');
  writeFileSync(file, `const { Person } = require(${JSON.stringify(person)});
module.exports = { default: {
  uri: ${JSON.stringify(server.uri)},
  tls: ${JSON.stringify(server.tls)},
  kms: { local: { keyFile: ${JSON.stringify(masterKeyFile())} } },
  keyVault: { namespace: '${uniqueDbName(__filename)}.__keyVault' },
  models: [Person],
  warn: () => undefined,
} };\n`);
  return file;
}

async function run(config: string, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['keys', ...argv, '--config', config], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('keys create, add-alt-name, show, remove-alt-name; a taken alt name is refused with the reason', async (t) => {
  const config = await configFile();
  const material = join(dir, 'material.b64');
  writeFileSync(material, randomBytes(96).toString('base64'), { mode: 0o600 });

  const created = await run(config, 'create', '--alt-name', 'cli-a,cli-b', '--key-material-file', material);
  t.is(created.code, 0, created.err);
  const id = /Created data key ([0-9a-f-]{36})/.exec(created.out)?.[1];
  t.truthy(id, created.out);
  t.regex(created.out, /cli-a, cli-b\n    master key: local/);

  const taken = await run(config, 'create', '--alt-name', 'cli-b');
  t.is(taken.code, 1);
  t.regex(taken.err, new RegExp(`'cli-b' belongs to data key ${id}.*unique index on keyAltNames.*\\[KEY_ALT_NAME_TAKEN\\]`, 's'));

  const added = await run(config, 'add-alt-name', '--alt-name', 'cli-a', 'cli-c');
  t.is(added.code, 0, added.err);
  const shown = await run(config, 'show', '--id', id!, '--json');
  t.is(shown.code, 0, shown.err);
  t.deepEqual(JSON.parse(shown.out).altNames, ['cli-a', 'cli-b', 'cli-c']);

  const removed = await run(config, 'remove-alt-name', 'cli-c');
  t.is(removed.code, 0, removed.err);
  t.regex(removed.out, new RegExp(`${id}  cli-a, cli-b\\n`));
  const gone = await run(config, 'show', '--alt-name', 'cli-c');
  t.is(gone.code, 1);
  t.regex(gone.err, /KEY_NOT_FOUND/);

  const usage = await run(config, 'add-alt-name', 'cli-d');
  t.is(usage.code, 2, 'a usage error exits 2, as every CLI_* error (docs/install.md)');
  t.regex(usage.err, /CLI_ONE_KEY/);
});

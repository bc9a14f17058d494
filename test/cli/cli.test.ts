import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BSON } from 'mongodb';
import { main } from '../../src/cli/main';
import { masterKeyFile } from '../harness/client';
import { pkiDir, testServer } from '../harness/server';

/** Writes a compiled-style configuration module, as a project's tsc would emit it. */
async function configFile(tlsOverride?: object): Promise<string> {
  const server = await testServer();
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  const file = join(dir, 'strongbox.config.js');
  const person = resolve(__dirname, '..', '..', 'examples', 'models', 'person.js');
  writeFileSync(file, `const { Person } = require(${JSON.stringify(person)});
module.exports = { default: {
  uri: ${JSON.stringify(server.uri)},
  tls: ${JSON.stringify(tlsOverride ?? server.tls)},
  kms: { local: { keyFile: ${JSON.stringify(masterKeyFile())} } },
  keyVault: { namespace: 'sb_cli_${process.pid}.__keyVault' },
  models: [Person],
  warn: () => undefined,
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
  t.is(missing.code, 3, 'an error naming its cause and fix, not a usage error');
  t.regex(missing.err, /does not exist.*\[CONFIG_NOT_FOUND\]/s);
  const ts = await run(['schema', '--config', resolve(__dirname, '..', '..', '..', 'strongbox.config.ts')]);
  t.regex(ts.err, /TypeScript source.*\[CONFIG_TYPESCRIPT_SOURCE\]/s);
});

import anyTest, { type TestFn } from 'ava';
import { runDoctor, type DoctorConfig } from '../../src/cli/commands/doctor';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { pki, startTlsFront, type Front } from '../harness/tlsFront';

const test = anyTest as TestFn<{ server: LocalServer; otherCa: Front }>;

test.before(async (t) => {
  const server = await startLocalServer();
  t.context = { server, otherCa: await startTlsFront({ certificate: 'server-otherca', upstreamPort: Number(new URL(server.uri).port) }) };
});
test.after.always(async (t) => {
  await t.context.otherCa?.close();
  await t.context.server?.stop();
});

async function doctor(config: DoctorConfig): Promise<{ ok: boolean; lines: string[]; ms: number }> {
  const lines: string[] = [];
  const started = Date.now();
  const ok = await runDoctor({ timeoutMS: 2000, ...config }, (line) => lines.push(line));
  return { ok, lines, ms: Date.now() - started };
}

test('a good configuration: every check passes, one line each', async (t) => {
  const { ok, lines } = await doctor({ uri: t.context.server.tlsUri, tls: { caFile: pki('ca.pem'), certificateKeyFile: pki('client.pem') }, environment: 'production' });
  t.true(ok);
  t.is(lines.length, 3);
  t.true(lines.every((l) => l.startsWith('✔ ')));
  t.regex(lines[2]!, /answered hello over TLS, its certificate and host name verified/);
});

test('an unknown CA: the failing line names the trusted CA, the server\'s issuer and the fix', async (t) => {
  const { ok, lines } = await doctor({ uri: t.context.otherCa.uri(), tls: { caFile: pki('ca.pem') }, environment: 'production' });
  t.false(ok);
  const failing = lines.find((l) => l.startsWith('✘ connection'));
  t.regex(failing!, /Strongbox Test ca.*issued by .*Strongbox Test other-ca.*Fix: set `caFile` \(URI `tlsCAFile`\).*\[TLS_UNKNOWN_CA\]$/);
});

test('configuration errors are all listed and nothing is connected', async (t) => {
  const { ok, lines, ms } = await doctor({
    uri: `${t.context.otherCa.uri()}&tlsInsecure=true`,
    tls: { certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: 'pw-Xy7-not-it' },
    environment: 'production',
  });
  t.false(ok);
  t.deepEqual(lines.filter((l) => l.startsWith('✘')).map((l) => /\[([A-Z_]+)\]$/.exec(l)?.[1]), ['TLS_INSECURE_IN_PRODUCTION', 'TLS_KEY_PASSPHRASE_WRONG']);
  t.false(lines.some((l) => l.includes('connection:')));
  t.false(lines.join('\n').includes('pw-Xy7-not-it'), 'never prints the passphrase');
  t.true(ms < 1000, `no network wait (${ms} ms)`);
});

test('a connection string that contradicts the options fails the first check', async (t) => {
  const { ok, lines } = await doctor({ uri: 'mongodb://localhost:1/?tls=true&tlsCAFile=%2Fa.pem', tls: { caFile: '/b.pem' }, environment: 'development' });
  t.false(ok);
  t.deepEqual(lines.length, 1);
  t.regex(lines[0]!, /^✘ connection string: .*\[TLS_URI_OBJECT_CONFLICT\]$/);
});

test('development warnings are printed and do not fail the run', async (t) => {
  const { ok, lines } = await doctor({ uri: t.context.otherCa.uri(), tls: { insecure: true }, environment: 'development' });
  t.true(ok);
  t.true(lines.some((l) => l.startsWith('⚠ ') && l.includes('TLS_INSECURE_OPTION')));
  t.regex(lines.at(-1)!, /NOT verified/);
});

test('a failure that is not about TLS is still reported with the driver\'s words', async (t) => {
  const { ok, lines } = await doctor({ uri: 'mongodb://127.0.0.1:1/', environment: 'development' });
  t.false(ok);
  t.regex(lines.at(-1)!, /^✘ connection: .*ECONNREFUSED/);
});

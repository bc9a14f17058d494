/**
 * The three listener mistakes, each against a real listener: TLS on against FerretDB's plain
 * port, TLS off against its TLS port, and a port where nothing listens. createClient and doctor
 * must each name the cause at once, not after the driver's 30 s server-selection timeout.
 */
import anyTest, { type TestFn } from 'ava';
import { createServer } from 'node:net';
import { runDoctor } from '../../src/cli/commands/doctor';
import { createClient } from '../../src/client/createClient';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { ModelDefinitionError, StrongboxError } from '../../src/errors';
import { Field, Id, Model } from '../../src';
import { MetadataRegistry } from '../../src/metadata/registry';
import { masterKeyFile } from '../harness/client';

const test = anyTest as TestFn<{ server: LocalServer; closedPort: number }>;

test.before(async (t) => {
  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  t.context = { server: await startLocalServer(), closedPort };
});
test.after.always(async (t) => { await t.context.server?.stop(); });

const cases = [
  { title: 'TLS on against a plain port', code: 'TLS_SERVER_NOT_TLS', message: /answers plain MongoDB without TLS/, uri: (c: { server: LocalServer }) => `mongodb://127.0.0.1:${c.server.port}/?tls=true`, tls: (c: { server: LocalServer }) => ({ caFile: c.server.caFile, certificateKeyFile: c.server.clientCertificateKeyFile }) },
  { title: 'TLS off against a TLS port', code: 'TLS_SERVER_REQUIRES_TLS', message: /TLS is off, but localhost:\d+ speaks TLS/, uri: (c: { server: LocalServer }) => `mongodb://localhost:${c.server.tlsPort}/`, tls: () => ({}) },
  { title: 'a server that is down', code: 'CONNECT_FAILED', message: /Nothing is listening on 127\.0\.0\.1:\d+/, uri: (c: { closedPort: number }) => `mongodb://127.0.0.1:${c.closedPort}/`, tls: () => ({}) },
] as const;

for (const c of cases) {
  test(`createClient: ${c.title} is its own error, without waiting out server selection`, async (t) => {
    const started = Date.now();
    const err = await t.throwsAsync(createClient({ uri: c.uri(t.context), tls: c.tls(t.context), kms: { local: { keyFile: masterKeyFile() } }, models: [], warn: () => undefined }));
    const elapsed = Date.now() - started;
    t.true(err instanceof StrongboxError, String(err));
    t.is((err as StrongboxError).code, c.code);
    t.regex(err!.message, c.message);
    t.regex(err!.message, /Fix: /);
    t.true(elapsed < 5000, `took ${elapsed} ms; the driver alone would wait 30 s`);
  });

  test(`doctor: ${c.title} is its own failed check, without waiting out the timeout`, async (t) => {
    const lines: string[] = [];
    const started = Date.now();
    const ok = await runDoctor({ uri: c.uri(t.context), tls: c.tls(t.context), environment: 'development', timeoutMS: 20_000 }, (line) => lines.push(line));
    t.false(ok);
    const failed = lines.find((line) => line.startsWith('✘ connection'));
    t.truthy(failed, lines.join('\n'));
    t.regex(failed!, new RegExp(`\\[${c.code}\\]`));
    t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
}

test('a healthy TLS port still connects: the probe does not get in the way', async (t) => {
  const { server } = t.context;
  const client = await createClient({ uri: server.tlsUri, tls: { caFile: server.caFile, certificateKeyFile: server.clientCertificateKeyFile }, kms: { local: { keyFile: masterKeyFile() } }, models: [], warn: () => undefined });
  await client.close();
  t.pass();
});

test('a model without decorator metadata (as tsx or esbuild run it) names the likely runner and the fix', (t) => {
  // What esbuild emits for decorators: the decorator calls, and no design:type metadata.
  class Visit { _id!: unknown; reason!: string; }
  Id()(Visit.prototype, '_id');
  Field()(Visit.prototype, 'reason');
  Model({ db: 'clinic', collection: 'visits' })(Visit);
  const err = t.throws(() => new MetadataRegistry([Visit]), { instanceOf: ModelDefinitionError });
  t.is(err?.code, 'MODEL_DECORATOR_METADATA_MISSING');
  t.regex(err!.message, /^Visit\.reason: /);
  t.regex(err!.message, /tsx, esbuild/);
  t.regex(err!.message, /emitDecoratorMetadata/);
  t.regex(err!.message, /Fix: compile with tsc/);
});

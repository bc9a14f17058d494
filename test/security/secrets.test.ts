/**
 * Secrets never leak: a full scenario, including its failures (wrong master key, crypto-shredded
 * key, wrong TLS passphrase, insecure TLS in production, malformed keys and refused input), runs
 * with everything captured: console and process output, the `warn` hook, the `queryLog` hook,
 * process warnings, and every thrown error with its stack, cause chain, properties and
 * util.inspect form. None of it may contain the master key (raw, base64 or hex, or any long run
 * of them), the TLS key passphrase, or any plaintext of an encrypted field.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { ObjectId } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import type { StrongboxConfig } from '../../src/config/strongboxConfig';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { ConfigError, DecryptionError, KeyError, StrongboxError } from '../../src/errors';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { testServer, uniqueDbName } from '../harness/server';
import { pki } from '../harness/tlsFront';
import { exposedText } from './support';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'customers' })
class Customer {
  @Id() _id!: ObjectId;
  @Field() customerId!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'contact' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/customerId' }) ssn!: Random<string>;
}

function keyFileWith(key: Buffer, mode: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'strongbox-secret-')), 'master.key');
  writeFileSync(file, key.toString('base64'), { mode });
  chmodSync(file, mode);
  return file;
}

/** Every text form of the key, and every 16-character run of its base64 and hex forms (a truncated key is still a leak). */
function keyForms(key: Buffer): string[] {
  const hex = key.toString('hex');
  // The last two are how util.inspect and console.log show a Buffer: '<Buffer 3f a0 …>'.
  const forms = [key.toString('base64'), key.toString('base64url'), hex, hex.toUpperCase(), hex.match(/../g)!.join(' '), key.toString('latin1')];
  const runs: string[] = [];
  for (const form of forms.slice(0, 5)) for (let i = 0; i + 16 <= form.length; i++) runs.push(form.slice(i, i + 16));
  return [...forms, ...runs];
}

/** Captures everything the process writes while `fn` runs. */
async function capturing(fn: () => Promise<void>): Promise<string[]> {
  const captured: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  const writes = [process.stdout.write, process.stderr.write];
  const onWarning = (w: Error) => captured.push(exposedText(w));
  for (const m of methods) console[m] = (...args: unknown[]) => { captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 8 }))).join(' ')); };
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => { captured.push(String(chunk)); const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined; cb?.(); return true; }) as typeof stream.write;
  }
  process.on('warning', onWarning);
  try {
    await fn();
  } finally {
    methods.forEach((m, i) => { console[m] = saved[i] as never; });
    [process.stdout.write, process.stderr.write] = writes;
    process.off('warning', onWarning);
  }
  return captured;
}

test('a full scenario with failures leaks no master key, passphrase or plaintext into logs, warnings or thrown errors', async (t) => {
  const server = await testServer();
  const masterKey = randomBytes(96);
  const keyFile = keyFileWith(masterKey, 0o600);
  const passphrase = readFileSync(pki('client-encrypted.passphrase'), 'utf8').trim();
  const keyVault = { namespace: `sb_secretkeys_${randomBytes(3).toString('hex')}.__keyVault` };
  const plaintexts: string[] = [];
  const secret = (label: string) => { const v = `«${label}-${randomBytes(5).toString('hex')}»`; plaintexts.push(v); return v; };
  const thrown: unknown[] = [];
  const hooks: string[] = [];
  const expectFailure = async (what: string, run: () => Promise<unknown>, type: new (...a: never[]) => StrongboxError) => {
    const err = await t.throwsAsync(run, { instanceOf: type }, what);
    if (err) thrown.push(err);
  };
  // The TLS client key is encrypted: its passphrase is really used on the connection.
  const tls = { ...(server.tls as object), certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: passphrase };
  const config = (overrides: Partial<StrongboxConfig> = {}): StrongboxConfig => ({
    uri: server.uri, tls, kms: { local: { keyFile } }, keyVault, models: [Customer], environment: 'development',
    warn: (m) => hooks.push(m), queryLog: (line) => hooks.push(line), ...overrides,
  });

  const output = await capturing(async () => {
    let client: StrongboxClient | undefined;
    let reader: StrongboxClient | undefined;
    try {
      client = await createClient(config());
      const repo = client.repository(Customer);
      const ann = { customerId: 'ann', email: secret('email'), ssn: secret('ssn') };
      await repo.insertOne(ann as never);
      await repo.insertMany([{ customerId: 'bob', email: secret('email'), ssn: secret('ssn') }, { customerId: 'cyd', email: secret('email'), ssn: secret('ssn') }] as never[]);
      const found = (await repo.findOne({ email: ann.email } as never))!;
      t.is(found.ssn, ann.ssn, 'the scenario really decrypts');
      await repo.updateOne({ customerId: 'ann', email: ann.email } as never, { $set: { ssn: secret('ssn2'), email: secret('email2') } } as never);
      await repo.find({ email: { $in: [secret('in'), secret('in')] } } as never).toArray();
      await repo.aggregate([{ $match: { email: secret('agg') } }]).toArray();
      await repo.deleteMany({ email: secret('del') } as never);
      // Applications log clients and repositories; what they print must hold no secret.
      console.log(client, repo, JSON.stringify(client), JSON.stringify(repo));

      // Refused input that carries plaintext.
      await expectFailure('a Random field in a filter', () => repo.find({ ssn: secret('query') } as never).toArray(), StrongboxError);
      await expectFailure('an object where an encrypted string belongs', () => repo.insertOne({ customerId: 'dan', email: { nested: secret('obj') }, ssn: secret('ssn') } as never), StrongboxError);
      await expectFailure('a number where an encrypted string belongs', () => repo.insertOne({ customerId: 'dan', email: Number.parseInt(randomBytes(3).toString('hex'), 16) } as never), StrongboxError);
      await expectFailure('an operator in an encrypted value', () => repo.updateOne({ customerId: 'ann' } as never, { $set: { email: { $ne: secret('op') } } } as never), StrongboxError);

      // Crypto-shredding: bob's key is deleted; a fresh client can no longer read his ssn.
      await client.encryption.deleteKey((await client.keyVault.findKeyId('bob'))!);
      reader = await createClient(config());
      await expectFailure('a crypto-shredded key', () => reader!.repository(Customer).findOne({ customerId: 'bob' } as never), DecryptionError);
      const marked = await reader.repository(Customer, { onUndecryptable: 'marker' }).findOne({ customerId: 'bob' } as never);
      // The marker stands where the shredded value was; logging it shows no plaintext.
      console.log(marked!.ssn, JSON.stringify(marked!.ssn));
      await reader.close();

      // The wrong master key.
      reader = await createClient(config({ kms: { local: { keyFile: keyFileWith(randomBytes(96), 0o600) } } }));
      await expectFailure('the wrong master key', () => reader!.repository(Customer).findOne({ customerId: 'cyd' } as never), DecryptionError);
      await reader.close();
      reader = undefined;

      // Malformed master keys and TLS mistakes, all refused before any connection.
      await expectFailure('a truncated master key', () => createClient(config({ kms: { local: { key: masterKey.subarray(0, 95) } } })), KeyError);
      await expectFailure('a master key with a character too many', () => createClient(config({ kms: { local: { key: `${masterKey.toString('base64')}A` } } })), KeyError);
      await expectFailure('a master key file holding hex', () => createClient(config({ kms: { local: { keyFile: ((f) => (writeFileSync(f, masterKey.toString('hex')), f))(keyFileWith(masterKey, 0o600)) } } })), KeyError);
      await expectFailure('the wrong TLS passphrase', () => createClient(config({ tls: { ...tls, certificateKeyFilePassword: `${passphrase}x` } })), ConfigError);
      await expectFailure('the passphrase in the URI and a different one in the options', () => createClient(config({ uri: `${server.uri}${server.uri.includes('?') ? '&' : '?'}tlsCertificateKeyFilePassword=${encodeURIComponent(passphrase)}`, tls: { ...tls, certificateKeyFilePassword: 'other' } })), ConfigError);
      await expectFailure('insecure TLS in production', () => createClient(config({ environment: 'production', tls: { ...tls, allowInvalidCertificates: true } })), ConfigError);
      await expectFailure('tlsInsecure in a production URI', () => createClient(config({ environment: 'production', uri: `${server.uri}${server.uri.includes('?') ? '&' : '?'}tlsInsecure=true` })), ConfigError);
    } finally {
      await reader?.close();
      await client?.close();
    }
  });

  t.is(thrown.length, 13, 'every failure of the scenario happened');
  t.true(hooks.some((l) => /insertMany|find\(/.test(l)), 'the query log saw the commands');
  t.true(output.some((l) => l.includes('StrongboxClient')), 'console output was captured');
  const everything = [...output, ...hooks, ...thrown.map(exposedText)].join('\n');
  const leaks = [
    ...keyForms(masterKey).filter((f) => everything.includes(f)).map((f) => `master key form ${f.slice(0, 6)}…`),
    ...(everything.includes(passphrase) ? ['the TLS key passphrase'] : []),
    ...plaintexts.filter((p) => everything.includes(p)),
  ];
  t.deepEqual(leaks, [], 'nothing secret in logs, warnings or errors');
});

test('createClient warns about a key file every user can read, naming the file and never the key', async (t) => {
  const server = await testServer();
  const key = randomBytes(96);
  const open = async (mode: number) => {
    const warnings: string[] = [];
    const file = keyFileWith(key, mode);
    const client = await createClient({ uri: server.uri, tls: server.tls, kms: { local: { keyFile: file } }, models: [], environment: 'development', warn: (m) => warnings.push(m) });
    await client.close();
    return { file, warnings: warnings.filter((w) => !w.includes('partial indexes')) };
  };
  const readable = await open(0o644);
  t.is(readable.warnings.length, 1);
  t.true(readable.warnings[0].includes(readable.file) && /readable by every user/.test(readable.warnings[0]) && readable.warnings[0].includes('chmod 600'));
  t.false(keyForms(key).some((f) => readable.warnings[0].includes(f)), 'the warning does not quote the key');
  t.deepEqual((await open(0o600)).warnings, [], 'a private key file gets no warning');
});

test('production mode refuses every insecure TLS option, in the options and in the URI, before connecting', async (t) => {
  for (const option of ['insecure', 'allowInvalidCertificates', 'allowInvalidHostnames'] as const) {
    for (const form of ['options', 'uri'] as const) {
      const uriName = { insecure: 'tlsInsecure', allowInvalidCertificates: 'tlsAllowInvalidCertificates', allowInvalidHostnames: 'tlsAllowInvalidHostnames' }[option];
      // Port 1 on loopback: if validation let it through, the error would be a connection failure instead.
      const err = await t.throwsAsync(createClient({
        uri: form === 'uri' ? `mongodb://127.0.0.1:1/?tls=true&${uriName}=true` : 'mongodb://127.0.0.1:1/',
        tls: form === 'options' ? { enabled: true, [option]: true } : undefined,
        kms: { local: { key: randomBytes(96) } }, models: [], environment: 'production',
        driverOptions: { serverSelectionTimeoutMS: 1 },
      }), { instanceOf: ConfigError }, `${option} in the ${form}`);
      t.is(err!.code, 'TLS_INSECURE_IN_PRODUCTION', `${option} in the ${form}`);
    }
  }
});

/**
 * Hostile TLS configuration, property-based: random connection strings and option objects (with
 * the wrong types JavaScript and JSON callers can pass) through the TLS layer and createClient.
 * Whatever the input: only typed errors, nothing TLS reaches the driver except what Strongbox
 * decided, insecure settings never survive production mode, and passphrases and URI passwords
 * never appear in what is thrown or warned.
 */
import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { createClient } from '../../src/client/createClient';
import { ConfigError } from '../../src/errors';
import { INSECURE_OPTIONS, TLS_OPTION_SPECS, type TlsOptions } from '../../src/tls/options';
import { checkKmsTlsOptions } from '../../src/tls/kms';
import { parseTlsUri, resolveTls, tlsFromUri, tlsToDriverOptions, tlsToUriQuery } from '../../src/tls/uri';
import { checkTlsOptions, validateTlsOptions } from '../../src/tls/validate';
import { pki } from '../harness/tlsFront';
import { exposedText, runs, typedOutcome, untyped } from './support';

const TLS_NAMES_LOWER = new Set([...TLS_OPTION_SPECS.map((s) => s.uriName.toLowerCase()), 'ssl']);
let tried = 0;
test.after(() => console.log(`tls hostile inputs tried: ${tried}`));

const randomCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length })
  .map((upper) => [...s].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
const tlsUriName = fc.constantFrom(...TLS_OPTION_SPECS.map((s) => s.uriName), 'ssl').chain(randomCase);
const nastyText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('true', 'false', 'TRUE', '1', '', '%', '%zz', '%2B', '+', '&', '=', '?', '#', '%00', '%26tlsInsecure%3Dtrue', 'true&tlsInsecure=true', '../../etc/passwd'),
);
const segment = fc.oneof(
  fc.tuple(tlsUriName, nastyText).map(([k, v]) => `${k}=${v}`),
  fc.tuple(tlsUriName, nastyText).map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
  fc.tuple(fc.string({ maxLength: 8 }), nastyText).map(([k, v]) => `${k}=${v}`),
  fc.constantFrom('', 'tls', 'tlsInsecure', 'appName=x', 'replicaSet=rs0', 'tls%49nsecure=true', 'TLSINSECURE=true', ' tlsInsecure=true', 'tlsInsecure =true', 'tlsAllowInvalidCertificates=true'),
);
/** A well-formed TLS parameter, so that inputs also get past parsing to validation and connecting. */
const wellFormedSegment = fc.constantFrom(...TLS_OPTION_SPECS).chain((spec) => (spec.kind === 'boolean' ? fc.boolean().map(String) : fc.constantFrom(pki('ca.pem'), pki('client.pem'), '/nonexistent/ca.pem').map(encodeURIComponent)).map((v) => `${spec.uriName}=${v}`));
const withQuery = (bases: readonly string[], parts: fc.Arbitrary<string> = segment) => fc.tuple(fc.constantFrom(...bases), fc.array(parts, { maxLength: 4 }))
  .map(([base, segments]) => (segments.length ? `${base}?${segments.join('&')}` : base));

/** Options as typed (for round trips); paths drawn from real, missing and wrong files. */
const filePath = fc.constantFrom(pki('ca.pem'), pki('client.pem'), pki('client-encrypted.pem'), pki('crl.pem'), pki('crl.der'), pki('other-ca.pem'), '/nonexistent/ca.pem', pki(''), pki('ca.cnf'));
const typedOptions: fc.Arbitrary<TlsOptions> = fc.record({
  enabled: fc.boolean(), caFile: filePath, certificateKeyFile: filePath, certificateKeyFilePassword: fc.string({ minLength: 1, maxLength: 10 }),
  crlFile: filePath, allowInvalidCertificates: fc.boolean(), allowInvalidHostnames: fc.boolean(), insecure: fc.boolean(), disableOcspEndpointCheck: fc.boolean(),
}, { requiredKeys: [] });

/** What JavaScript and JSON configurations can really hold: any type, in any option. */
const hostileValue = fc.oneof(
  fc.boolean(), filePath, fc.constantFrom('true', 'false', 'yes', '', '1'), fc.integer({ min: -3, max: 5 }),
  fc.constant(null), fc.array(filePath, { maxLength: 2 }), fc.constant({ path: pki('ca.pem') }),
);
const hostileOptions = fc.dictionary(fc.constantFrom(...TLS_OPTION_SPECS.map((s) => s.name)), hostileValue, { maxKeys: 5 }) as fc.Arbitrary<TlsOptions>;

/** How the driver itself would treat a client built from these settings. */
function driverWeakensTls(uri: string, options: object): boolean {
  let client: MongoClient;
  try { client = new MongoClient(uri, options); } catch { return false; }
  const o = client.options as unknown as Record<string, unknown>;
  return o.tlsInsecure === true || o.tlsAllowInvalidCertificates === true || o.tlsAllowInvalidHostnames === true || o.rejectUnauthorized === false;
}

test('any connection string: parsing throws only ConfigError, and the driver never receives a TLS parameter', (t) => {
  const uri = withQuery(['mongodb://localhost/', 'mongodb+srv://cluster.example.invalid/', 'mongodb://a:27017,b:27018/db', 'mongodb://user:p%40ss@localhost/admin', 'mongodb://localhost']);
  fc.assert(fc.property(fc.oneof(uri, fc.string()), (u) => {
    tried++;
    let parsed;
    try { parsed = parseTlsUri(u); } catch (err) { if (err instanceof ConfigError) return; throw new Error(untyped(err)); }
    const at = parsed.driverUri.indexOf('?');
    for (const seg of at < 0 ? [] : parsed.driverUri.slice(at + 1).split('&')) {
      const key = [...new URLSearchParams(seg)][0]?.[0] ?? '';
      if (TLS_NAMES_LOWER.has(key.toLowerCase())) throw new Error(`TLS parameter ${key} left in ${parsed.driverUri}`);
    }
    if (driverWeakensTls(parsed.driverUri, {})) throw new Error(`the driver weakens TLS for ${parsed.driverUri}`);
  }), runs(400));
  t.pass();
});

test('typed options written into a URI read back as the same options; both forms merge without conflict', (t) => {
  fc.assert(fc.property(typedOptions, (options) => {
    tried++;
    const uri = `mongodb://localhost/?${tlsToUriQuery(options)}`;
    // Options the URI Options specification forbids together: both forms refuse them alike.
    const conflict = checkTlsOptions(options, { environment: 'development' }).errors.find((e) => e.code === 'TLS_CONFLICTING_OPTIONS');
    if (conflict) {
      let refusal: unknown;
      try { tlsFromUri(uri); } catch (err) { refusal = err; }
      if ((refusal as Error | undefined)?.message !== conflict.message) throw new Error(`the URI form of ${JSON.stringify(options)} was not refused like the typed form`);
      return;
    }
    const back = tlsFromUri(uri);
    if (JSON.stringify(back) !== JSON.stringify(Object.fromEntries(TLS_OPTION_SPECS.filter((s) => options[s.name] !== undefined).map((s) => [s.name, options[s.name]])))) {
      throw new Error(`round trip changed ${JSON.stringify(options)} into ${JSON.stringify(back)}`);
    }
    const merged = resolveTls(uri, options).tls;
    for (const { name } of TLS_OPTION_SPECS) if (merged[name] !== options[name]) throw new Error(`merge changed ${name}`);
  }), runs(300));
  t.pass();
});

test('the URI form and the object form of the same options get the same verdict', (t) => {
  fc.assert(fc.property(typedOptions, fc.constantFrom('development', 'production') as fc.Arbitrary<'development' | 'production'>, (options, environment) => {
    tried++;
    const asObject = checkTlsOptions(options, { environment });
    const asUri = checkTlsOptions({}, { environment, uri: `mongodb://localhost/?${tlsToUriQuery(options)}` });
    const codes = (r: typeof asObject) => JSON.stringify([r.errors.map((e) => e.code), r.warnings.map((w) => w.code)]);
    if (codes(asObject) !== codes(asUri)) throw new Error(`object ${codes(asObject)} vs URI ${codes(asUri)}`);
  }), runs(150));
  t.pass();
});

test('production: no option object or URI, of any type, gets an insecure TLS setting past validation to the driver', (t) => {
  const uri = withQuery(['mongodb://localhost/']);
  fc.assert(fc.property(hostileOptions, uri, (options, connection) => {
    tried++;
    let tls: TlsOptions;
    let driverUri: string;
    try {
      const resolved = resolveTls(connection, options);
      driverUri = resolved.driverUri;
      tls = validateTlsOptions(resolved.tls, { environment: 'production' }).tls;
    } catch (err) {
      if (err instanceof ConfigError) return;
      throw new Error(untyped(err));
    }
    for (const name of INSECURE_OPTIONS) if (tls[name] !== undefined && tls[name] !== false) throw new Error(`${name} = ${String(tls[name])} accepted in production`);
    if (driverWeakensTls(driverUri, tlsToDriverOptions(tls))) throw new Error(`the driver would weaken TLS for ${JSON.stringify(options)} ${connection}`);
  }), runs(400));
  t.pass();
});

test('development: options of the wrong type are refused by name instead of being misread (a number is not a file)', (t) => {
  fc.assert(fc.property(hostileOptions, (options) => {
    tried++;
    const result = checkTlsOptions(options, { environment: 'development' });
    for (const spec of TLS_OPTION_SPECS) {
      const value = (options as Record<string, unknown>)[spec.name];
      const wellTyped = value === undefined || (spec.kind === 'boolean' ? typeof value === 'boolean' : typeof value === 'string' && value !== '');
      if (!wellTyped && !result.errors.some((e) => e.code === 'TLS_OPTION_TYPE' && e.message.includes(`\`${spec.name}\``))) {
        throw new Error(`${spec.name} = ${JSON.stringify(value)} was not refused: ${result.errors.map((e) => e.code).join(', ')}`);
      }
    }
  }), runs(200));
  const kms = checkKmsTlsOptions({ kmip: { caFile: 0 as never, certificateKeyFile: pki('client.pem') } });
  t.deepEqual(kms.errors.map((e) => e.code), ['TLS_OPTION_TYPE'], 'KMS TLS options are type-checked too (0 would be read as standard input)');
});

test('createClient: any URI, TLS options and environment end in a typed error (nothing listens), never leaking a password or passphrase', async (t) => {
  const password = `Pw${randomBytes(6).toString('hex')}`;
  const uri = withQuery([
    'mongodb://127.0.0.1:1/', `mongodb://user:${password}@127.0.0.1:1/db`, `mongodb://user:${password}@`, `mongodb://us@er:${password}@127.0.0.1:1/`,
    `mongodb://user:${password}@127.0.0.1:99999/`, `mongodb://user:${password}:x@127.0.0.1:1/`, `mongodb://user:${password}@127.0.0.1:1/%`,
  ], fc.oneof({ arbitrary: wellFormedSegment, weight: 4 }, { arbitrary: segment, weight: 1 }));
  const options = fc.oneof(
    { arbitrary: fc.constant({}), weight: 2 },
    { arbitrary: fc.oneof(hostileOptions, typedOptions).map((o) => ({ ...o, ...(o.certificateKeyFilePassword !== undefined ? { certificateKeyFilePassword: password } : {}) })), weight: 4 },
    // `tls: true` and friends: must be refused, not read as "no TLS options".
    { arbitrary: fc.constantFrom(true, 'true', 1, [pki('ca.pem')]) as fc.Arbitrary<TlsOptions>, weight: 1 },
  );
  const verdicts = new Map<string, number>();
  await fc.assert(fc.asyncProperty(uri, options, fc.constantFrom('development', 'production') as fc.Arbitrary<'development' | 'production'>, async (connection, tls, environment) => {
    tried++;
    const warnings: string[] = [];
    const outcome = await typedOutcome(() => createClient({
      uri: connection, tls, environment, kms: { local: { key: randomBytes(96) } }, models: [],
      warn: (m) => warnings.push(m), driverOptions: { serverSelectionTimeoutMS: 1, connectTimeoutMS: 100 },
    }));
    if (outcome.ok) { await outcome.value.close(); throw new Error('connected to a port where nothing listens'); }
    verdicts.set(outcome.error.code, (verdicts.get(outcome.error.code) ?? 0) + 1);
    const exposed = exposedText(outcome.error) + warnings.join('\n');
    if (exposed.includes(password)) throw new Error(`the password leaked through ${outcome.error.code}: ${outcome.error.message}`);
    const insecure = INSECURE_OPTIONS.some((n) => (tls as Record<string, unknown>)[n] === true) || /tls(Insecure|AllowInvalid\w+)=true/i.test(connection);
    if (environment === 'production' && insecure && outcome.error.code === 'CONNECT_FAILED') throw new Error(`insecure TLS in production reached the network: ${connection} ${JSON.stringify(tls)}`);
  }), {
    ...runs(120),
    // Always run: one input for each stage, so the coverage assertion below does not depend on luck.
    examples: [
      [`mongodb://user:${password}@127.0.0.1:1/db`, {}, 'production'],
      [`mongodb://user:${password}@127.0.0.1:1/?zz=1`, {}, 'development'],
      ['mongodb://127.0.0.1:1/', { caFile: 0, certificateKeyFilePassword: password } as never, 'development'],
    ],
  });
  t.log([...verdicts].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ×${n}`).join(', '));
  t.true(verdicts.has('CONNECT_FAILED') && verdicts.has('TLS_OPTION_TYPE') && verdicts.has('CONFIG_URI_INVALID'), 'the inputs reached every stage: parsing, validation and connecting');
});

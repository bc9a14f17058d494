/**
 * The TLS section of MongoDB's URI Options specification ("Conflicting TLS options", the `tls`
 * and `ssl` rule, "true"/"false" values), written out here from the specification's text rather
 * than from Strongbox's own table, and checked in both forms: connection string and typed options.
 */
import test from 'ava';
import { MongoClient } from 'mongodb';
import { ConfigError } from '../../src/errors';
import { TLS_OPTION_SPECS, type TlsOptionName, type TlsOptions } from '../../src/tls/options';
import { parseTlsUri, resolveTls, tlsFromUri, tlsToDriverOptions } from '../../src/tls/uri';
import { checkTlsOptions, validateTlsOptions } from '../../src/tls/validate';
import { pki } from '../harness/tlsFront';

const dev = { environment: 'development' as const };
const uriNameOf = (name: TlsOptionName) => TLS_OPTION_SPECS.find((s) => s.name === name)!.uriName;

// Rules 1–7: "drivers MUST raise an error … if … both … appear in the URI options".
const RULES: Array<[TlsOptionName, TlsOptionName]> = [
  ['insecure', 'allowInvalidCertificates'],
  ['insecure', 'allowInvalidHostnames'],
  ['insecure', 'disableOcspEndpointCheck'],
  ['insecure', 'disableCertificateRevocationCheck'],
  ['allowInvalidCertificates', 'disableOcspEndpointCheck'],
  ['allowInvalidCertificates', 'disableCertificateRevocationCheck'],
  ['disableOcspEndpointCheck', 'disableCertificateRevocationCheck'],
];
const BOOLEAN_OPTIONS = ['insecure', 'allowInvalidCertificates', 'allowInvalidHostnames', 'disableOcspEndpointCheck', 'disableCertificateRevocationCheck'] as const;

function uriError(query: string): ConfigError | undefined {
  try {
    tlsFromUri(`mongodb://db.example.com/?${query}`);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}
const typedError = (tls: TlsOptions) => checkTlsOptions(tls, dev).errors[0];

for (const [a, b] of RULES) {
  for (const [first, second] of [[a, b], [b, a]] as const) {
    for (const v1 of [true, false]) {
      for (const v2 of [true, false]) {
        const query = `${uriNameOf(first)}=${v1}&${uriNameOf(second)}=${v2}`;
        test(`conflict: ${query}`, (t) => {
          const fromUri = uriError(query);
          t.is(fromUri?.code, 'TLS_CONFLICTING_OPTIONS');
          t.true(fromUri!.message.includes(`\`${first}\` (URI \`${uriNameOf(first)}\`)`) && fromUri!.message.includes(`\`${second}\` (URI \`${uriNameOf(second)}\`)`));
          t.truthy(fromUri!.fix);
          // The typed form: the identical error, from checkTlsOptions and validateTlsOptions alike.
          const typed: TlsOptions = { [first]: v1, [second]: v2 };
          t.is(typedError(typed)?.message, fromUri!.message);
          t.is(t.throws(() => validateTlsOptions(typed, dev), { instanceOf: ConfigError }).message, fromUri!.message);
          // One in the connection string, the other in the options: still the same error.
          const split = checkTlsOptions({ [second]: v2 }, { ...dev, uri: `mongodb://db.example.com/?${uriNameOf(first)}=${v1}` });
          t.is(split.errors[0]?.message, fromUri!.message);
        });
      }
    }
  }
}

test('each option of a conflicting pair is valid alone, true or false, in both forms', (t) => {
  for (const name of BOOLEAN_OPTIONS) {
    for (const value of [true, false]) {
      t.deepEqual(tlsFromUri(`mongodb://h/?${uriNameOf(name)}=${value}`), { [name]: value });
      t.deepEqual(checkTlsOptions({ [name]: value }, dev).errors, [], `${name}=${value}`);
    }
  }
  // Pairs the specification does not name stay allowed.
  t.deepEqual(tlsFromUri('mongodb://h/?tlsAllowInvalidHostnames=true&tlsAllowInvalidCertificates=true'), { allowInvalidHostnames: true, allowInvalidCertificates: true });
  t.deepEqual(tlsFromUri('mongodb://h/?tlsAllowInvalidHostnames=false&tlsDisableOCSPEndpointCheck=true'), { allowInvalidHostnames: false, disableOcspEndpointCheck: true });
});

test('several conflicts give one error naming every pair, whatever the order of the parameters', (t) => {
  const a = uriError('tlsInsecure=true&tlsAllowInvalidCertificates=false&tlsDisableOCSPEndpointCheck=true');
  const b = uriError('tlsDisableOCSPEndpointCheck=false&tlsAllowInvalidCertificates=true&tlsInsecure=false');
  t.is(a?.message, b?.message);
  t.is(a!.message.match(/ with /g)?.length, 3, 'insecure+allowInvalidCertificates, insecure+OCSP, allowInvalidCertificates+OCSP');
});

test('one rule table: every combination of the five options (3^5, absent/true/false) gets the same verdict as URI and as typed options', (t) => {
  let refused = 0;
  const combos = BOOLEAN_OPTIONS.reduce<Array<TlsOptions>>((acc, name) => acc.flatMap((o) => [o, { ...o, [name]: true }, { ...o, [name]: false }]), [{}]);
  t.is(combos.length, 243);
  for (const tls of combos) {
    const query = Object.entries(tls).map(([k, v]) => `${uriNameOf(k as TlsOptionName)}=${v}`).join('&');
    const fromUri = uriError(query);
    const fromTyped = typedError(tls);
    const conflict = fromTyped?.code === 'TLS_CONFLICTING_OPTIONS' ? fromTyped : undefined;
    t.is(fromUri?.message, conflict?.message, query);
    const expected = RULES.some(([x, y]) => tls[x] !== undefined && tls[y] !== undefined);
    t.is(fromUri !== undefined, expected, query);
    if (expected) refused++;
  }
  // Allowed: insecure alone (2), or allowInvalidHostnames absent/true/false (3) times at most one
  // of allowInvalidCertificates, disableOcspEndpointCheck, disableCertificateRevocationCheck (1 + 3 × 2).
  t.is(243 - refused, 2 + 3 * (1 + 3 * 2));
});

test('Strongbox refuses at least every TLS combination the Node driver refuses', (t) => {
  const combos = (['insecure', 'allowInvalidCertificates', 'allowInvalidHostnames'] as const)
    .reduce<Array<TlsOptions>>((acc, name) => acc.flatMap((o) => [o, { ...o, [name]: true }, { ...o, [name]: false }]), [{}]);
  for (const tls of combos) {
    const query = Object.entries(tls).map(([k, v]) => `${uriNameOf(k as TlsOptionName)}=${v}`).join('&');
    let driverRefuses = false;
    try { new MongoClient(`mongodb://h/?${query}`); } catch { driverRefuses = true; }
    if (driverRefuses) t.truthy(uriError(query), query);
  }
});

test('tls and ssl: all instances must agree (rule 8); agreeing repetitions are fine', (t) => {
  for (const uri of ['tls=true&ssl=true', 'tls=false&ssl=false', 'ssl=true&tls=true', 'ssl=false&tls=false', 'tls=true&tls=true&ssl=true']) {
    t.notThrows(() => tlsFromUri(`mongodb://h/?${uri}`), uri);
  }
  for (const uri of ['tls=false&ssl=true', 'tls=true&ssl=false', 'ssl=false&tls=true', 'ssl=true&tls=false', 'tls=true&ssl=true&tls=false']) {
    const err = uriError(uri);
    t.is(err?.code, 'TLS_URI_DUPLICATE_OPTION', uri);
    t.regex(err!.message, /both on and off/);
  }
});

test('booleans are "true" or "false"; anything else is refused (the specification lets drivers warn and ignore it)', (t) => {
  for (const name of BOOLEAN_OPTIONS.map(uriNameOf).concat(['tls', 'ssl'])) {
    t.deepEqual(Object.values(parseTlsUri(`mongodb://h/?${name}=true`).tls), [true]);
    t.deepEqual(Object.values(parseTlsUri(`mongodb://h/?${name}=false`).tls), [false]);
    for (const bad of ['invalid', 'TRUE', 'yes', '1', '']) {
      t.is(uriError(`${name}=${bad}`)?.code, 'TLS_URI_INVALID_VALUE', `${name}=${bad}`);
    }
  }
  // Ignoring an invalid value could turn TLS off: `tls=ture` read as "absent" is plain text.
  t.is(uriError('tls=ture')?.code, 'TLS_URI_INVALID_VALUE');
});

test('tlsDisableCertificateRevocationCheck: parsed, validated against a CRL, never given to the driver (which refuses it)', (t) => {
  const { tls, driverUri } = resolveTls('mongodb://h/?tls=true&tlsDisableCertificateRevocationCheck=true');
  t.deepEqual(tls, { enabled: true, disableCertificateRevocationCheck: true });
  t.notThrows(() => new MongoClient(driverUri, tlsToDriverOptions(tls)));
  t.throws(() => new MongoClient('mongodb://h/?tlsDisableCertificateRevocationCheck=true'), { message: /not supported/ });
  t.deepEqual(checkTlsOptions(tls, dev).warnings.map((w) => w.code), ['TLS_REVOCATION_NOT_PERFORMED']);
  const withCrl = checkTlsOptions({ crlFile: pki('crl.pem'), disableCertificateRevocationCheck: true }, dev);
  t.deepEqual(withCrl.errors.map((e) => e.code), ['TLS_CRL_WITH_REVOCATION_CHECK_DISABLED']);
  const checking = checkTlsOptions({ crlFile: pki('crl.pem'), disableCertificateRevocationCheck: false }, dev);
  t.deepEqual([checking.errors, checking.warnings], [[], []]);
});

import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { ConfigError } from '../../src/errors';
import { subOptionsSet, type TlsOptions } from '../../src/tls/options';
import { mergeTls, parseTlsUri, resolveTls, tlsFromUri, tlsToDriverOptions, tlsToUriQuery } from '../../src/tls/uri';
import { pki } from '../harness/tlsFront';

const numRuns = 150;

const SPEC_CONFLICTS = [
  ['insecure', 'allowInvalidCertificates'], ['insecure', 'allowInvalidHostnames'], ['insecure', 'disableOcspEndpointCheck'],
  ['insecure', 'disableCertificateRevocationCheck'], ['allowInvalidCertificates', 'disableOcspEndpointCheck'],
  ['allowInvalidCertificates', 'disableCertificateRevocationCheck'], ['disableOcspEndpointCheck', 'disableCertificateRevocationCheck'],
] as const;

// Characters that URIs treat specially, plus non-ASCII, so encoding mistakes show up.
const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '/', '.', '-', '_', ' ', '&', '=', '+', '%', '#', '?', ',', ':', '@', 'é', '😀'), minLength: 1, maxLength: 12 });
const path = text.map((s) => `/tmp/${s}`);

const anyTls: fc.Arbitrary<TlsOptions> = fc.record({
  enabled: fc.boolean(),
  caFile: path,
  certificateKeyFile: path,
  certificateKeyFilePassword: text,
  crlFile: path,
  allowInvalidCertificates: fc.boolean(),
  allowInvalidHostnames: fc.boolean(),
  insecure: fc.boolean(),
  disableOcspEndpointCheck: fc.boolean(),
  disableCertificateRevocationCheck: fc.boolean(),
}, { requiredKeys: [], noNullPrototype: true })
  // The URI Options specification forbids these pairs together (test/tls/conformance.test.ts).
  .filter((tls) => !SPEC_CONFLICTS.some(([a, b]) => tls[a] !== undefined && tls[b] !== undefined));

test('typed options → URI query → typed options is the identity', (t) => {
  fc.assert(fc.property(anyTls, (tls) => {
    t.deepEqual(tlsFromUri(`mongodb://db.example.com:27017/app?${tlsToUriQuery(tls)}`), tls);
  }), { numRuns });
});

/** What a driver configuration means for a connection, whichever way it was written. */
function meaning(o: MongoClientOptions & { crl?: unknown; passphrase?: unknown }) {
  return {
    tls: o.tls ?? false,
    ca: o.tlsCAFile,
    certificateKey: o.tlsCertificateKeyFile,
    passphrase: o.passphrase,
    crl: o.crl === undefined ? o.tlsCRLFile : 'inline',
    certificatesVerified: o.rejectUnauthorized ?? true,
    hostnameVerified: typeof o.checkServerIdentity !== 'function',
  };
}

const driverAcceptedTls = anyTls
  .map((tls) => ({ ...tls, crlFile: tls.crlFile === undefined ? undefined : pki('crl.pem') }))
  .map((tls) => JSON.parse(JSON.stringify(tls)) as TlsOptions);

test('typed → driver options means what the same options written in the URI mean to the driver', (t) => {
  fc.assert(fc.property(driverAcceptedTls, (tls) => {
    const fromObject = new MongoClient('mongodb://db.example.com/', tlsToDriverOptions(tls)).options;
    // What the driver makes of the URI form, with Strongbox's two documented differences applied:
    // the revocation flags are never passed on, and a TLS sub-option turns TLS on.
    const uriTls: TlsOptions = { ...tls, disableOcspEndpointCheck: undefined, disableCertificateRevocationCheck: undefined };
    if (uriTls.enabled === undefined && subOptionsSet(tls).length > 0) uriTls.enabled = true;
    const fromUri = new MongoClient(`mongodb://db.example.com/?${tlsToUriQuery(uriTls)}`).options;
    t.deepEqual(meaning(fromObject), meaning(fromUri));
  }), { numRuns });
});

test('merging a value with itself or with nothing never conflicts', (t) => {
  fc.assert(fc.property(anyTls, (tls) => {
    t.deepEqual(mergeTls(tls, tls), tls);
    t.deepEqual(mergeTls(tls, {}), tls);
    t.deepEqual(mergeTls({}, tls), tls);
  }), { numRuns });
});

test('the same option set differently in URI and object is a ConfigError naming both forms, never showing a passphrase', (t) => {
  // Prefixed so that a generated passphrase cannot be a word the message contains anyway.
  const secret = text.map((s) => `pw<${s}>`);
  fc.assert(fc.property(secret, secret, (a, b) => {
    fc.pre(a !== b);
    const err = t.throws(() => mergeTls({ certificateKeyFilePassword: a }, { certificateKeyFilePassword: b }), { instanceOf: ConfigError });
    t.is(err.code, 'TLS_URI_OBJECT_CONFLICT');
    t.true(err.message.includes('certificateKeyFilePassword') && err.message.includes('tlsCertificateKeyFilePassword'));
    t.false(err.message.includes(a) || err.message.includes(b));
  }), { numRuns: 50 });
  const err = t.throws(() => resolveTls('mongodb://h/?tlsCAFile=%2Fa.pem', { caFile: '/b.pem' }), { instanceOf: ConfigError });
  t.regex(err.message, /`caFile` \(URI `tlsCAFile`\).*'\/a\.pem'.*'\/b\.pem'/);
});

test('mongodb+srv:// turns TLS on unless tls=false or ssl=false says otherwise', (t) => {
  t.deepEqual(tlsFromUri('mongodb+srv://cluster0.example.com/app'), { enabled: true });
  t.deepEqual(tlsFromUri('mongodb+srv://cluster0.example.com/app?tls=false'), { enabled: false });
  t.deepEqual(tlsFromUri('mongodb+srv://cluster0.example.com/?ssl=false'), { enabled: false });
  t.deepEqual(tlsFromUri('mongodb://db.example.com/'), {});
  // The object may decide too, as with the driver: that is not a conflict with the SRV default.
  t.is(resolveTls('mongodb+srv://cluster0.example.com/', { enabled: false }).tls.enabled, false);
  t.is(resolveTls('mongodb+srv://cluster0.example.com/').tls.enabled, true);
});

test('URI option names are case-insensitive and `ssl` is an alias of `tls`', (t) => {
  t.deepEqual(tlsFromUri('mongodb://h/?TLSCAFILE=%2Fca.pem&Ssl=true'), { caFile: '/ca.pem', enabled: true });
  t.deepEqual(tlsFromUri('mongodb://h/?tls=true&ssl=true'), { enabled: true });
  t.is(t.throws(() => tlsFromUri('mongodb://h/?tls=true&ssl=false'), { instanceOf: ConfigError }).code, 'TLS_URI_DUPLICATE_OPTION');
  t.is(t.throws(() => tlsFromUri('mongodb://h/?tlsCAFile=%2Fa&tlscafile=%2Fb'), { instanceOf: ConfigError }).code, 'TLS_URI_DUPLICATE_OPTION');
});

test('invalid URI values are ConfigErrors naming the option', (t) => {
  for (const uri of ['mongodb://h/?tls=yes', 'mongodb://h/?tlsInsecure=TRUE', 'mongodb://h/?tlsCAFile=']) {
    const err = t.throws(() => tlsFromUri(uri), { instanceOf: ConfigError });
    t.is(err.code, 'TLS_URI_INVALID_VALUE');
    t.regex(err.message, /\(URI `tls(CAFile|Insecure)?`\)/);
    t.truthy(err.fix);
  }
});

test('the driver URI keeps every other parameter and loses every TLS one, so the driver accepts it', (t) => {
  const { driverUri, tls } = parseTlsUri('mongodb://u:p@h1:1,h2:2/app?retryWrites=true&tlsDisableOCSPEndpointCheck=true&tlsCAFile=%2Fca.pem&w=majority&tls=true');
  t.is(driverUri, 'mongodb://u:p@h1:1,h2:2/app?retryWrites=true&w=majority');
  t.deepEqual(tls, { disableOcspEndpointCheck: true, caFile: '/ca.pem', enabled: true });
  t.notThrows(() => new MongoClient(driverUri, tlsToDriverOptions(tls)));
  // The driver alone rejects the OCSP option (driver 6.22: "option … is not supported"), which is why it is stripped.
  t.throws(() => new MongoClient('mongodb://h/?tlsDisableOCSPEndpointCheck=true'), { message: /not supported/ });
  t.is(parseTlsUri('mongodb://h/?tls=true').driverUri, 'mongodb://h/');
});

test('a DER CRL reaches the driver as the PEM Node can parse; a PEM CRL as its path', (t) => {
  const der = tlsToDriverOptions({ crlFile: pki('crl.der') }) as { crl?: string };
  t.is(der.crl?.trim(), readFileSync(pki('crl.pem'), 'utf8').trim());
  t.deepEqual(tlsToDriverOptions({ crlFile: pki('crl.pem') }), { tls: true, tlsCRLFile: pki('crl.pem') });
});

test('insecure=false next to allowInvalidCertificates is refused, as the driver itself refuses it', (t) => {
  t.is(t.throws(() => tlsFromUri('mongodb://h/?tlsInsecure=false&tlsAllowInvalidCertificates=true'), { instanceOf: ConfigError }).code, 'TLS_CONFLICTING_OPTIONS');
  t.throws(() => new MongoClient('mongodb://h/?tlsInsecure=false&tlsAllowInvalidCertificates=true'));
  t.throws(() => new MongoClient('mongodb://h/', { tlsInsecure: false, tlsAllowInvalidCertificates: true }));
});

test('the OCSP and revocation flags are never handed to the driver', (t) => {
  t.deepEqual(tlsToDriverOptions({ enabled: true, disableOcspEndpointCheck: true }), { tls: true });
  t.deepEqual(tlsToDriverOptions({ enabled: true, disableCertificateRevocationCheck: false }), { tls: true });
  t.deepEqual(tlsToDriverOptions({}), {});
  t.deepEqual(tlsToDriverOptions({ enabled: false }), { tls: false });
});

test('query segments without a key ("?" or "=" alone) are left to the driver, never a TypeError', (t) => {
  for (const uri of ['mongodb://localhost/??&=', 'mongodb://localhost/?=&tls=true', 'mongodb://localhost/?&&?']) {
    const parsed = parseTlsUri(uri);
    t.false(parsed.driverUri.includes('tls='), `${uri}: TLS options are taken out`);
  }
  t.true(parseTlsUri('mongodb://localhost/?=&tls=true').tls.enabled === true);
});

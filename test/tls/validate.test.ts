import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors';
import { checkKmsTlsOptions, kmsTlsToDriverOptions } from '../../src/tls/kms';
import type { KmsTlsOptionsByProvider, TlsOptions } from '../../src/tls/options';
import { checkTlsOptions, validateTlsOptions, type TlsValidationContext } from '../../src/tls/validate';
import { pki } from '../harness/tlsFront';

const dev: TlsValidationContext = { environment: 'development' };
const prod: TlsValidationContext = { environment: 'production' };
const passphrase = readFileSync(pki('client-encrypted.passphrase'), 'utf8').trim();
const dir = mkdtempSync(join(tmpdir(), 'strongbox-tls-validate-'));
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const cert = readFileSync(pki('client.crt'), 'utf8');
const broken = {
  text: file('not-pem.txt', 'just some text\n'),
  corruptCert: file('corrupt.pem', cert.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA')),
  crlGarbage: file('crl.bin', Buffer.from([0x30, 0x03, 0x01, 0x01, 0xff, 0x00])),
  crlPemCorrupt: file('crl-corrupt.pem', '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'),
  keyMismatch: file('mismatch.pem', cert + readFileSync(pki('server.key'), 'utf8')),
  keyGarbage: file('bad-key.pem', `${cert}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`),
};
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the check, expects exactly one error with this code, and that it reads as promised. */
function expectError(t: import('ava').ExecutionContext, tls: TlsOptions, context: TlsValidationContext, code: string, mentions: RegExp[] = []): ConfigError {
  const { errors } = checkTlsOptions(tls, context);
  t.deepEqual(errors.map((e) => e.code), [code]);
  const err = errors[0]!;
  t.true(err instanceof ConfigError);
  t.truthy(err.fix, 'every error says how to fix it');
  t.regex(err.message, /`[a-zA-Z]+` \((URI|driver) `[a-zA-Z.:]+`\)/, 'names the option in both forms');
  for (const m of mentions) t.regex(err.message, m);
  t.false(err.message.includes(passphrase), 'never shows a passphrase');
  const thrown = t.throws(() => validateTlsOptions(tls, context), { instanceOf: ConfigError });
  t.is<string, string>(thrown.code, code);
  return err;
}

const good: TlsOptions = { enabled: true, caFile: pki('ca.pem'), certificateKeyFile: pki('client.pem') };

test('a complete, valid configuration passes without warnings', (t) => {
  t.deepEqual(validateTlsOptions(good, prod), { tls: good, warnings: [] });
  t.deepEqual(validateTlsOptions({ ...good, crlFile: pki('crl.pem') }, prod).warnings, []);
  t.deepEqual(validateTlsOptions({ ...good, crlFile: pki('crl.der') }, prod).warnings, []);
  t.deepEqual(validateTlsOptions({ ...good, certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: passphrase }, prod).warnings, []);
});

for (const other of ['allowInvalidCertificates', 'allowInvalidHostnames', 'disableOcspEndpointCheck', 'disableCertificateRevocationCheck'] as const) {
  for (const [insecure, value] of [[true, true], [true, false], [false, true], [false, false]] as const) {
    test(`insecure=${insecure} together with ${other}=${value} is a conflict (URI Options specification)`, (t) => {
      expectError(t, { insecure, [other]: value }, dev, 'TLS_CONFLICTING_OPTIONS', [new RegExp(`\`${other}\``), /`insecure` \(URI `tlsInsecure`\)/]);
    });
  }
}

test('a CRL with OCSP endpoint checks explicitly requested is a conflict; with them disabled it is not', (t) => {
  expectError(t, { crlFile: pki('crl.pem'), disableOcspEndpointCheck: false }, dev, 'TLS_CRL_WITH_OCSP', [/CRL and OCSP/]);
  const { errors, warnings } = checkTlsOptions({ crlFile: pki('crl.pem'), disableOcspEndpointCheck: true }, dev);
  t.deepEqual(errors, []);
  t.deepEqual(warnings.map((w) => w.code), ['TLS_OCSP_NOT_PERFORMED']);
  t.regex(warnings[0]!.message, /performs no OCSP/);
});

test('TLS sub-options while TLS is explicitly off are refused, one error each', (t) => {
  const { errors } = checkTlsOptions({ enabled: false, caFile: pki('ca.pem'), allowInvalidHostnames: true }, dev);
  t.deepEqual(errors.map((e) => e.code), ['TLS_OPTION_WITH_TLS_OFF', 'TLS_OPTION_WITH_TLS_OFF']);
  t.regex(errors[0]!.message, /`caFile` \(URI `tlsCAFile`\).*explicitly off/);
  // The same through the URI: the connection string's tls=false meets the object's CA file.
  expectError(t, { caFile: pki('ca.pem') }, { ...dev, uri: 'mongodb://h/?tls=false' }, 'TLS_OPTION_WITH_TLS_OFF');
});

for (const name of ['caFile', 'certificateKeyFile', 'crlFile'] as const) {
  test(`${name}: a missing file is named`, (t) => {
    expectError(t, { [name]: join(dir, 'nope.pem') }, dev, 'TLS_FILE_MISSING', [/nope\.pem/]);
  });
  test(`${name}: an unreadable file (a directory) is named`, (t) => {
    expectError(t, { [name]: dir }, dev, 'TLS_FILE_UNREADABLE', [/EISDIR/]);
  });
}

test('a CA file that is not PEM, or holds a broken certificate', (t) => {
  expectError(t, { caFile: broken.text }, dev, 'TLS_FILE_NOT_PEM', [/BEGIN CERTIFICATE/]);
  expectError(t, { caFile: pki('crl.der') }, dev, 'TLS_FILE_NOT_PEM');
  expectError(t, { caFile: broken.corruptCert }, dev, 'TLS_FILE_INVALID_CERTIFICATE');
});

test('a CRL file must be a PEM or DER CRL OpenSSL can parse', (t) => {
  expectError(t, { crlFile: broken.text }, dev, 'TLS_FILE_INVALID_CRL');
  expectError(t, { crlFile: broken.crlGarbage }, dev, 'TLS_FILE_INVALID_CRL');
  expectError(t, { crlFile: broken.crlPemCorrupt }, dev, 'TLS_FILE_INVALID_CRL');
  expectError(t, { crlFile: pki('ca.pem') }, dev, 'TLS_FILE_INVALID_CRL');
});

test('a certificate-key file must hold both the certificate and the key', (t) => {
  expectError(t, { certificateKeyFile: pki('client-cert-only.pem') }, dev, 'TLS_CERT_KEY_FILE_NO_KEY', [/cat client\.crt client\.key/]);
  expectError(t, { certificateKeyFile: pki('client-key-only.pem') }, dev, 'TLS_CERT_KEY_FILE_NO_CERTIFICATE', [/no certificate/]);
  expectError(t, { certificateKeyFile: broken.text }, dev, 'TLS_FILE_NOT_PEM');
  expectError(t, { certificateKeyFile: broken.keyMismatch }, dev, 'TLS_CERT_KEY_MISMATCH', [/does not belong/]);
  expectError(t, { certificateKeyFile: broken.keyGarbage }, dev, 'TLS_KEY_INVALID');
});

test('an encrypted key without its passphrase, or with a wrong one, is caught before connecting', (t) => {
  expectError(t, { certificateKeyFile: pki('client-encrypted.pem') }, dev, 'TLS_KEY_PASSPHRASE_MISSING', [/`certificateKeyFilePassword` \(URI `tlsCertificateKeyFilePassword`\)/]);
  const wrong = expectError(t, { certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: 'not-the-passphrase' }, dev, 'TLS_KEY_PASSPHRASE_WRONG');
  t.false(wrong.message.includes('not-the-passphrase'));
  // About one wrong passphrase in 256 decrypts to bytes that pass the padding check and fail to decode instead.
  const codes = new Set<string>();
  for (let i = 0; i < 600; i++) {
    for (const e of checkTlsOptions({ certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: `wrong-${i}` }, dev).errors) codes.add(e.code);
  }
  t.deepEqual([...codes], ['TLS_KEY_PASSPHRASE_WRONG'], '600 wrong passphrases');
});

test('a passphrase for an unencrypted key, or without a key file, is a warning', (t) => {
  const unneeded = checkTlsOptions({ certificateKeyFile: pki('client.pem'), certificateKeyFilePassword: 'x' }, dev);
  t.deepEqual([unneeded.errors, unneeded.warnings.map((w) => w.code)], [[], ['TLS_PASSWORD_NOT_NEEDED']]);
  const unused = checkTlsOptions({ enabled: true, certificateKeyFilePassword: 'x' }, dev);
  t.deepEqual([unused.errors, unused.warnings.map((w) => w.code)], [[], ['TLS_PASSWORD_WITHOUT_FILE']]);
});

test('an expired or not yet valid client certificate', (t) => {
  expectError(t, { certificateKeyFile: pki('client-expired.pem') }, dev, 'TLS_CLIENT_CERT_EXPIRED', [/expired on .*2020/]);
  expectError(t, { certificateKeyFile: pki('client.pem') }, { ...dev, now: new Date('2001-01-01T00:00:00Z') }, 'TLS_CLIENT_CERT_NOT_YET_VALID');
});

for (const name of ['insecure', 'allowInvalidCertificates', 'allowInvalidHostnames'] as const) {
  test(`${name} is refused in production and a warning in development`, (t) => {
    expectError(t, { enabled: true, [name]: true }, prod, 'TLS_INSECURE_IN_PRODUCTION', [/production/]);
    const { errors, warnings } = checkTlsOptions({ enabled: true, [name]: true }, dev);
    t.deepEqual([errors, warnings.map((w) => w.code)], [[], ['TLS_INSECURE_OPTION']]);
    t.deepEqual(checkTlsOptions({ enabled: true, [name]: false }, prod).errors, []);
  });
}

test('insecure options written in the connection string are refused in production too', (t) => {
  expectError(t, {}, { ...prod, uri: 'mongodb://db.example.com/?tls=true&tlsAllowInvalidHostnames=true' }, 'TLS_INSECURE_IN_PRODUCTION');
  expectError(t, { caFile: pki('ca.pem') }, { ...dev, uri: `mongodb://h/?tlsCAFile=${encodeURIComponent(pki('other-ca.pem'))}` }, 'TLS_URI_OBJECT_CONFLICT');
});

test('TLS off in production is a warning', (t) => {
  t.deepEqual(checkTlsOptions({}, prod).warnings.map((w) => w.code), ['TLS_OFF_IN_PRODUCTION']);
  t.deepEqual(checkTlsOptions({}, { ...prod, uri: 'mongodb+srv://cluster0.example.com/' }).warnings, []);
});

test('several problems are all reported by checkTlsOptions; validateTlsOptions throws the first', (t) => {
  const tls = { caFile: broken.text, certificateKeyFile: pki('client-expired.pem'), insecure: true };
  t.deepEqual(checkTlsOptions(tls, prod).errors.map((e) => e.code), ['TLS_INSECURE_IN_PRODUCTION', 'TLS_FILE_NOT_PEM', 'TLS_CLIENT_CERT_EXPIRED']);
  t.is(t.throws(() => validateTlsOptions(tls, prod), { instanceOf: ConfigError }).code, 'TLS_INSECURE_IN_PRODUCTION');
});

test('KMS TLS options map to the driver names and are checked like the database ones', (t) => {
  const kms: KmsTlsOptionsByProvider = {
    kmip: { caFile: pki('ca.pem'), certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: passphrase },
    'aws:backup': { caFile: pki('ca.pem') },
  };
  t.deepEqual(kmsTlsToDriverOptions(kms), {
    kmip: { tlsCAFile: pki('ca.pem'), tlsCertificateKeyFile: pki('client-encrypted.pem'), tlsCertificateKeyFilePassword: passphrase },
    'aws:backup': { tlsCAFile: pki('ca.pem') },
  });
  t.deepEqual(checkKmsTlsOptions(kms), { errors: [], warnings: [] });

  const wrong = checkKmsTlsOptions({ kmip: { certificateKeyFile: pki('client-encrypted.pem'), certificateKeyFilePassword: 'wrong' } }).errors;
  t.deepEqual(wrong.map((e) => e.code), ['TLS_KEY_PASSPHRASE_WRONG']);
  t.regex(wrong[0]!.message, /`kmsTls\.kmip\.certificateKeyFilePassword` \(driver `tlsOptions\.kmip\.tlsCertificateKeyFilePassword`\)/);
  t.deepEqual(checkKmsTlsOptions({ gcp: { caFile: join(dir, 'nope.pem') } }).errors.map((e) => e.code), ['TLS_FILE_MISSING']);
});

test('insecure or unknown keys in KMS TLS options (from untyped configuration) are refused by name', (t) => {
  const untyped = JSON.parse('{"kmip":{"tlsInsecure":true,"allowInvalidHostnames":true,"cafile":"x"}}') as KmsTlsOptionsByProvider;
  const { errors } = checkKmsTlsOptions(untyped);
  t.deepEqual(errors.map((e) => e.code), ['TLS_KMS_INSECURE_NOT_ALLOWED', 'TLS_KMS_INSECURE_NOT_ALLOWED', 'TLS_KMS_UNKNOWN_OPTION']);
  t.regex(errors[0]!.message, /kmsTls\.kmip\.tlsInsecure/);
});

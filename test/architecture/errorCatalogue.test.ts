/*
 * The error catalogue is complete and is what the docs say: every code the sources use is
 * catalogued, every catalogued code is used, docs/errors.md is rendered from it, and the docs
 * name each code with the class that carries it.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_CATALOGUE, WARNING_CATALOGUE } from '../../src/errorCatalogue';
import { errorsDocPath, renderErrorsDoc } from './errorsDoc';
import { repoRoot } from './repoRoot';

/** Upper-case string literals in the sources that are not Strongbox codes: names of other things. */
const NOT_CODES = new Set([
  // Node's and OpenSSL's error codes, which tls/translate.ts translates into TlsError codes.
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CRL_HAS_EXPIRED', 'CRL_NOT_YET_VALID',
  'CRL_SIGNATURE_FAILURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'EAI_AGAIN', 'ERR_CRYPTO_OPERATION_FAILED', 'ERR_OSSL_BAD_DECRYPT', 'ERR_OSSL_UNSUPPORTED',
  'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_NO_SHARED_CIPHER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_UNSAFE_LEGACY_RENEGOTIATION_DISABLED',
  'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_VERSION_TOO_LOW', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  // Environment variables, MongoDB's aggregation system variable $$CLUSTER_TIME and the wire protocol's OP_MSG.
  'MONGODB_URI', 'STRONGBOX_CONFIG', 'STRONGBOX_LOCAL_MASTER_KEY', 'CLUSTER_TIME', 'OP_MSG',
]);

const errorCodes = new Map<string, string[]>();
for (const [cls, entries] of Object.entries(ERROR_CATALOGUE)) {
  for (const code of Object.keys(entries)) errorCodes.set(code, [...(errorCodes.get(code) ?? []), cls]);
}
const catalogued = new Set([...errorCodes.keys(), ...Object.keys(WARNING_CATALOGUE)]);

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, ext) : ext.test(name) ? [path] : [];
  });
}

/** code → files using it, from every quoted upper-case identifier with an underscore. */
function literalsIn(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g)) {
      found.set(m[1], [...new Set([...(found.get(m[1]) ?? []), relative(repoRoot, file)])]);
    }
  }
  return found;
}

const sourceFiles = filesUnder(join(repoRoot, 'src'), /\.ts$/).filter((f) => !f.endsWith('errorCatalogue.ts'));
const used = literalsIn(sourceFiles);
// The contributors' test set-up throws SetupErrors of its own.
const usedByHarness = literalsIn(filesUnder(join(repoRoot, 'test', 'harness'), /\.ts$/));

test('every code in src/ is in the catalogue', (t) => {
  const missing = [...used].filter(([code]) => !catalogued.has(code) && !NOT_CODES.has(code)).map(([code, files]) => `${code} (${files.join(', ')})`);
  t.deepEqual(missing, [], 'Add these codes to src/errorCatalogue.ts under the class that throws them (with a one-line meaning and fix), then run `npm run docs:errors`; a literal that is not a Strongbox code belongs in NOT_CODES here.');
  t.true(used.size > 150, `only ${used.size} codes found: is the scan still reading src/?`);
});

test('every catalogued code is used somewhere', (t) => {
  const unused = [...catalogued].filter((code) => !used.has(code) && !usedByHarness.has(code));
  t.deepEqual(unused, [], 'Nothing throws these codes any more: remove them from src/errorCatalogue.ts.');
});

test('each entry is one line of meaning and one of fix', (t) => {
  const entries = [...Object.values(ERROR_CATALOGUE).flatMap((e) => Object.entries(e)), ...Object.entries(WARNING_CATALOGUE)];
  for (const [code, entry] of entries) {
    t.regex(entry.meaning, /^[^\n]{10,}$/, `${code}: meaning`);
    t.regex(entry.fix, /^[^\n]{5,}$/, `${code}: fix`);
  }
});

test('docs/errors.md is rendered from the catalogue', (t) => {
  t.is(readFileSync(errorsDocPath, 'utf8'), renderErrorsDoc(), 'docs/errors.md is out of date: run `npm run docs:errors`.');
});

test('the docs name each code with the class that carries it', (t) => {
  const docs = [join(repoRoot, 'README.md'), join(repoRoot, 'SECURITY.md'), ...filesUnder(join(repoRoot, 'docs'), /\.md$/)]
    .filter((f) => f !== errorsDocPath);
  const problems: string[] = [];
  let pairs = 0;
  for (const file of docs) {
    const text = readFileSync(file, 'utf8');
    // "`KeyError` (`KEY_NOT_FOUND`)", "`KeyError KEY_NOT_FOUND`", "`DecryptionError` `DECRYPT_CORRUPT`"
    for (const m of text.matchAll(/`(\w+Error)`? \(?`?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)) {
      pairs++;
      const classes = errorCodes.get(m[2]);
      if (!classes?.includes(m[1])) problems.push(`${relative(repoRoot, file)}: ${m[1]} ${m[2]} (the catalogue has ${classes?.join(' or ') ?? 'no such code'})`);
    }
    for (const m of text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)) {
      if (!catalogued.has(m[1]) && !NOT_CODES.has(m[1]) && /^(SETUP|CONFIG|CONNECT|MODELS?|CLI|TLS|SCHEMA|QUERY|INPUT|KEY|DECRYPT|ENCRYPT|MIGRATION|SERVER)_/.test(m[1])) {
        problems.push(`${relative(repoRoot, file)}: ${m[1]} is not a catalogued code`);
      }
    }
  }
  t.deepEqual(problems, [], 'Correct the docs (or the code the catalogue gives the class).');
  t.true(pairs > 5, `only ${pairs} class-and-code mentions found in the docs: has the pattern changed?`);
});

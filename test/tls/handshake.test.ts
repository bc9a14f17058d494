/**
 * Real TLS handshakes by the real driver: against FerretDB's TLS port (client certificate
 * required) and against TLS fronts presenting each broken certificate of the test PKI.
 */
import anyTest, { type TestFn } from 'ava';
import { readFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';
import { startLocalServer, type LocalServer } from '../../src/devserver/ferretdb';
import { ConfigError, TlsError } from '../../src/errors';
import { inspectServerCertificate } from '../../src/tls/inspect';
import type { TlsOptions } from '../../src/tls/options';
import { translateTlsError } from '../../src/tls/translate';
import { resolveTls, tlsToDriverOptions } from '../../src/tls/uri';
import { validateTlsOptions } from '../../src/tls/validate';
import { pki, startLegacyRenegotiationServer, startPlainTextServer, startTlsFront, type Front } from '../harness/tlsFront';

interface Context {
  server: LocalServer;
  fronts: Record<'valid' | 'expired' | 'wrongHost' | 'revoked' | 'otherCa' | 'clientCertTls12' | 'oldProtocol' | 'oldCiphers' | 'legacyRenegotiation', Front>;
}
const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const server = await startLocalServer();
  const upstreamPort = Number(new URL(server.uri).port);
  const front = (certificate: string, extra: object = {}) => startTlsFront({ certificate, upstreamPort, ...extra });
  t.context = {
    server,
    fronts: {
      valid: await front('server'),
      expired: await front('server-expired'),
      wrongHost: await front('server-wronghost'),
      revoked: await front('server-revoked'),
      otherCa: await front('server-otherca'),
      clientCertTls12: await front('server', { requireClientCertificate: true, maxVersion: 'TLSv1.2' }),
      oldProtocol: await front('server', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
      // Node's default client cipher list excludes CAMELLIA, as new stacks drop old suites.
      oldCiphers: await front('server', { maxVersion: 'TLSv1.2', ciphers: 'CAMELLIA256-SHA:@SECLEVEL=0' }),
      legacyRenegotiation: await startLegacyRenegotiationServer(),
    },
  };
});

test.after.always(async (t) => {
  await Promise.all(Object.values(t.context.fronts ?? {}).map((f) => f.close()));
  await t.context.server?.stop();
});

const ca = pki('ca.pem');
const clientCert = pki('client.pem');

/** Validates, connects and says hello as createClient will; a TLS failure comes back translated. */
async function handshake(uri: string, tls: TlsOptions): Promise<'connected' | TlsError> {
  const { tls: effective, driverUri } = resolveTls(uri, tls);
  validateTlsOptions(effective, { environment: 'development' });
  const client = new MongoClient(driverUri, { ...tlsToDriverOptions(effective), serverSelectionTimeoutMS: 2000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ hello: 1 });
    return 'connected';
  } catch (err) {
    const translated = translateTlsError(err, { tls: effective });
    if (!translated) throw err;
    return translated;
  } finally {
    await client.close();
  }
}

function refused(t: import('ava').ExecutionContext<Context>, result: 'connected' | TlsError, code: string, mentions: RegExp[] = []): TlsError {
  if (!(result instanceof TlsError)) return t.fail(`expected ${code}, but the handshake succeeded`) as never;
  t.is<string, string>(result.code, code, result.message);
  t.truthy(result.fix);
  t.truthy(result.cause, 'keeps the driver error as cause');
  for (const m of mentions) t.regex(result.message, m);
  return result;
}

test('a server certificate from the trusted CA connects, with a client certificate where one is required', async (t) => {
  t.is(await handshake(t.context.server.tlsUri, { caFile: ca, certificateKeyFile: clientCert }), 'connected');
  t.is(await handshake(t.context.fronts.valid.uri(), { caFile: ca }), 'connected');
  t.is(await handshake(t.context.fronts.valid.uri('127.0.0.1'), { caFile: ca }), 'connected', 'the IP address is in the certificate too');
});

test('the same options written in the connection string connect the same way', async (t) => {
  const port = new URL(t.context.server.tlsUri.replace('mongodb:', 'http:')).port;
  const uri = `mongodb://localhost:${port}/?tls=true&tlsCAFile=${encodeURIComponent(ca)}&tlsCertificateKeyFile=${encodeURIComponent(clientCert)}&tlsDisableOCSPEndpointCheck=true`;
  t.is(await handshake(uri, {}), 'connected');
});

test('an unknown CA is refused, naming the CA the client trusts and the one that signed the server', async (t) => {
  const front = t.context.fronts.otherCa;
  const err = refused(t, await handshake(front.uri(), { caFile: ca }), 'TLS_UNKNOWN_CA', [/Strongbox Test ca/, /ca\.pem/, /`caFile` \(URI `tlsCAFile`\)/]);
  // With the presented certificate (strongbox doctor fetches it), the message names its issuer.
  const serverCertificate = await inspectServerCertificate('localhost', front.port);
  const detailed = translateTlsError(err.cause, { tls: { caFile: ca }, serverCertificate, address: `localhost:${front.port}` });
  t.regex(detailed!.message, /issued by .*Strongbox Test other-ca/);
  t.regex(detailed!.message, /localhost:\d+/);
  // A caller that does not pass the options in force gets no guess about them.
  t.notRegex(translateTlsError(err.cause, {})!.message, /CA file|built-in/);
  // Without a CA file, Node's public roots are what the client trusts.
  refused(t, await handshake(t.context.fronts.valid.uri(), { enabled: true }), 'TLS_UNKNOWN_CA', [/built-in public root certificates/]);
});

test('a wrong host name is refused unless allowInvalidHostnames', async (t) => {
  const uri = t.context.fronts.wrongHost.uri();
  refused(t, await handshake(uri, { caFile: ca }), 'TLS_HOSTNAME_MISMATCH', [/wrong\.example/, /localhost/]);
  t.is(await handshake(uri, { caFile: ca, allowInvalidHostnames: true }), 'connected');
  // allowInvalidHostnames does not excuse anything else.
  refused(t, await handshake(t.context.fronts.expired.uri(), { caFile: ca, allowInvalidHostnames: true }), 'TLS_SERVER_CERT_EXPIRED');
});

test('an expired server certificate is refused unless allowInvalidCertificates', async (t) => {
  const uri = t.context.fronts.expired.uri();
  refused(t, await handshake(uri, { caFile: ca }), 'TLS_SERVER_CERT_EXPIRED', [/expired/]);
  t.is(await handshake(uri, { caFile: ca, allowInvalidCertificates: true }), 'connected');
});

test('observed: with Node, allowInvalidCertificates also skips the host name check, and validation says so', async (t) => {
  // The MongoDB manual's "TLS/SSL Configuration for Clients" says it should not; Node ignores checkServerIdentity once rejectUnauthorized is false.
  t.is(await handshake(t.context.fronts.wrongHost.uri(), { caFile: ca, allowInvalidCertificates: true }), 'connected');
  const { warnings } = validateTlsOptions({ allowInvalidCertificates: true }, { environment: 'development' });
  t.regex(warnings[0]!.message, /also disables host name verification/);
});

test('a revoked certificate is refused when a CRL is given, PEM or DER; a valid one still connects', async (t) => {
  const uri = t.context.fronts.revoked.uri();
  t.is(await handshake(uri, { caFile: ca }), 'connected', 'without a CRL nothing checks revocation (the driver does no OCSP)');
  refused(t, await handshake(uri, { caFile: ca, crlFile: pki('crl.pem') }), 'TLS_SERVER_CERT_REVOKED', [/crl\.pem/]);
  refused(t, await handshake(uri, { caFile: ca, crlFile: pki('crl.der') }), 'TLS_SERVER_CERT_REVOKED', [/crl\.der/]);
  t.is(await handshake(t.context.fronts.valid.uri(), { caFile: ca, crlFile: pki('crl.der') }), 'connected');
});

test('observed: the driver alone cannot use a DER CRL (why tlsToDriverOptions converts it)', async (t) => {
  const client = new MongoClient(t.context.fronts.valid.uri(), { tlsCAFile: ca, tlsCRLFile: pki('crl.der'), serverSelectionTimeoutMS: 2000 });
  const err = await t.throwsAsync(client.connect());
  await client.close();
  t.regex(err!.message, /Failed to parse CRL/);
  t.is(translateTlsError(err, { tls: { crlFile: pki('crl.der') } })?.code, 'TLS_CRL_UNUSABLE');
});

test('a CRL that does not cover the server certificate\'s CA is reported as such', async (t) => {
  // OpenSSL, as Node sets it up, then wants a CRL from every CA in the chain.
  const result = await handshake(t.context.fronts.otherCa.uri(), { caFile: pki('other-ca.pem'), crlFile: pki('crl.pem') });
  refused(t, result, 'TLS_CRL_UNUSABLE', [/every CA/]);
});

test('a server that requires a client certificate refuses a client without one, clearly', async (t) => {
  // TLS 1.3 (FerretDB): the server sends the "certificate required" alert.
  refused(t, await handshake(t.context.server.tlsUri, { caFile: ca }), 'TLS_CLIENT_CERT_REQUIRED', [/`certificateKeyFile` \(URI `tlsCertificateKeyFile`\)/]);
  // TLS 1.2: only a generic handshake_failure alert; the message puts the missing certificate first.
  refused(t, await handshake(t.context.fronts.clientCertTls12.uri(), { caFile: ca }), 'TLS_HANDSHAKE_FAILURE', [/Likely: the server requires a client certificate/]);
  t.is(await handshake(t.context.fronts.clientCertTls12.uri(), { caFile: ca, certificateKeyFile: clientCert }), 'connected');
});

test('a client certificate the server does not trust is reported as refused by the server', async (t) => {
  refused(t, await handshake(t.context.server.tlsUri, { caFile: ca, certificateKeyFile: pki('server-otherca.pem') }), 'TLS_CLIENT_CERT_REJECTED', [/unknown ca/, /server-otherca\.pem/]);
});

test('an encrypted client key works with the right passphrase and fails before connecting with a wrong one', async (t) => {
  const passphrase = readFileSync(pki('client-encrypted.passphrase'), 'utf8').trim();
  const tls = { caFile: ca, certificateKeyFile: pki('client-encrypted.pem') };
  t.is(await handshake(t.context.server.tlsUri, { ...tls, certificateKeyFilePassword: passphrase }), 'connected');
  const err = await t.throwsAsync(handshake(t.context.server.tlsUri, { ...tls, certificateKeyFilePassword: 'wrong' }), { instanceOf: ConfigError });
  t.is(err!.code, 'TLS_KEY_PASSPHRASE_WRONG');
  // Had it reached the driver, Node's "bad decrypt" would be translated the same way.
  const client = new MongoClient(t.context.server.tlsUri, { tls: true, tlsCAFile: ca, tlsCertificateKeyFile: tls.certificateKeyFile, tlsCertificateKeyFilePassword: 'wrong', serverSelectionTimeoutMS: 2000 });
  const raw = await t.throwsAsync(client.connect());
  await client.close();
  t.is(translateTlsError(raw, { tls: { ...tls, certificateKeyFilePassword: 'wrong' } })?.code, 'TLS_KEY_PASSPHRASE_WRONG');
});

test('insecure connects to every one of them, and is refused in production', async (t) => {
  const { fronts, server } = t.context;
  for (const front of [fronts.valid, fronts.expired, fronts.wrongHost, fronts.revoked, fronts.otherCa]) {
    t.is(await handshake(front.uri(), { insecure: true }), 'connected', front.uri());
  }
  t.is(await handshake(fronts.revoked.uri(), { insecure: true, crlFile: pki('crl.pem') }), 'connected');
  t.is(await handshake(server.tlsUri, { insecure: true, certificateKeyFile: clientCert }), 'connected');
  const err = t.throws(() => validateTlsOptions({ insecure: true }, { environment: 'production', uri: fronts.expired.uri() }), { instanceOf: ConfigError });
  t.is(err.code, 'TLS_INSECURE_IN_PRODUCTION');
});

test('TLS manual troubleshooting: protocol version alert', async (t) => {
  refused(t, await handshake(t.context.fronts.oldProtocol.uri(), { caFile: ca }), 'TLS_PROTOCOL_VERSION', [/TLS 1\.2/]);
});

test('TLS manual troubleshooting: handshake failure, no shared cipher', async (t) => {
  refused(t, await handshake(t.context.fronts.oldCiphers.uri(), { caFile: ca, certificateKeyFile: clientCert }), 'TLS_HANDSHAKE_FAILURE', [/no cipher suite/, /MongoDB 4\.0/]);
});

test('TLS manual troubleshooting: unsafe legacy renegotiation disabled', async (t) => {
  refused(t, await handshake(t.context.fronts.legacyRenegotiation.uri(), { caFile: ca }), 'TLS_UNSAFE_LEGACY_RENEGOTIATION', [/proxy/]);
});

test('TLS against a port without TLS says so, however the server reacts', async (t) => {
  // FerretDB's plain port waits for a complete wire message and never answers the ClientHello.
  refused(t, await handshake(`${t.context.server.uri}?tls=true`, { caFile: ca }), 'TLS_HANDSHAKE_TIMEOUT', [/plain MongoDB port/]);
  const answering = await startPlainTextServer('HTTP/1.0 400 Bad Request\r\n\r\n');
  const hangingUp = await startPlainTextServer('');
  try {
    refused(t, await handshake(answering.uri(), { caFile: ca }), 'TLS_PEER_NOT_TLS', [/`enabled` \(URI `tls`\)/]);
    refused(t, await handshake(hangingUp.uri(), { caFile: ca }), 'TLS_HANDSHAKE_INTERRUPTED', [/closed the connection during the TLS handshake/]);
  } finally {
    await Promise.all([answering.close(), hangingUp.close()]);
  }
});

test('failures that are not about TLS are not translated', async (t) => {
  const client = new MongoClient('mongodb://127.0.0.1:1/?tls=true', { serverSelectionTimeoutMS: 500 });
  const err = await t.throwsAsync(client.connect());
  await client.close();
  t.is(translateTlsError(err, {}), undefined);
  t.is(translateTlsError(new Error('boom')), undefined);
  t.is(translateTlsError('not an error'), undefined);
  t.is(translateTlsError(undefined), undefined);
});

/**
 * Turns the TLS failures Node reports (wrapped by the driver in MongoServerSelectionError,
 * MongoNetworkError or MongoCryptError) into TlsErrors that say what happened and what to change,
 * after the troubleshooting list of the MongoDB manual's "TLS/SSL Configuration for Clients". The codes matched here were observed against real
 * handshakes (test/tls/handshake.test.ts); docs/tls.md lists them.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CodeOf } from '../errorCatalogue';
import { TlsError } from '../errors';
import { pemBlocks } from './files';
import { kmsLabel } from './kms';
import { label, type KmsTlsOptions, type TlsOptions } from './options';

/** What the server presented, when the caller fetched it (see inspectServerCertificate). */
export interface ServerCertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly subjectAltName?: string;
}

export interface TlsErrorContext {
  /** The TLS options of the database connection that failed. */
  readonly tls?: TlsOptions;
  /** Set when the failing connection went to a key management service instead. */
  readonly kms?: { readonly provider: string; readonly tls?: KmsTlsOptions };
  /** What the client was connecting to, in words ("the key vault cluster"); default "the server". */
  readonly target?: string;
  /** "host:port" the client was connecting to, for the message. */
  readonly address?: string;
  readonly serverCertificate?: ServerCertificateInfo;
}

interface NodeError {
  readonly code?: string;
  readonly message: string;
  readonly reason?: unknown;
  readonly cause?: unknown;
}

/** The driver nests Node's error under `cause`, and per server under `reason.servers`. */
function* nestedErrors(err: unknown, depth = 0): Generator<NodeError> {
  if (typeof err !== 'object' || err === null || depth > 8) return;
  const e = err as NodeError & { reason?: { servers?: unknown }; errors?: unknown };
  yield e;
  yield* nestedErrors(e.cause, depth + 1);
  if (e.reason?.servers instanceof Map) {
    for (const server of e.reason.servers.values()) yield* nestedErrors((server as { error?: unknown }).error, depth + 1);
  }
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* nestedErrors(inner, depth + 1);
}

/** Option names as this connection's user wrote them: database options or kmsTls.<provider>. */
class Names {
  constructor(private readonly context: TlsErrorContext) {}
  get isKms(): boolean {
    return this.context.kms !== undefined;
  }
  /** Whether the caller said which options were in force; absence proves nothing otherwise. */
  get knowsOptions(): boolean {
    return this.context.tls !== undefined || this.context.kms?.tls !== undefined;
  }
  /** true: set, false: known to be unset, undefined: not known. */
  isSet(name: 'certificateKeyFile' | 'certificateKeyFilePassword'): boolean | undefined {
    return this.knowsOptions ? this.value(name) !== undefined : undefined;
  }
  /** " ('/path')" when the file is known. */
  file(name: 'caFile' | 'certificateKeyFile' | 'crlFile'): string {
    const path = this.value(name);
    return path === undefined ? '' : ` ('${path}')`;
  }
  of(name: 'caFile' | 'certificateKeyFile' | 'certificateKeyFilePassword'): string {
    return this.context.kms ? kmsLabel(this.context.kms.provider, name) : label(name);
  }
  value(name: 'caFile' | 'certificateKeyFile' | 'certificateKeyFilePassword' | 'crlFile'): string | undefined {
    if (this.context.kms) return name === 'crlFile' ? undefined : this.context.kms.tls?.[name];
    return this.context.tls?.[name];
  }
  get peer(): string {
    const where = this.context.address ? ` at ${this.context.address}` : '';
    const what = this.context.target ?? (this.context.kms ? `the ${this.context.kms.provider} key management service` : 'the server');
    return `${what}${where}`;
  }
}

interface Translation {
  readonly code: CodeOf<'TlsError'>;
  readonly message: string;
  readonly fix: string;
}

type Rule = (names: Names, node: NodeError, context: TlsErrorContext) => Translation;

function trustedCas(caFile: string | undefined): string {
  if (caFile === undefined) return "Node's built-in public root certificates (no CA file is set)";
  try {
    const subjects = pemBlocks(readFileSync(caFile, 'latin1'))
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => oneLine(new X509Certificate(b.text).subject));
    return `only the CA file '${caFile}' (${subjects.join('; ')})`;
  } catch {
    return `only the CA file '${caFile}'`;
  }
}

const oneLine = (dn: string) => dn.replace(/\n/g, ', ');

function presented(context: TlsErrorContext): string {
  const cert = context.serverCertificate;
  return cert ? ` It presented a certificate for ${oneLine(cert.subject)}, issued by ${oneLine(cert.issuer)}.` : '';
}

const developmentEscape = (names: Names, option: 'allowInvalidCertificates' | 'allowInvalidHostnames') =>
  names.isKms ? '' : ` Only against a local test server: ${label(option)} skips this check (refused in production).`;

const unknownCa: Rule = (names, node, context) => ({
  code: 'TLS_UNKNOWN_CA',
  message: `${names.peer} presented a certificate that is not signed by a CA this client trusts (Node: ${node.message}, ${node.code}).${names.knowsOptions ? ` The client trusts ${trustedCas(names.value('caFile'))}.` : ''}${presented(context)}`,
  fix: `set ${names.of('caFile')} to a PEM file with the root CA (and any intermediates) that issued the server's certificate — your own CA when testing, or a current CA bundle if the system's is stale.${developmentEscape(names, 'allowInvalidCertificates')}`,
});

const RULES: ReadonlyArray<{ readonly codes: readonly string[]; readonly rule: Rule }> = [
  {
    codes: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED'],
    rule: unknownCa,
  },
  {
    codes: ['CERT_HAS_EXPIRED'],
    rule: (names, _node, context) => ({
      code: 'TLS_SERVER_CERT_EXPIRED',
      message: `${names.peer} presented an expired certificate${context.serverCertificate ? ` (valid until ${context.serverCertificate.validTo})` : ''}.${presented(context)}`,
      fix: `the server's operator must renew its certificate; if it looks valid, check this machine's clock.${developmentEscape(names, 'allowInvalidCertificates')}`,
    }),
  },
  {
    codes: ['CERT_NOT_YET_VALID'],
    rule: (names, _node, context) => ({
      code: 'TLS_SERVER_CERT_NOT_YET_VALID',
      message: `${names.peer} presented a certificate that is not valid yet.${presented(context)}`,
      fix: "check this machine's clock (and the server's); otherwise wait until the certificate's start date.",
    }),
  },
  {
    codes: ['ERR_TLS_CERT_ALTNAME_INVALID'],
    rule: (names, node) => ({
      code: 'TLS_HOSTNAME_MISMATCH',
      message: `${names.peer} presented a certificate that does not name the host the client connected to (${typeof node.reason === 'string' ? node.reason : node.message}).`,
      fix: `connect with a host name the certificate lists (use the name, not the IP address, if only the name is listed), or have the certificate reissued with this host in its subjectAltName.${developmentEscape(names, 'allowInvalidHostnames')}`,
    }),
  },
  {
    codes: ['CERT_REVOKED'],
    rule: (names, _node, context) => ({
      code: 'TLS_SERVER_CERT_REVOKED',
      message: `${names.peer} presented a certificate its CA has revoked, according to ${label('crlFile')}${names.file('crlFile')}.${presented(context)}`,
      fix: 'the server must get a new certificate: a revoked one can no longer be trusted (its key may be compromised). If the revocation is a mistake, the CA must publish a new CRL.',
    }),
  },
  {
    codes: ['UNABLE_TO_GET_CRL', 'CRL_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_SIGNATURE_FAILURE'],
    rule: (_names, node) => ({
      code: 'TLS_CRL_UNUSABLE',
      message: `Revocation could not be checked with ${label('crlFile')}: ${node.message} (${node.code}). With a CRL set, Node requires a current CRL signed by every CA in the server's chain.`,
      fix: `put the current CRL of each CA in the server's chain into the CRL file (PEM files can be concatenated), or remove ${label('crlFile')}.`,
    }),
  },
  {
    codes: ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_VERSION_TOO_LOW'],
    rule: (names) => ({
      code: 'TLS_PROTOCOL_VERSION',
      message: `${names.peer} and this client share no TLS protocol version (protocol version alert). Node accepts TLS 1.2 and 1.3 only; the server, or a TLS proxy in front of it, offers only older versions — its TLS library is too old for TLS 1.1+.`,
      fix: 'upgrade the TLS library (OpenSSL) of the server or proxy so it offers TLS 1.2, or connect to it directly without the old proxy.',
    }),
  },
  {
    codes: ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_NO_SHARED_CIPHER', 'ERR_SSL_NO_CIPHERS_AVAILABLE'],
    rule: (names) => {
      const certificate = names.isSet('certificateKeyFile');
      const noClientCert = certificate !== true;
      const certCause = `the server requires a client certificate and none was presented (${names.of('certificateKeyFile')}${certificate === false ? ' is not set' : ''})`;
      const cipherCause = 'client and server share no cipher suite (a new client TLS stack against a server older than MongoDB 4.0)';
      return {
        code: 'TLS_HANDSHAKE_FAILURE',
        message: `${names.peer} ended the TLS handshake with a handshake_failure alert. Likely: ${noClientCert ? `${certCause}; or ${cipherCause}` : cipherCause}.`,
        fix: noClientCert
          ? `if the server requires client certificates, set ${names.of('certificateKeyFile')} to a PEM with your certificate and key; otherwise upgrade the server (MongoDB 4.0+) or its TLS library so it offers current cipher suites.`
          : "upgrade the server (MongoDB 4.0+) or its TLS library so it offers current cipher suites; the server's log names what it lacked.",
      };
    },
  },
  {
    codes: ['ERR_SSL_UNSAFE_LEGACY_RENEGOTIATION_DISABLED'],
    rule: (names) => ({
      code: 'TLS_UNSAFE_LEGACY_RENEGOTIATION',
      message: `${names.peer} does not support secure renegotiation (RFC 5746), which current TLS libraries require ("unsafe legacy renegotiation disabled"). This is typically an old TLS proxy or load balancer in the network path.`,
      fix: 'upgrade or reconfigure the proxy to a TLS stack from this decade, or connect to the database directly.',
    }),
  },
  {
    codes: ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'],
    rule: (names) => ({
      code: 'TLS_CLIENT_CERT_REQUIRED',
      message: `${names.peer} requires a client certificate and this client presented none ("certificate required" alert).`,
      fix: `set ${names.of('certificateKeyFile')} to a PEM file holding a client certificate signed by a CA the server trusts, and its private key.`,
    }),
  },
  {
    codes: ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
      'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED'],
    rule: (names, node) => ({
      code: 'TLS_CLIENT_CERT_REJECTED',
      message: `${names.peer} refused this client's certificate from ${names.of('certificateKeyFile')}${names.file('certificateKeyFile')}: "${alertText(node)}".`,
      fix: 'present a current certificate issued by a CA the server trusts (its --tlsCAFile), with the clientAuth extended key usage; renew it if it has expired.',
    }),
  },
  {
    codes: ['ERR_OSSL_BAD_DECRYPT'],
    rule: (names) => {
      const password = names.isSet('certificateKeyFilePassword');
      const state = password === undefined ? 'missing or wrong' : password ? 'wrong' : 'not set';
      return {
        code: 'TLS_KEY_PASSPHRASE_WRONG',
        message: `The private key in ${names.of('certificateKeyFile')} could not be decrypted: ${names.of('certificateKeyFilePassword')} is ${state}.`,
        fix: `set ${names.of('certificateKeyFilePassword')} to the passphrase the key was encrypted with.`,
      };
    },
  },
  {
    codes: ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST'],
    rule: (names) => ({
      code: 'TLS_PEER_NOT_TLS',
      message: `${names.peer} did not answer with TLS: it speaks plain text on this port.`,
      fix: `use the server's TLS port, or turn TLS off for this server (${label('enabled')} = false) if it really has none.`,
    }),
  },
];

function alertText(node: NodeError): string {
  return /alert ([a-z0-9 ]+?)(:|$)/.exec(node.message)?.[1] ?? node.message;
}

const INTERRUPTED = /before secure TLS connection was established/;
const HANDSHAKE_TIMEOUT = /'secureConnect' timed out/;

/**
 * A TlsError for a TLS failure anywhere in `err`'s chain, or undefined when the failure is not
 * about TLS (connection refused, authentication, timeouts before any handshake…).
 */
export function translateTlsError(err: unknown, context: TlsErrorContext = {}): TlsError | undefined {
  const names = new Names(context);
  for (const node of nestedErrors(err)) {
    const match = RULES.find((r) => node.code !== undefined && r.codes.includes(node.code));
    let t: Translation | undefined = match?.rule(names, node, context);
    if (!t && node.code === 'ERR_CRYPTO_OPERATION_FAILED' && /parse CRL/i.test(node.message)) {
      t = {
        code: 'TLS_CRL_UNUSABLE',
        message: `Node could not parse the CRL from ${label('crlFile')}${names.file('crlFile')}.`,
        fix: "give a PEM or DER CRL and let Strongbox pass it on (tlsToDriverOptions converts DER); check it with 'openssl crl -in FILE -noout'.",
      };
    }
    if (!t && node.code === 'ECONNRESET' && INTERRUPTED.test(node.message)) {
      t = {
        code: 'TLS_HANDSHAKE_INTERRUPTED',
        message: `${names.peer} closed the connection during the TLS handshake.`,
        fix: `check that this port speaks TLS, whether the server requires a client certificate (${names.of('certificateKeyFile')}), and the server's log for the reason it gave.`,
      };
    }
    if (!t && HANDSHAKE_TIMEOUT.test(node.message)) {
      t = {
        code: 'TLS_HANDSHAKE_TIMEOUT',
        message: `${names.peer} accepted the TCP connection but never answered the TLS handshake (${node.message}). A port that speaks no TLS, such as a plain MongoDB port, behaves like this.`,
        fix: `use the server's TLS port, or turn TLS off for this server (${label('enabled')} = false) if it really has none.`,
      };
    }
    if (t) return new TlsError(t.code, t.message.charAt(0).toUpperCase() + t.message.slice(1), { fix: t.fix, cause: err });
  }
  return undefined;
}

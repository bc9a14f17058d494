/**
 * Strongbox's typed TLS configuration. Every option of the MongoDB manual's "TLS/SSL Configuration
 * for Clients" page exists here under the name a
 * TypeScript user expects; each maps to one connection-string (URI) option, and both forms mean
 * the same thing (see uri.ts). docs/tls.md describes what the Node driver really does with each.
 */

/** TLS settings for the connection to MongoDB. All optional; absent means "driver default". */
export interface TlsOptions {
  /**
   * URI `tls` (alias `ssl`). Use TLS: the client then verifies the server certificate chain and
   * that the certificate names the host it connected to.
   *
   * Absent: off for `mongodb://`, on for `mongodb+srv://`. Strongbox also turns TLS on when any
   * other option here is set and this one is absent (the Node driver alone would silently connect
   * without TLS and ignore them).
   */
  enabled?: boolean;
  /**
   * URI `tlsCAFile`. PEM file with the CA certificates to trust *instead of* Node's built-in root
   * store (Node option `ca`; the driver reads the file when connecting).
   */
  caFile?: string;
  /**
   * URI `tlsCertificateKeyFile`. PEM file holding the client certificate AND its private key,
   * presented to servers that ask for one (Node options `cert` and `key`, both from this file).
   * Build it with `cat client.crt client.key > client.pem`.
   */
  certificateKeyFile?: string;
  /**
   * URI `tlsCertificateKeyFilePassword`. Passphrase of an encrypted private key in
   * `certificateKeyFile` (Node option `passphrase`). Never logged or put in error messages.
   */
  certificateKeyFilePassword?: string;
  /**
   * URI `tlsCRLFile`. Certificate revocation list (PEM or DER) the server certificate is checked
   * against (Node option `crl`, which makes OpenSSL require a CRL for every CA in the chain).
   * The driver hands the file to Node unchanged and Node only parses PEM, so Strongbox converts a
   * DER file to PEM itself.
   */
  crlFile?: string;
  /**
   * URI `tlsAllowInvalidCertificates`. Accept a server certificate that fails validation
   * (untrusted chain, expired, revoked) (Node `rejectUnauthorized: false`, which with Node also
   * skips the host name check). Development only. The URI Options specification forbids it next
   * to `insecure`, `disableOcspEndpointCheck` or `disableCertificateRevocationCheck`, whatever
   * their values.
   */
  allowInvalidCertificates?: boolean;
  /**
   * URI `tlsAllowInvalidHostnames`. Accept a server certificate that does not name the host
   * (Node `checkServerIdentity` replaced by a no-op). Development only. Forbidden next to
   * `insecure` (any value) by the URI Options specification.
   */
  allowInvalidHostnames?: boolean;
  /**
   * URI `tlsInsecure`. Only require that the server presents some certificate: both of the above
   * at once. Traffic is still encrypted but anyone in the path can impersonate the server.
   * Development only.
   */
  insecure?: boolean;
  /**
   * URI `tlsDisableOCSPEndpointCheck`. In drivers that do OCSP, stops the client from asking the
   * CA's OCSP responder (stapled responses are still checked). The Node driver performs no OCSP
   * checking at all and rejects this option, so Strongbox accepts it for compatibility, validates
   * it, and never passes it on: it has no effect on the connection.
   */
  disableOcspEndpointCheck?: boolean;
  /**
   * URI `tlsDisableCertificateRevocationCheck`. In drivers that check revocation, turns off every
   * revocation check (CRL and OCSP alike). The Node driver checks revocation only against
   * `crlFile` and refuses this option, so Strongbox accepts it, validates it (it contradicts a
   * `crlFile`) and never passes it on.
   */
  disableCertificateRevocationCheck?: boolean;
}

export type TlsOptionName = keyof TlsOptions;

/** How a value is written in a connection string. */
export type TlsOptionKind = 'boolean' | 'string';

interface TlsOptionSpec {
  readonly name: TlsOptionName;
  readonly uriName: string;
  readonly kind: TlsOptionKind;
}

/** The one table both the URI parser and the messages are driven by. Order = URI output order. */
export const TLS_OPTION_SPECS: readonly TlsOptionSpec[] = [
  { name: 'enabled', uriName: 'tls', kind: 'boolean' },
  { name: 'caFile', uriName: 'tlsCAFile', kind: 'string' },
  { name: 'certificateKeyFile', uriName: 'tlsCertificateKeyFile', kind: 'string' },
  { name: 'certificateKeyFilePassword', uriName: 'tlsCertificateKeyFilePassword', kind: 'string' },
  { name: 'crlFile', uriName: 'tlsCRLFile', kind: 'string' },
  { name: 'allowInvalidCertificates', uriName: 'tlsAllowInvalidCertificates', kind: 'boolean' },
  { name: 'allowInvalidHostnames', uriName: 'tlsAllowInvalidHostnames', kind: 'boolean' },
  { name: 'insecure', uriName: 'tlsInsecure', kind: 'boolean' },
  { name: 'disableOcspEndpointCheck', uriName: 'tlsDisableOCSPEndpointCheck', kind: 'boolean' },
  { name: 'disableCertificateRevocationCheck', uriName: 'tlsDisableCertificateRevocationCheck', kind: 'boolean' },
];

function uriNameOf(name: TlsOptionName): string {
  return TLS_OPTION_SPECS.find((s) => s.name === name)!.uriName;
}

/**
 * The label every message uses, so the user finds the option whichever form they wrote:
 * "`caFile` (URI `tlsCAFile`)".
 */
export function label(name: TlsOptionName): string {
  return `\`${name}\` (URI \`${uriNameOf(name)}\`)`;
}

/** Options that only make sense with TLS on; setting one implies `enabled` when that is absent. */
export function subOptionsSet(tls: TlsOptions): TlsOptionName[] {
  return TLS_OPTION_SPECS.map((s) => s.name).filter((n) => n !== 'enabled' && tls[n] !== undefined);
}

/** Whether the connection will use TLS, after Strongbox's "sub-option implies TLS" rule. */
export function tlsIsOn(tls: TlsOptions): boolean {
  return tls.enabled ?? subOptionsSet(tls).length > 0;
}

/** The options that weaken server authentication; never allowed in production. */
export const INSECURE_OPTIONS = ['insecure', 'allowInvalidCertificates', 'allowInvalidHostnames'] as const;

/**
 * TLS settings for one KMS provider's connection (driver `tlsOptions[provider]` of
 * ClientEncryption / autoEncryption). The driver accepts exactly these three; it refuses
 * `tlsInsecure`, `tlsAllowInvalidCertificates` and `tlsAllowInvalidHostnames` for KMS
 * connections ("Insecure TLS options prohibited"), so Strongbox offers no insecure flag here.
 */
export interface KmsTlsOptions {
  /** Driver `tlsCAFile`: PEM CA file trusted for this KMS instead of Node's root store. */
  caFile?: string;
  /** Driver `tlsCertificateKeyFile`: PEM with the client certificate and key (KMIP needs one). */
  certificateKeyFile?: string;
  /** Driver `tlsCertificateKeyFilePassword`: passphrase of an encrypted key in that file. */
  certificateKeyFilePassword?: string;
}

/**
 * Per-provider KMS TLS settings, keyed like the driver's `kmsProviders`: `aws`, `azure`, `gcp`,
 * `kmip`, `local`, or a named provider such as `kmip:backup`.
 */
export type KmsTlsOptionsByProvider = Record<string, KmsTlsOptions | undefined>;

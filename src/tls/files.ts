/**
 * Reads and checks the files TLS options point at, with Node's own parsers (OpenSSL underneath),
 * so a broken file is reported by name before any connection is attempted. Messages may name
 * paths and certificate subjects, never key material or passphrases.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { WarningCode } from '../errorCatalogue';
import { ConfigError } from '../errors';

/** Something worth telling the user that does not stop the connection. */
export interface TlsWarning {
  readonly code: WarningCode;
  readonly message: string;
}

interface PemBlock {
  readonly label: string;
  readonly text: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, text: m[0] }));
}

const isPrivateKeyLabel = (l: string) => /(^| )PRIVATE KEY$/.test(l);

function derToPem(der: Buffer, pemLabel: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${pemLabel}-----\n${lines.join('\n')}\n-----END ${pemLabel}-----\n`;
}

/** Reads an option's file, or explains why it cannot be read. */
function readOptionFile(path: string, optionLabel: string): Buffer | ConfigError {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return new ConfigError('TLS_FILE_MISSING', `${optionLabel} names '${path}', which does not exist.`, {
        fix: 'correct the path (relative paths are resolved from the working directory of the process), or remove the option.',
        cause: err,
      });
    }
    return new ConfigError('TLS_FILE_UNREADABLE', `${optionLabel} names '${path}', which cannot be read (${code ?? String(err)}).`, {
      fix: 'point the option at a regular file this process may read (check its permissions and that it is not a directory).',
      cause: err,
    });
  }
}

const notPem = (path: string, optionLabel: string, expected: string) =>
  new ConfigError('TLS_FILE_NOT_PEM', `${optionLabel} names '${path}', which is not a PEM file: no ${expected} block was found.`, {
    fix: `give a PEM file (text starting with '-----BEGIN ${expected}-----'); convert a DER file with 'openssl x509 -inform der -in FILE -out FILE.pem'.`,
  });

function parseCertificate(block: PemBlock, path: string, optionLabel: string): X509Certificate | ConfigError {
  try {
    return new X509Certificate(block.text);
  } catch (err) {
    return new ConfigError('TLS_FILE_INVALID_CERTIFICATE', `${optionLabel} names '${path}', which holds a CERTIFICATE block OpenSSL cannot parse.`, {
      fix: "re-export the certificate; 'openssl x509 -in FILE -noout -text' shows what is wrong with it.",
      cause: err,
    });
  }
}

/** A CA file must hold at least one parseable certificate. */
export function checkCaFile(path: string, optionLabel: string): ConfigError | undefined {
  const content = readOptionFile(path, optionLabel);
  if (content instanceof ConfigError) return content;
  const certs = pemBlocks(content.toString('latin1')).filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) return notPem(path, optionLabel, 'CERTIFICATE');
  for (const block of certs) {
    const parsed = parseCertificate(block, path, optionLabel);
    if (parsed instanceof ConfigError) return parsed;
  }
  return undefined;
}

/** The CRL as the PEM text Node's `crl` option needs, whichever form the file is in. */
export function crlAsPem(content: Buffer): string | undefined {
  const blocks = pemBlocks(content.toString('latin1')).filter((b) => b.label === 'X509 CRL');
  if (blocks.length > 0) return blocks.map((b) => b.text).join('\n');
  // DER: an ASN.1 SEQUENCE. Whether it really is a CRL is left to OpenSSL (checkCrlFile).
  return content[0] === 0x30 ? derToPem(content, 'X509 CRL') : undefined;
}

export function isPemCrl(content: Buffer): boolean {
  return pemBlocks(content.toString('latin1')).some((b) => b.label === 'X509 CRL');
}

/** A CRL file must be a PEM or DER CRL that OpenSSL accepts. */
export function checkCrlFile(path: string, optionLabel: string): ConfigError | undefined {
  const content = readOptionFile(path, optionLabel);
  if (content instanceof ConfigError) return content;
  const pem = crlAsPem(content);
  const invalid = (err?: unknown) =>
    new ConfigError('TLS_FILE_INVALID_CRL', `${optionLabel} names '${path}', which is neither a PEM nor a DER certificate revocation list.`, {
      fix: "give the CRL your CA publishes (.pem or .der); 'openssl crl -in FILE -noout -text' (add '-inform der' for DER) shows whether it parses.",
      cause: err,
    });
  if (pem === undefined) return invalid();
  try {
    createSecureContext({ crl: pem });
  } catch (err) {
    return invalid(err);
  }
  return undefined;
}

export interface CertificateKeyLabels {
  readonly file: string;
  readonly password: string;
}

/**
 * A certificate-key file must hold the client certificate and its private key (the MongoDB manual's
 * "TLS/SSL Configuration for Clients": both in one PEM), the key must open with the given passphrase and belong to the certificate, and the
 * certificate must be valid now.
 */
export function checkCertificateKeyFile(
  path: string,
  password: string | undefined,
  labels: CertificateKeyLabels,
  now: Date = new Date(),
): { error?: ConfigError; warning?: TlsWarning } {
  const content = readOptionFile(path, labels.file);
  if (content instanceof ConfigError) return { error: content };
  const blocks = pemBlocks(content.toString('latin1'));
  if (blocks.length === 0) return { error: notPem(path, labels.file, 'CERTIFICATE') };
  const certBlock = blocks.find((b) => b.label === 'CERTIFICATE');
  const keyBlock = blocks.find((b) => isPrivateKeyLabel(b.label));
  const combine = "put both in one file: 'cat client.crt client.key > client.pem'.";
  if (!certBlock) {
    return { error: new ConfigError('TLS_CERT_KEY_FILE_NO_CERTIFICATE', `${labels.file} names '${path}', which holds a private key but no certificate.`, { fix: combine }) };
  }
  if (!keyBlock) {
    return { error: new ConfigError('TLS_CERT_KEY_FILE_NO_KEY', `${labels.file} names '${path}', which holds a certificate but no private key.`, { fix: combine }) };
  }
  const cert = parseCertificate(certBlock, path, labels.file);
  if (cert instanceof ConfigError) return { error: cert };
  const key = openPrivateKey(keyBlock.text, password, path, labels);
  if (key instanceof ConfigError) return { error: key };
  if (!cert.checkPrivateKey(key)) {
    return {
      error: new ConfigError('TLS_CERT_KEY_MISMATCH', `${labels.file} names '${path}', whose private key does not belong to its certificate (${cert.subject.replace(/\n/g, ', ')}).`, {
        fix: 'concatenate the certificate with the key it was issued for.',
      }),
    };
  }
  const validity = checkValidity(cert, path, labels.file, now);
  if (validity) return { error: validity };
  if (password !== undefined && !isEncrypted(keyBlock.text)) {
    return { warning: { code: 'TLS_PASSWORD_NOT_NEEDED', message: `${labels.password} is set but the private key in '${path}' is not encrypted; the passphrase is ignored.` } };
  }
  return {};
}

// PKCS#8 says so in its label, legacy PKCS#1 in a Proc-Type header: both contain the word.
const isEncrypted = (keyPem: string) => keyPem.includes('ENCRYPTED');

function openPrivateKey(pem: string, password: string | undefined, path: string, labels: CertificateKeyLabels): KeyObject | ConfigError {
  // Asked before OpenSSL is: without a passphrase its error code differs between Node versions.
  if (isEncrypted(pem) && password === undefined) {
    return new ConfigError('TLS_KEY_PASSPHRASE_MISSING', `The private key in ${labels.file} ('${path}') is encrypted and ${labels.password} is not set.`, {
      fix: `set ${labels.password} to the key's passphrase (from a secret store, not source code), or use an unencrypted key file.`,
    });
  }
  try {
    return createPrivateKey(password === undefined ? { key: pem } : { key: pem, passphrase: password });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A wrong passphrase usually fails the padding check of the decrypted key (bad decrypt); about
    // once in 256 the bytes it decrypts to pass that check and fail to decode instead.
    if (code === 'ERR_OSSL_BAD_DECRYPT' || (code === 'ERR_OSSL_UNSUPPORTED' && isEncrypted(pem))) {
      return new ConfigError('TLS_KEY_PASSPHRASE_WRONG', `${labels.password} does not decrypt the private key in ${labels.file} ('${path}').`, {
        fix: `set ${labels.password} to the passphrase the key was encrypted with; 'openssl pkey -in FILE -noout' asks for it and tells whether it is right.`,
        cause: err,
      });
    }
    return new ConfigError('TLS_KEY_INVALID', `The private key in ${labels.file} ('${path}') cannot be read by OpenSSL (${code ?? 'unknown error'}).`, {
      fix: "re-export the key in PEM (PKCS#8 or PKCS#1); 'openssl pkey -in FILE -noout' shows what is wrong.",
      cause: err,
    });
  }
}

function checkValidity(cert: X509Certificate, path: string, optionLabel: string, now: Date): ConfigError | undefined {
  const subject = cert.subject.replace(/\n/g, ', ');
  if (now.getTime() > Date.parse(cert.validTo)) {
    return new ConfigError('TLS_CLIENT_CERT_EXPIRED', `The client certificate in ${optionLabel} ('${path}', ${subject}) expired on ${cert.validTo}; servers will refuse it.`, {
      fix: 'renew the certificate with your CA and point the option at the new file.',
    });
  }
  if (now.getTime() < Date.parse(cert.validFrom)) {
    return new ConfigError('TLS_CLIENT_CERT_NOT_YET_VALID', `The client certificate in ${optionLabel} ('${path}', ${subject}) is not valid before ${cert.validFrom}; servers will refuse it.`, {
      fix: "check this machine's clock, or wait until the certificate becomes valid.",
    });
  }
  return undefined;
}

/**
 * TLS for the connections libmongocrypt makes to key management services (through the driver's
 * ClientEncryption / autoEncryption `tlsOptions`).
 */
import type { ClientEncryptionOptions } from 'mongodb';
import { ConfigError } from '../errors';
import { checkCaFile, checkCertificateKeyFile, type TlsWarning } from './files';
import type { KmsTlsOptions, KmsTlsOptionsByProvider } from './options';

type DriverKmsTlsOptions = NonNullable<ClientEncryptionOptions['tlsOptions']>;

const DRIVER_NAMES: Record<keyof KmsTlsOptions, string> = {
  caFile: 'tlsCAFile',
  certificateKeyFile: 'tlsCertificateKeyFile',
  certificateKeyFilePassword: 'tlsCertificateKeyFilePassword',
};

/** "`kmsTls.kmip.caFile` (driver `tlsOptions.kmip.tlsCAFile`)" */
export function kmsLabel(provider: string, name: keyof KmsTlsOptions): string {
  return `\`kmsTls.${provider}.${name}\` (driver \`tlsOptions.${provider}.${DRIVER_NAMES[name]}\`)`;
}

export function kmsTlsToDriverOptions(byProvider: KmsTlsOptionsByProvider): DriverKmsTlsOptions {
  const out: DriverKmsTlsOptions = {};
  for (const [provider, tls] of Object.entries(byProvider)) {
    if (!tls) continue;
    const entry: Record<string, string> = {};
    for (const name of Object.keys(DRIVER_NAMES) as (keyof KmsTlsOptions)[]) {
      if (tls[name] !== undefined) entry[DRIVER_NAMES[name]] = tls[name];
    }
    out[provider] = entry;
  }
  return out;
}

/**
 * Same file checks as for the database connection. Keys outside KmsTlsOptions (from JavaScript or
 * JSON configuration) are refused by name: passing them on would either be ignored or, for the
 * insecure flags, make the driver fail only when the first KMS request is made.
 */
export function checkKmsTlsOptions(byProvider: KmsTlsOptionsByProvider, now: Date = new Date()): { errors: ConfigError[]; warnings: TlsWarning[] } {
  const errors: ConfigError[] = [];
  const warnings: TlsWarning[] = [];
  for (const [provider, tls] of Object.entries(byProvider)) {
    if (!tls) continue;
    for (const key of Object.keys(tls)) {
      if (key in DRIVER_NAMES) continue;
      const insecure = /insecure|allowinvalid/i.test(key);
      errors.push(new ConfigError(insecure ? 'TLS_KMS_INSECURE_NOT_ALLOWED' : 'TLS_KMS_UNKNOWN_OPTION', insecure
        ? `\`kmsTls.${provider}.${key}\` is set, but KMS connections must always verify the KMS certificate: the driver refuses insecure TLS options for key management services.`
        : `\`kmsTls.${provider}.${key}\` is not a KMS TLS option.`, {
        fix: `remove it; a KMS connection accepts only ${Object.keys(DRIVER_NAMES).join(', ')}. To trust a private CA, set ${kmsLabel(provider, 'caFile')}.`,
      }));
    }
    const mistyped = (Object.keys(DRIVER_NAMES) as (keyof KmsTlsOptions)[]).filter((name) => tls[name] !== undefined && (typeof tls[name] !== 'string' || tls[name] === ''));
    for (const name of mistyped) {
      // Named by type only (it may be a passphrase); a number would be read as a file descriptor.
      errors.push(new ConfigError('TLS_OPTION_TYPE', `${kmsLabel(provider, name)} must be a non-empty string, got ${tls[name] === null ? 'null' : typeof tls[name]}.`, {
        fix: `give ${kmsLabel(provider, name)} as a string, or remove it.`,
      }));
    }
    if (mistyped.length > 0) continue;
    if (tls.caFile !== undefined) {
      const e = checkCaFile(tls.caFile, kmsLabel(provider, 'caFile'));
      if (e) errors.push(e);
    }
    if (tls.certificateKeyFile !== undefined) {
      const { error, warning } = checkCertificateKeyFile(tls.certificateKeyFile, tls.certificateKeyFilePassword, {
        file: kmsLabel(provider, 'certificateKeyFile'),
        password: kmsLabel(provider, 'certificateKeyFilePassword'),
      }, now);
      if (error) errors.push(error);
      if (warning) warnings.push(warning);
    }
  }
  return { errors, warnings };
}

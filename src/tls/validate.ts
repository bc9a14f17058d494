/**
 * The TLS rules of MongoDB's client TLS guide and URI Options specification, checked before any
 * network traffic. Every problem becomes one ConfigError that names the option (typed and URI
 * name), the cause and the fix.
 */
import { ConfigError } from '../errors';
import { tlsConflictError } from './conflicts';
import { checkCaFile, checkCertificateKeyFile, checkCrlFile, type TlsWarning } from './files';
import { INSECURE_OPTIONS, TLS_OPTION_SPECS, label, subOptionsSet, tlsIsOn, type TlsOptions } from './options';
import { resolveTls } from './uri';

export type { TlsWarning } from './files';

export type Environment = 'development' | 'production';

export interface TlsValidationContext {
  readonly environment: Environment;
  /** The connection string; its TLS parameters are merged with the options being checked. */
  readonly uri?: string;
  /** For tests of certificate dates. */
  readonly now?: Date;
}

export interface TlsCheckResult {
  /** The options in force: URI and object merged, SRV default applied. */
  readonly tls: TlsOptions;
  readonly errors: ConfigError[];
  readonly warnings: TlsWarning[];
}

/** Every problem at once (for `strongbox doctor`). Never throws. */
export function checkTlsOptions(options: TlsOptions, context: TlsValidationContext): TlsCheckResult {
  let tls = options;
  if (context.uri !== undefined) {
    try {
      tls = resolveTls(context.uri, options).tls;
    } catch (err) {
      return { tls: options, errors: [err as ConfigError], warnings: [] };
    }
  }
  const typeErrors = checkTypes(tls);
  // The other rules compare with true and read files: they assume every option has its type.
  if (typeErrors.length > 0) return { tls, errors: typeErrors, warnings: [] };
  // Alone, as when parsing a connection string: the same options get the same verdict either way.
  const conflict = tlsConflictError(tls);
  if (conflict) return { tls, errors: [conflict], warnings: [] };
  const errors: ConfigError[] = [];
  const warnings: TlsWarning[] = [];
  checkCombinations(tls, errors, warnings);
  checkEnvironment(tls, context.environment, errors, warnings);
  if (tlsIsOn(tls)) checkFiles(tls, context.now ?? new Date(), errors, warnings);
  return { tls, errors, warnings };
}

/** Throws the first problem; returns the options in force and the warnings otherwise. */
export function validateTlsOptions(options: TlsOptions, context: TlsValidationContext): { tls: TlsOptions; warnings: TlsWarning[] } {
  const { tls, errors, warnings } = checkTlsOptions(options, context);
  if (errors.length > 0) throw errors[0];
  return { tls, warnings };
}

/**
 * JavaScript and JSON configurations get past the types. A string 'true' would slip past the
 * production refusal (it refuses `true`) while the driver reads it as true, and a number given as
 * a file is a file descriptor to Node (0 is standard input). So each option must have its kind.
 * The message names the type only: the value may be a passphrase.
 */
function checkTypes(tls: TlsOptions): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const { name, kind } of TLS_OPTION_SPECS) {
    const value: unknown = tls[name];
    if (value === undefined) continue;
    const fits = kind === 'boolean' ? typeof value === 'boolean' : typeof value === 'string' && value !== '';
    if (fits) continue;
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : value === '' ? 'an empty string' : `a ${typeof value}`;
    errors.push(new ConfigError('TLS_OPTION_TYPE', `${label(name)} must be ${kind === 'boolean' ? 'true or false' : 'a non-empty string'}, got ${got}.`, {
      fix: kind === 'boolean' ? `write ${label(name)} as the boolean true or false, not in quotes.` : `give ${label(name)} as a path string, or remove it.`,
    }));
  }
  return errors;
}

function checkCombinations(tls: TlsOptions, errors: ConfigError[], warnings: TlsWarning[]): void {
  if (tls.crlFile !== undefined && tls.disableOcspEndpointCheck === false) {
    // Node does no OCSP, so "OCSP on" can only be the explicit request for endpoint checks;
    // MongoDB's TLS guide says a handshake uses a CRL or OCSP, never both.
    errors.push(new ConfigError('TLS_CRL_WITH_OCSP', `${label('crlFile')} is set and ${label('disableOcspEndpointCheck')} is explicitly false (OCSP endpoint checks requested); CRL and OCSP cannot be used in the same handshake.`, {
      fix: `choose one revocation check: keep ${label('crlFile')} and remove ${label('disableOcspEndpointCheck')} (the Node driver does no OCSP anyway), or drop the CRL.`,
    }));
  } else if (tls.disableOcspEndpointCheck !== undefined) {
    warnings.push({ code: 'TLS_OCSP_NOT_PERFORMED', message: `${label('disableOcspEndpointCheck')} has no effect: the Node driver performs no OCSP checking, stapled or by endpoint. Use ${label('crlFile')} to check revocation.` });
  }
  if (tls.crlFile !== undefined && tls.disableCertificateRevocationCheck === true) {
    errors.push(new ConfigError('TLS_CRL_WITH_REVOCATION_CHECK_DISABLED', `${label('crlFile')} is set but ${label('disableCertificateRevocationCheck')} is true: the CRL asks for a revocation check that the other option turns off.`, {
      fix: `to check revocation keep ${label('crlFile')} and remove ${label('disableCertificateRevocationCheck')}; to skip it, remove ${label('crlFile')}.`,
    }));
  } else if (tls.disableCertificateRevocationCheck !== undefined && tls.crlFile === undefined) {
    warnings.push({ code: 'TLS_REVOCATION_NOT_PERFORMED', message: `${label('disableCertificateRevocationCheck')} has no effect: the Node driver checks revocation only against ${label('crlFile')} (no OCSP), and none is set.` });
  }
  if (tls.enabled === false) {
    for (const name of subOptionsSet(tls)) {
      errors.push(new ConfigError('TLS_OPTION_WITH_TLS_OFF', `${label(name)} is set but TLS is explicitly off (${label('enabled')} = false), so it would be ignored.`, {
        fix: `turn TLS on (${label('enabled')} = true) or remove ${label(name)}.`,
      }));
    }
  }
  if (tls.certificateKeyFilePassword !== undefined && tls.certificateKeyFile === undefined) {
    warnings.push({ code: 'TLS_PASSWORD_WITHOUT_FILE', message: `${label('certificateKeyFilePassword')} is set but ${label('certificateKeyFile')} is not; the passphrase is unused.` });
  }
}

function checkEnvironment(tls: TlsOptions, environment: Environment, errors: ConfigError[], warnings: TlsWarning[]): void {
  for (const name of INSECURE_OPTIONS) {
    if (tls[name] !== true) continue;
    if (environment === 'production') {
      errors.push(new ConfigError('TLS_INSECURE_IN_PRODUCTION', `${label(name)} is true in production; it lets anyone in the network path impersonate the server.`, {
        fix: `remove ${label(name)} and make the server certificate valid: trust its CA with ${label('caFile')}, connect with a host name the certificate names.`,
      }));
    } else {
      // Node ignores checkServerIdentity's verdict once rejectUnauthorized is false (observed
      // in test/tls/handshake.test.ts), so this option cannot keep the host name check.
      const alsoHostnames = name === 'allowInvalidCertificates' ? ' With the Node driver it also disables host name verification, so it amounts to `insecure`.' : '';
      warnings.push({ code: 'TLS_INSECURE_OPTION', message: `${label(name)} is true: the server is not fully authenticated.${alsoHostnames} Acceptable against a local test server only; refused in production.` });
    }
  }
  if (environment === 'production' && !tlsIsOn(tls)) {
    warnings.push({ code: 'TLS_OFF_IN_PRODUCTION', message: `TLS is off in production (${label('enabled')}): credentials and data cross the network in clear text.` });
  }
}

function checkFiles(tls: TlsOptions, now: Date, errors: ConfigError[], warnings: TlsWarning[]): void {
  const push = (e: ConfigError | undefined) => e && errors.push(e);
  if (tls.caFile !== undefined) push(checkCaFile(tls.caFile, label('caFile')));
  if (tls.crlFile !== undefined) push(checkCrlFile(tls.crlFile, label('crlFile')));
  if (tls.certificateKeyFile !== undefined) {
    const { error, warning } = checkCertificateKeyFile(tls.certificateKeyFile, tls.certificateKeyFilePassword, { file: label('certificateKeyFile'), password: label('certificateKeyFilePassword') }, now);
    push(error);
    if (warning) warnings.push(warning);
  }
}

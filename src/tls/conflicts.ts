/**
 * The TLS options that must never appear together, from the "Conflicting TLS options" section of
 * MongoDB's URI Options specification. The specification makes them errors when both options
 * *appear*, whatever their values: `tlsInsecure=false&tlsAllowInvalidCertificates=true` is as
 * wrong as both true, because a reader cannot tell which of the two decides.
 *
 * One table serves the connection-string parser and the validation of typed options, so both
 * forms refuse exactly the same combinations with the same error.
 */
import { ConfigError } from '../errors';
import { label, type TlsOptionName, type TlsOptions } from './options';

/** Each pair, in the specification's order (rules 1 to 7). */
export const CONFLICTING_TLS_OPTIONS: readonly (readonly [TlsOptionName, TlsOptionName])[] = [
  ['insecure', 'allowInvalidCertificates'],
  ['insecure', 'allowInvalidHostnames'],
  ['insecure', 'disableOcspEndpointCheck'],
  ['insecure', 'disableCertificateRevocationCheck'],
  ['allowInvalidCertificates', 'disableOcspEndpointCheck'],
  ['allowInvalidCertificates', 'disableCertificateRevocationCheck'],
  ['disableOcspEndpointCheck', 'disableCertificateRevocationCheck'],
];

/**
 * One error naming every conflicting pair present, or undefined. The message depends only on
 * which options are set (never on their order or their values), so a connection string and
 * the same options typed get the identical error.
 */
export function tlsConflictError(tls: TlsOptions): ConfigError | undefined {
  const found = CONFLICTING_TLS_OPTIONS.filter(([a, b]) => tls[a] !== undefined && tls[b] !== undefined);
  if (found.length === 0) return undefined;
  const pairs = found.map(([a, b]) => `${label(a)} with ${label(b)}`).join('; ');
  return new ConfigError('TLS_CONFLICTING_OPTIONS', `Conflicting TLS options: ${pairs}. MongoDB's URI Options specification forbids these together whatever their values (false included): one relaxes or skips a check the other is about, so which one decides would be a guess.`, {
    fix: `keep one option of each pair: ${label('insecure')} alone relaxes every check; otherwise choose which single check to relax, and remove the other option, also where it is false.`,
  });
}

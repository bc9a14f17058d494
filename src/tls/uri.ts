/**
 * TLS options in connection strings, and the translation of typed options into the Node driver's.
 *
 * Strongbox takes the TLS parameters out of the URI and hands everything TLS to the driver as
 * client options. That way one parser (this one) decides what a URI means, options the driver
 * rejects (`tlsDisableOCSPEndpointCheck`) never reach it, and a URI value and an object value can
 * be compared before anything is connected.
 */
import { readFileSync } from 'node:fs';
import type { MongoClientOptions } from 'mongodb';
import { ConfigError } from '../errors';
import { tlsConflictError } from './conflicts';
import { crlAsPem, isPemCrl } from './files';
import { TLS_OPTION_SPECS, label, tlsIsOn, type TlsOptionName, type TlsOptions } from './options';

export interface ParsedTlsUri {
  /** Only what the connection string states; the SRV default is not applied here. */
  readonly tls: TlsOptions;
  /** `mongodb+srv://`: TLS is on unless something says otherwise. */
  readonly srv: boolean;
  /** The connection string with every TLS parameter removed, for the driver. */
  readonly driverUri: string;
}

const SPEC_BY_URI_NAME = new Map(TLS_OPTION_SPECS.map((s) => [s.uriName.toLowerCase(), s]));
// `ssl` is the driver's older spelling of `tls`.
SPEC_BY_URI_NAME.set('ssl', TLS_OPTION_SPECS.find((s) => s.name === 'enabled')!);

function splitQuery(uri: string): { base: string; query: string } {
  const at = uri.indexOf('?');
  return at < 0 ? { base: uri, query: '' } : { base: uri.slice(0, at), query: uri.slice(at + 1) };
}

function parseValue(spec: (typeof TLS_OPTION_SPECS)[number], rawKey: string, value: string): boolean | string {
  const name = spec.name;
  if (spec.kind === 'boolean') {
    // Exactly what the driver accepts; anything looser would make the two parsers disagree.
    if (value === 'true' || value === 'false') return value === 'true';
    throw new ConfigError('TLS_URI_INVALID_VALUE', `The connection string sets \`${rawKey}\` (${label(name)}) to '${value}', which is not a boolean.`, {
      fix: `write ${rawKey}=true or ${rawKey}=false (lower case).`,
    });
  }
  if (value === '') {
    throw new ConfigError('TLS_URI_INVALID_VALUE', `The connection string gives \`${rawKey}\` (${label(name)}) an empty value.`, {
      fix: `give a value, or remove the parameter. Percent-encode special characters in paths (for example '+' as %2B).`,
    });
  }
  return value;
}

/** Splits a connection string into its TLS options and the rest. Throws ConfigError on bad values. */
export function parseTlsUri(uri: string): ParsedTlsUri {
  const { base, query } = splitQuery(uri);
  const tls: Record<string, boolean | string> = {};
  const seenAs = new Map<TlsOptionName, string>();
  const kept: string[] = [];
  for (const segment of query.split('&')) {
    if (segment === '') continue;
    // URLSearchParams decodes exactly like the driver's parser ('+' is a space, %XX a byte).
    const pair = [...new URLSearchParams(segment)][0];
    // A segment with no key at all ('?' or '=' alone) is not a TLS option: the driver judges it.
    if (pair === undefined) {
      kept.push(segment);
      continue;
    }
    const [key, value] = pair;
    const spec = SPEC_BY_URI_NAME.get(key.toLowerCase());
    if (!spec) {
      kept.push(segment);
      continue;
    }
    const parsed = parseValue(spec, key, value);
    const earlier = seenAs.get(spec.name);
    if (earlier !== undefined && !(spec.name === 'enabled' && tls.enabled === parsed)) {
      // URI Options specification: every `tls` and `ssl` must have the same value (then repeating
      // them is fine); other repeated keys are undefined behaviour there, so refused here.
      const message = spec.name === 'enabled'
        ? `The connection string turns TLS both on and off: '${earlier}=${String(tls.enabled)}' and '${key}=${value}' (\`ssl\` is an alias of \`tls\`; all must agree).`
        : `The connection string sets ${label(spec.name)} twice ('${earlier}' and '${key}').`;
      throw new ConfigError('TLS_URI_DUPLICATE_OPTION', message, { fix: spec.name === 'enabled' ? 'give tls (or ssl) one value everywhere, or keep only one of them.' : 'keep one of them.' });
    }
    seenAs.set(spec.name, key);
    tls[spec.name] = parsed;
  }
  // The specification wants conflicting options refused while parsing.
  const conflict = tlsConflictError(tls as TlsOptions);
  if (conflict) throw conflict;
  return {
    tls: tls as TlsOptions,
    srv: /^mongodb\+srv:\/\//i.test(uri),
    driverUri: kept.length > 0 ? `${base}?${kept.join('&')}` : base,
  };
}

/** The TLS options a connection string means, including the SRV default (TLS on). */
export function tlsFromUri(uri: string): TlsOptions {
  const { tls, srv } = parseTlsUri(uri);
  return srv && tls.enabled === undefined ? { ...tls, enabled: true } : tls;
}

/** The query-string form of typed options (no leading '?'); `tlsFromUri` reads it back unchanged. */
export function tlsToUriQuery(tls: TlsOptions): string {
  return TLS_OPTION_SPECS.filter((s) => tls[s.name] !== undefined)
    .map((s) => `${s.uriName}=${encodeURIComponent(String(tls[s.name]))}`)
    .join('&');
}

/**
 * Combines the options of the connection string with those of the client object. Setting one
 * option in both places is allowed only with the same value; otherwise it is a ConfigError, since
 * silently preferring either would hide a mistake.
 */
export function mergeTls(uriTls: TlsOptions, objectTls: TlsOptions): TlsOptions {
  // `tls: true` in a JavaScript configuration would otherwise be read as "no options": no TLS at all.
  if (objectTls === null || typeof objectTls !== 'object' || Array.isArray(objectTls)) {
    throw new ConfigError('TLS_OPTIONS_NOT_OBJECT', `The TLS options must be an object, got ${Array.isArray(objectTls) ? 'an array' : typeof objectTls}.`, {
      fix: "write tls: { enabled: true, caFile: 'ca.pem' } (or tls=true in the connection string).",
    });
  }
  const merged: Record<string, unknown> = {};
  for (const { name, uriName } of TLS_OPTION_SPECS) {
    const [fromUri, fromObject] = [uriTls[name], objectTls[name]];
    if (fromUri !== undefined && fromObject !== undefined && fromUri !== fromObject) {
      const values = name === 'certificateKeyFilePassword' ? 'two different passphrases' : `'${String(fromUri)}' in the URI, '${String(fromObject)}' in the options`;
      throw new ConfigError('TLS_URI_OBJECT_CONFLICT', `${label(name)} is set differently in the connection string and in the client options (${values}).`, {
        fix: `set it in one place only: remove \`${uriName}\` from the connection string or \`${name}\` from the options.`,
      });
    }
    const value = fromObject ?? fromUri;
    if (value !== undefined) merged[name] = value;
  }
  return merged as TlsOptions;
}

/**
 * What createClient needs: the effective TLS options (URI and object merged, SRV default applied
 * unless either side decides) and the connection string to give the driver.
 */
export function resolveTls(uri: string, objectTls: TlsOptions = {}): { tls: TlsOptions; driverUri: string } {
  const parsed = parseTlsUri(uri);
  const tls = mergeTls(parsed.tls, objectTls);
  if (parsed.srv && tls.enabled === undefined) tls.enabled = true;
  return { tls, driverUri: parsed.driverUri };
}

/**
 * The driver client options for typed TLS options. Files are passed as paths for the driver to
 * read, except a DER CRL: the driver hands CRL bytes to Node unchanged and Node parses only PEM
 * ("Failed to parse CRL"), so that one is read and converted here.
 */
export function tlsToDriverOptions(tls: TlsOptions): Partial<MongoClientOptions> {
  const out: Partial<MongoClientOptions> = {};
  if (tlsIsOn(tls)) out.tls = true;
  else if (tls.enabled === false) out.tls = false;
  if (tls.caFile !== undefined) out.tlsCAFile = tls.caFile;
  if (tls.certificateKeyFile !== undefined) out.tlsCertificateKeyFile = tls.certificateKeyFile;
  if (tls.certificateKeyFilePassword !== undefined) out.tlsCertificateKeyFilePassword = tls.certificateKeyFilePassword;
  if (tls.crlFile !== undefined) Object.assign(out, crlOption(tls.crlFile));
  if (tls.allowInvalidCertificates !== undefined) out.tlsAllowInvalidCertificates = tls.allowInvalidCertificates;
  if (tls.allowInvalidHostnames !== undefined) out.tlsAllowInvalidHostnames = tls.allowInvalidHostnames;
  if (tls.insecure !== undefined) out.tlsInsecure = tls.insecure;
  // disableOcspEndpointCheck and disableCertificateRevocationCheck: the driver rejects both and
  // checks revocation only against a CRL file, so there is nothing to pass.
  return out;
}

function crlOption(crlFile: string): Partial<MongoClientOptions> {
  let content: Buffer | undefined;
  try {
    content = readFileSync(crlFile);
  } catch {
    // validateTlsOptions reports this file; left to the driver it fails on connect the same way.
  }
  const pem = content && !isPemCrl(content) ? crlAsPem(content) : undefined;
  return pem === undefined ? { tlsCRLFile: crlFile } : { crl: pem };
}

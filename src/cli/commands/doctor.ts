/**
 * `strongbox doctor`: checks the TLS configuration offline, then makes one real connection, and
 * says in one line per check what is right or what to change.
 */
import { MongoClient } from 'mongodb';
import { addresses, diagnoseListener, singleAddress } from '../../client/reachability';
import type { StrongboxError } from '../../errors';
import { inspectServerCertificate } from '../../tls/inspect';
import { tlsIsOn, type TlsOptions } from '../../tls/options';
import { translateTlsError } from '../../tls/translate';
import { resolveTls, tlsToDriverOptions } from '../../tls/uri';
import { checkTlsOptions, type Environment } from '../../tls/validate';

export interface DoctorConfig {
  readonly uri: string;
  readonly tls?: TlsOptions;
  readonly environment: Environment;
  /** How long the handshake check may take; default 3000 ms. */
  readonly timeoutMS?: number;
}

export async function runDoctor(config: DoctorConfig, out: (line: string) => void): Promise<boolean> {
  let ok = true;
  const pass = (check: string, detail: string) => out(`✔ ${check}: ${detail}`);
  const fail = (check: string, err: Error) => {
    ok = false;
    const code = (err as Partial<StrongboxError>).code;
    out(`✘ ${check}: ${err.message}${code ? ` [${code}]` : ''}`);
  };

  let resolved: ReturnType<typeof resolveTls>;
  try {
    resolved = resolveTls(config.uri, config.tls ?? {});
  } catch (err) {
    fail('connection string', err as Error);
    return false;
  }
  pass('connection string', 'TLS parameters parsed and consistent with the client options');

  const { tls, driverUri } = resolved;
  const checked = checkTlsOptions(tls, { environment: config.environment });
  for (const warning of checked.warnings) out(`⚠ TLS configuration: ${warning.message} [${warning.code}]`);
  for (const error of checked.errors) fail('TLS configuration', error);
  if (checked.errors.length > 0) return false;
  pass('TLS configuration', describe(tls, config.environment));

  const timeout = config.timeoutMS ?? 3000;
  const single = singleAddress(driverUri);
  const listenerProblem = single && await diagnoseListener(single, tlsIsOn(tls), 'the server', Math.min(timeout, 2000));
  if (listenerProblem) {
    fail('connection', listenerProblem);
    return false;
  }
  const client = new MongoClient(driverUri, { ...tlsToDriverOptions(tls), serverSelectionTimeoutMS: timeout, connectTimeoutMS: timeout });
  const address = addresses(driverUri)[0];
  try {
    await client.connect();
    await client.db('admin').command({ hello: 1 });
    pass('connection', `${address ? `${address.host}:${address.port}` : 'the server'} answered hello ${tlsIsOn(tls) ? `over TLS, ${verification(tls)}` : 'without TLS'}`);
  } catch (err) {
    const serverCertificate = address && tlsIsOn(tls) ? await inspectServerCertificate(address.host, address.port) : undefined;
    const translated = translateTlsError(err, { tls, serverCertificate, ...(address ? { address: `${address.host}:${address.port}` } : {}) });
    fail('connection', translated ?? (err as Error));
  } finally {
    await client.close();
  }
  return ok;
}

function describe(tls: TlsOptions, environment: Environment): string {
  if (!tlsIsOn(tls)) return `TLS off (${environment})`;
  const parts = [
    tls.caFile ? `trusting ${tls.caFile}` : "trusting Node's root certificates",
    tls.certificateKeyFile ? `client certificate ${tls.certificateKeyFile}` : 'no client certificate',
  ];
  if (tls.crlFile) parts.push(`revocation checked against ${tls.crlFile}`);
  return `TLS on (${environment}), ${parts.join(', ')}`;
}

function verification(tls: TlsOptions): string {
  if (tls.insecure || tls.allowInvalidCertificates) return 'its certificate NOT verified (insecure options)';
  if (tls.allowInvalidHostnames) return 'its certificate verified but NOT its host name';
  return 'its certificate and host name verified';
}

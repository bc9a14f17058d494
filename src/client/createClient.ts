import { ClientEncryption, MongoClient, type Document, type MongoClientOptions } from 'mongodb';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ConfigError, StrongboxError } from '../errors';
import { CryptoEngine } from '../crypto/engine';
import { KeyVault, parseNamespace } from '../crypto/keyVault';
import { concealKey, loadLocalMasterKey } from '../crypto/masterKey';
import { MetadataRegistry } from '../metadata/registry';
import { checkKmsTlsOptions, kmsTlsToDriverOptions } from '../tls/kms';
import { tlsIsOn, type TlsOptions } from '../tls/options';
import { resolveTls, tlsToDriverOptions } from '../tls/uri';
import { validateTlsOptions } from '../tls/validate';
import { translateTlsError } from '../tls/translate';
import { STRONGBOX_DRIVER_OPTIONS, type KmsConfig, type MasterKeyDescription, type StrongboxConfig } from '../config/strongboxConfig';
import { DEFAULT_KEY_VAULT_NAMESPACE, resolveEnvironment } from './config';
import { assertDriverCompatible } from './driverCompatibility';
import { attachQueryLog } from './queryLog';
import { diagnoseListener, singleAddress } from './reachability';
import { StrongboxClient } from './strongboxClient';

/** Notes about the server are said once per process, however many clients it creates. */
const notesGiven = new Set<string>();

/**
 * Validates the whole configuration before any network traffic, then connects the data client,
 * the key vault and the encryption engine. Every failure is a StrongboxError saying what to fix.
 */
export async function createClient(config: StrongboxConfig): Promise<StrongboxClient> {
  assertDriverCompatible();
  const environment = resolveEnvironment(config);
  const warn = config.warn ?? ((m: string) => console.warn(m));
  const mode = config.mode ?? 'explicit';
  if (mode !== 'explicit' && mode !== 'automatic') {
    throw new ConfigError('CONFIG_MODE', `mode "${String(mode)}" is not 'explicit' or 'automatic'.`, { fix: "use 'explicit' (works on every server) or 'automatic' (Enterprise/Atlas)." });
  }
  if (config.autoIndex && environment === 'production') {
    throw new ConfigError('CONFIG_AUTO_INDEX_PRODUCTION', 'autoIndex is for development: in production it would change indexes on every start, unreviewed.', {
      fix: 'leave autoIndex off in production and change indexes with a migration (strongbox migration generate).',
    });
  }
  if (!config.uri || typeof config.uri !== 'string') {
    throw new ConfigError('CONFIG_URI', 'uri is missing.', { fix: 'set uri to a mongodb:// or mongodb+srv:// connection string.' });
  }
  const userOptions = checkedDriverOptions(config.driverOptions);
  const registry = new MetadataRegistry(config.models ?? []);
  const keyVaultNamespace = config.keyVault?.namespace ?? DEFAULT_KEY_VAULT_NAMESPACE;
  const namespace = parseNamespace(keyVaultNamespace);

  const dataTls = connectionSettings(config.uri, config.tls, environment, warn);
  const vaultTls = config.keyVault?.uri ? connectionSettings(config.keyVault.uri, config.keyVault.tls, environment, warn) : undefined;

  const kmsProviders = buildKmsProviders(config.kms, environment, warn);
  const kmsCheck = checkKmsTlsOptions(config.kms.tls ?? {});
  if (kmsCheck.errors.length) throw kmsCheck.errors[0];
  for (const w of kmsCheck.warnings) warn(`strongbox: WARNING: ${w.message}`);
  const kmsTls = kmsTlsToDriverOptions(config.kms.tls ?? {});
  const wrapping = resolveWrapping(config.kms, config.keyVault?.masterKey);
  if (mode === 'automatic') assertAutomaticEncryptionAvailable(config);

  const opened: MongoClient[] = [];
  try {
    const driverOptions: MongoClientOptions = {
      ...userOptions,
      fieldsAsRaw: NO_RAW_FIELDS,
      ...(config.queryLog ? { monitorCommands: true } : {}),
      ...tlsToDriverOptions(dataTls.tls),
    };
    // Both clients are built (and their connection strings' options checked) before either connects.
    const dataClient = driverClient(dataTls.driverUri, driverOptions, 'the database');
    opened.push(dataClient);
    const keyVaultClient = config.keyVault?.uri && vaultTls ? driverClient(vaultTls.driverUri, { ...userOptions, fieldsAsRaw: NO_RAW_FIELDS, ...tlsToDriverOptions(vaultTls.tls) }, 'the key vault cluster') : dataClient;
    if (keyVaultClient !== dataClient) opened.push(keyVaultClient);
    if (config.queryLog) attachQueryLog(dataClient, typeof config.queryLog === 'function' ? config.queryLog : (line) => console.log(line));
    await connect(dataClient, 'the database', dataTls);
    if (keyVaultClient !== dataClient) await connect(keyVaultClient, 'the key vault cluster', vaultTls!);
    const encryption = new ClientEncryption(keyVaultClient, { keyVaultNamespace, kmsProviders: kmsProviders as never, tlsOptions: kmsTls as never });
    const engine = new CryptoEngine(encryption, kmsProviders, kmsTls);
    const keyVault = new KeyVault(keyVaultClient, namespace, encryption, wrapping);
    const indexNote = await keyVault.ensureIndex();
    if (indexNote && !notesGiven.has(indexNote)) {
      notesGiven.add(indexNote);
      warn(`strongbox: note: ${indexNote}`);
    }
    const client = new StrongboxClient({
      registry, mode, environment, dataClient, keyVaultClient, encryption, engine, keyVault,
      autoEncryptionBase: { keyVaultNamespace, kmsProviders, tlsOptions: kmsTls, keyVaultClient: keyVaultClient === dataClient ? undefined : keyVaultClient },
      clientFactory: (autoEncryption) => new MongoClient(dataTls.driverUri, { ...driverOptions, autoEncryption }),
      cryptSharedLibPath: config.cryptSharedLibPath,
    });
    if (config.autoIndex) await client.syncIndexes();
    return client;
  } catch (err) {
    await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    throw err;
  }
}

/**
 * driverOptions read once into a plain copy, which alone is passed on (a Proxy or getter cannot
 * show the driver other options than were checked). The type leaves Strongbox's options out; a
 * configuration from plain JavaScript could still carry them, in any letter case, as the driver
 * matches option names without regard to case.
 */
function checkedDriverOptions(driverOptions: unknown): MongoClientOptions {
  if (driverOptions === undefined) return {};
  if (driverOptions === null || typeof driverOptions !== 'object' || Array.isArray(driverOptions)) {
    throw new ConfigError('CONFIG_DRIVER_OPTION', 'driverOptions must be an object of MongoClient options.', { fix: 'pass an object such as { maxPoolSize: 20 }, or leave driverOptions out.' });
  }
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(driverOptions)) {
    Object.defineProperty(copy, name, { value: (driverOptions as Record<string, unknown>)[name], enumerable: true, writable: true, configurable: true });
  }
  const owned = new Set(STRONGBOX_DRIVER_OPTIONS.map((name) => name.toLowerCase()));
  const refused = Object.keys(copy).filter((name) => owned.has(name.toLowerCase()) || /^(tls|ssl)/i.test(name) || name === '__proto__');
  if (refused.length) {
    throw new ConfigError('CONFIG_DRIVER_OPTION', `driverOptions sets ${refused.map((n) => `"${n}"`).join(', ')}, which Strongbox sets itself: TLS comes from tls, encryption from the models, and values are written and read as the driver does by default (undefined as null).`, {
      fix: 'remove these options; configure TLS under tls (and keyVault.tls), and leave BSON serialization options at their defaults.',
    });
  }
  return copy as MongoClientOptions;
}

/**
 * The driver parses the connection string and driverOptions when the client is constructed. Its
 * errors can quote the whole connection string, password included, so the message is redacted
 * and the driver's error is not kept as the cause.
 */
function driverClient(uri: string, options: MongoClientOptions, what: string): MongoClient {
  let client: MongoClient;
  try {
    client = new MongoClient(uri, options);
  } catch (err) {
    throw new ConfigError('CONFIG_URI_INVALID', `The connection string or driverOptions for ${what} are not valid: ${redactCredentials(String((err as Error)?.message ?? err), uri)}`, {
      fix: 'check the connection string (mongodb://host:port/?options, with special characters in the user name and password percent-encoded) and driverOptions.',
    });
  }
  // The connection string can set BSON options too (?ignoreUndefined=true): checked as the driver resolved them.
  const changed = Object.entries(DEFAULT_BSON_OPTIONS).filter(([name, value]) => client.bsonOptions[name as keyof typeof DEFAULT_BSON_OPTIONS] !== value).map(([name]) => name);
  if (changed.length) {
    throw new ConfigError('CONFIG_DRIVER_OPTION', `The connection string for ${what} sets ${changed.map((n) => `"${n}"`).join(', ')}, which Strongbox keeps at the driver's default: values are written and read as the driver does by default (undefined as null).`, {
      fix: 'remove these options from the connection string.',
    });
  }
  return client;
}

/**
 * The driver's default fieldsAsRaw, {}, is looked up by key name at every depth of a document it
 * deserializes (js-bson: an array under a name the object answers is returned as raw BSON), and
 * {} answers the names of Object.prototype's members: an array stored under `toString`,
 * `constructor` or `__proto__` came back from findOneAndUpdate or aggregate as Buffers of raw BSON,
 * where find() returns documents, and a save() after a change wrote those Buffers back as binData.
 * An object without a prototype answers no name.
 */
const NO_RAW_FIELDS: Record<string, boolean> = Object.freeze(Object.create(null) as Record<string, boolean>);

/** The driver's defaults for the BSON options a connection string can change (its fieldsAsRaw default, {}, is checked by name only). */
const DEFAULT_BSON_OPTIONS = {
  raw: false, useBigInt64: false, promoteLongs: true, promoteValues: true, promoteBuffers: false,
  ignoreUndefined: false, bsonRegExp: false, serializeFunctions: false, enableUtf8Validation: true,
} as const;

/** The text with the connection string's user-info (raw and percent-decoded, whole and the password alone) replaced. */
function redactCredentials(text: string, uri: string): string {
  const authority = uri.replace(/^[a-z+]*:\/\//i, '').split(/[/?]/)[0] ?? '';
  const at = authority.lastIndexOf('@');
  if (at < 0) return text;
  const userinfo = authority.slice(0, at);
  const password = userinfo.slice(userinfo.indexOf(':') + 1);
  const forms = [userinfo, password].flatMap((s) => { try { return [s, decodeURIComponent(s)]; } catch { return [s]; } });
  return forms.filter((s) => s.length > 0).sort((a, b) => b.length - a.length).reduce((out, secret) => out.split(secret).join('<credentials>'), text);
}

/** TLS options from the URI and the object merged, checked (files, conflicts, production rules). */
function connectionSettings(uri: string, tls: TlsOptions | undefined, environment: 'development' | 'production', warn: (m: string) => void): { tls: TlsOptions; driverUri: string } {
  const resolved = resolveTls(uri, tls ?? {});
  const checked = validateTlsOptions(resolved.tls, { environment });
  for (const w of checked.warnings) warn(`strongbox: WARNING: ${w.message}`);
  return { tls: checked.tls, driverUri: resolved.driverUri };
}

/** How long connecting waits for the listener probe before starting the driver anyway. */
const PROBE_HEAD_START_MS = 300;

/**
 * Connects and pings. A probe of the listener goes first: when it knows within a moment why the
 * connection cannot work (nothing listening, TLS on one side only), that error is thrown before the
 * driver starts (a driver connection attempt in flight would keep the process alive until its
 * connect timeout even after close). A slower probe keeps racing the driver, so its answer still
 * beats the server-selection timeout.
 */
async function connect(client: MongoClient, what: string, { tls, driverUri }: { tls: TlsOptions; driverUri: string }): Promise<void> {
  const address = singleAddress(driverUri);
  const diagnosis = address ? diagnoseListener(address, tlsIsOn(tls), what).catch(() => undefined) : Promise.resolve(undefined);
  try {
    let headStart: NodeJS.Timeout | undefined;
    const early = await Promise.race([diagnosis, new Promise<'pending'>((resolve) => { headStart = setTimeout(resolve, PROBE_HEAD_START_MS, 'pending'); })]);
    clearTimeout(headStart);
    if (early instanceof StrongboxError) throw early;
    const connected = client.connect().then(() => client.db('admin').command({ ping: 1 }));
    connected.catch(() => undefined); // when the probe wins, the caller closes the client and this rejects unobserved
    await Promise.race([connected, diagnosis.then((problem) => { if (problem) throw problem; return connected; })]);
  } catch (err) {
    if (err instanceof StrongboxError) throw err;
    throw translateTlsError(err, { target: what, tls }) ?? new ConfigError('CONNECT_FAILED', `Could not connect to ${what}: ${(err as Error).message}`, {
      fix: 'check the uri, that the server is running and reachable, and run `strongbox doctor`.',
      cause: err,
    });
  }
}

function buildKmsProviders(kms: KmsConfig | undefined, environment: 'development' | 'production', warn: (m: string) => void): Document {
  if (!kms || typeof kms !== 'object') {
    throw new ConfigError('CONFIG_KMS_MISSING', 'kms is missing: Strongbox needs a KMS provider holding the master key.', {
      fix: "add kms: { local: { keyFile: 'master.key' } } for development, or an aws/azure/gcp/kmip provider.",
    });
  }
  const providers: Document = {};
  if (kms.local) providers.local = { key: concealKey(loadLocalMasterKey(kms.local, { environment, warn })) };
  if (kms.aws) providers.aws = { ...kms.aws };
  if (kms.azure) providers.azure = { ...kms.azure };
  if (kms.gcp) providers.gcp = { ...kms.gcp };
  if (kms.kmip) providers.kmip = { endpoint: kms.kmip.endpoint };
  if (Object.keys(providers).length === 0) {
    throw new ConfigError('CONFIG_KMS_MISSING', 'kms names no provider.', { fix: 'configure one of kms.local, kms.aws, kms.azure, kms.gcp, kms.kmip.' });
  }
  return providers;
}

function resolveWrapping(kms: KmsConfig, masterKey: MasterKeyDescription | undefined): { provider: string; masterKey?: Document } {
  if (masterKey) {
    if (!kms[masterKey.provider]) {
      throw new ConfigError('CONFIG_MASTER_KEY_PROVIDER', `keyVault.masterKey names provider "${masterKey.provider}", which kms does not configure.`, { fix: `add kms.${masterKey.provider}, or choose a configured provider.` });
    }
    const { provider, ...rest } = masterKey;
    return { provider, masterKey: provider === 'local' ? undefined : rest };
  }
  const configured = (['local', 'kmip', 'aws', 'azure', 'gcp'] as const).filter((p) => kms[p]);
  if (configured.length === 1 && (configured[0] === 'local' || configured[0] === 'kmip')) return { provider: configured[0], masterKey: configured[0] === 'kmip' ? {} : undefined };
  if (configured.includes('local')) return { provider: 'local' };
  throw new ConfigError('CONFIG_MASTER_KEY_MISSING', `Cannot tell which master key wraps new data keys (providers: ${configured.join(', ')}).`, {
    fix: "set keyVault.masterKey, e.g. { provider: 'aws', region: 'eu-west-1', key: 'arn:aws:kms:…' }.",
  });
}

/** Automatic encryption needs query analysis from mongocryptd or crypt_shared (Enterprise/Atlas). */
function assertAutomaticEncryptionAvailable(config: StrongboxConfig): void {
  if (config.cryptSharedLibPath) {
    if (!existsSync(config.cryptSharedLibPath)) {
      throw new ConfigError('CONFIG_CRYPT_SHARED_MISSING', `cryptSharedLibPath ${config.cryptSharedLibPath} does not exist.`, { fix: "point it at mongo_crypt_v1.so, or use mode: 'explicit'." });
    }
    return;
  }
  const onPath = (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'mongocryptd')));
  if (!onPath) {
    throw new ConfigError('CONFIG_AUTOMATIC_UNAVAILABLE', "mode 'automatic' needs MongoDB's query analysis (mongocryptd on PATH or the crypt_shared library), and neither is present.", {
      fix: "use mode: 'explicit' (the default; works on MongoDB Community), or install mongocryptd / set cryptSharedLibPath (MongoDB Enterprise or Atlas).",
    });
  }
}

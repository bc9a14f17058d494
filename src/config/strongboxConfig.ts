/*
 * The types of Strongbox's configuration (what createClient and the CLI's strongbox.config read).
 * Types only: the client and the migrations both import them, so they sit below both.
 */
import type { MongoClientOptions } from 'mongodb';
import type { LocalKmsOptions } from '../crypto/masterKey';
import type { MigrationsConfig } from './migrations';
import type { TlsOptions, KmsTlsOptions } from '../tls/options';

/** 'production' refuses insecure TLS and never generates master keys (see `StrongboxConfig.environment`). */
export type Environment = 'development' | 'production';

/**
 * Driver options Strongbox decides, besides every tls* and ssl* option: automatic encryption; the
 * Node.js TLS options the driver hands to the socket (TLS is configured under `tls`, where its
 * rules apply); and the BSON options that change which bytes a value is written as or which
 * values a read returns (Strongbox checks, encrypts, snapshots and compares values as the driver
 * writes them by default: undefined as null, functions left out).
 */
export type StrongboxDriverOption =
  | 'autoEncryption'
  | 'ignoreUndefined' | 'serializeFunctions' | 'checkKeys' | 'promoteLongs' | 'promoteValues'
  | 'promoteBuffers' | 'bsonRegExp' | 'raw' | 'fieldsAsRaw' | 'useBigInt64' | 'enableUtf8Validation'
  | 'allowPartialTrustChain' | 'ALPNProtocols' | 'ca' | 'cert' | 'checkServerIdentity' | 'ciphers' | 'crl' | 'ecdhCurve'
  | 'key' | 'minDHSize' | 'passphrase' | 'pfx' | 'rejectUnauthorized' | 'secureContext' | 'secureProtocol' | 'servername' | 'session';

/** The same names at run time; a Record, so the compiler checks it names every one and nothing else. */
const DRIVER_OPTIONS_OWNED: Record<StrongboxDriverOption, true> = {
  autoEncryption: true,
  ignoreUndefined: true, serializeFunctions: true, checkKeys: true, promoteLongs: true, promoteValues: true,
  promoteBuffers: true, bsonRegExp: true, raw: true, fieldsAsRaw: true, useBigInt64: true, enableUtf8Validation: true,
  allowPartialTrustChain: true, ALPNProtocols: true, ca: true, cert: true, checkServerIdentity: true, ciphers: true, crl: true, ecdhCurve: true,
  key: true, minDHSize: true, passphrase: true, pfx: true, rejectUnauthorized: true, secureContext: true, secureProtocol: true, servername: true, session: true,
};
export const STRONGBOX_DRIVER_OPTIONS = Object.keys(DRIVER_OPTIONS_OWNED) as readonly StrongboxDriverOption[];
/** How values are encrypted: by Strongbox from the models (explicit), or by the driver from the schema map (automatic; needs mongocryptd or crypt_shared). */
export type EncryptionMode = 'explicit' | 'automatic';
/** The KMS providers of the client-side encryption specification that can wrap data keys. */
export type KmsProviderName = 'local' | 'aws' | 'azure' | 'gcp' | 'kmip';

/** Credentials of the `aws` provider; the region, key ARN and endpoint belong to the master key description. */
export interface AwsKmsOptions {
  accessKeyId: string;
  secretAccessKey: string;
  /** For temporary credentials (AWS STS, an assumed role): sent with every KMS request. */
  sessionToken?: string;
}
/** Credentials of the `azure` provider (an Azure AD application allowed to use the Key Vault key). */
export interface AzureKmsOptions { tenantId: string; clientId: string; clientSecret: string; identityPlatformEndpoint?: string; }
/** Credentials of the `gcp` provider (a service account allowed to use the Cloud KMS key). */
export interface GcpKmsOptions { email: string; privateKey: string | Buffer; endpoint?: string; }
/** Where the `kmip` provider's server listens (its client certificate goes in `KmsConfig.tls.kmip`). */
export interface KmipKmsOptions { /** host:port of the KMIP server. */ endpoint: string; }

/** The KMS providers that hold master keys; each may have its own TLS settings. */
export interface KmsConfig {
  local?: LocalKmsOptions;
  aws?: AwsKmsOptions;
  azure?: AzureKmsOptions;
  gcp?: GcpKmsOptions;
  kmip?: KmipKmsOptions;
  /** TLS towards each KMS (for kmip: the client certificate the KMIP server demands). */
  tls?: Partial<Record<Exclude<KmsProviderName, 'local'>, KmsTlsOptions>>;
}

/** Master key descriptions used when Strongbox creates data keys, per provider. */
export type MasterKeyDescription =
  | { provider: 'local' }
  | {
    provider: 'aws';
    region: string;
    /** The KMS key's ARN. */
    key: string;
    /**
     * `host[:port]` of the KMS endpoint instead of kms.<region>.amazonaws.com (a VPC endpoint,
     * FIPS endpoint or a test emulator), without `https://`. Always TLS; the host needs a dot.
     */
    endpoint?: string;
  }
  | { provider: 'azure'; keyVaultEndpoint: string; keyName: string; keyVersion?: string }
  | { provider: 'gcp'; projectId: string; location: string; keyRing: string; keyName: string; keyVersion?: string; endpoint?: string }
  | { provider: 'kmip'; keyId?: string; endpoint?: string };

/** Where the data keys live and which master key wraps new ones. */
export interface KeyVaultConfig {
  /** "database.collection"; default "encryption.__keyVault". */
  namespace?: string;
  /** The key vault may live in another cluster. */
  uri?: string;
  tls?: TlsOptions;
  /** Which KMS wraps new data keys (default: the only configured provider, else 'local'). */
  masterKey?: MasterKeyDescription;
}

/** What `createClient` takes, and what a project's strongbox.config exports for the CLI. */
export interface StrongboxConfig {
  uri: string;
  tls?: TlsOptions;
  kms: KmsConfig;
  keyVault?: KeyVaultConfig;
  /** Model classes decorated with @Model. */
  models: Function[];
  /** 'explicit' (default) works on every server; 'automatic' needs mongocryptd or crypt_shared (Enterprise/Atlas). */
  mode?: EncryptionMode;
  /** 'production' refuses insecure TLS and never generates master keys. Default: NODE_ENV === 'production' ? 'production' : 'development'. */
  environment?: Environment;
  /** Path to crypt_shared (automatic mode). */
  cryptSharedLibPath?: string;
  /**
   * Extra driver options (pool sizes, timeouts). TLS, encryption and BSON options are Strongbox's
   * to set (STRONGBOX_DRIVER_OPTIONS); createClient refuses them from plain JavaScript too.
   */
  driverOptions?: Omit<MongoClientOptions, StrongboxDriverOption | `tls${string}` | `ssl${string}`>;
  /**
   * Log every command as copy-pasteable mongosh code with its duration (encrypted values as
   * placeholders): true writes to console.log, a function receives each line.
   */
  queryLog?: boolean | ((line: string) => void);
  /** Where migrations and the model snapshot live (default folder: migrations/). */
  migrations?: MigrationsConfig;
  /** Where warnings go (default console.warn). */
  warn?: (message: string) => void;
  /**
   * Development only: create the indexes the models declare when the client starts
   * (`client.syncIndexes()`, extra indexes reported, never dropped). Refused in production,
   * where migrations change indexes.
   */
  autoIndex?: boolean;
}

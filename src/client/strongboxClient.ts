import { MongoClient, type AutoEncryptionOptions, type Binary, type ClientEncryption, type Document, type TransactionOptions } from 'mongodb';
import { inspect } from 'node:util';
import type { CryptoEngine } from '../crypto/engine';
import type { KeyVault } from '../crypto/keyVault';
import { ConfigError } from '../errors';
import type { MetadataRegistry } from '../metadata/registry';
import { Repository, type RepositoryOptions } from '../repository/repository';
import { buildSchemaMap, collectKeyAltNames, type SchemaMap } from '../schema';
import type { EncryptionMode, Environment } from '../config/strongboxConfig';
import { syncIndexes, type IndexSyncReport, type SyncIndexesOptions } from './indexSync';
import { Transaction } from './transaction';

export interface ClientParts {
  registry: MetadataRegistry;
  mode: EncryptionMode;
  environment: Environment;
  dataClient: MongoClient;
  keyVaultClient: MongoClient;
  encryption: ClientEncryption;
  engine: CryptoEngine;
  keyVault: KeyVault;
  /** Key vault, KMS and TLS settings shared by every auto-decrypting/encrypting driver client. */
  autoEncryptionBase: AutoEncryptionOptions;
  clientFactory: (autoEncryption: AutoEncryptionOptions) => MongoClient;
  cryptSharedLibPath?: string;
}

/**
 * What createClient returns: repositories for the configured models, plus the underlying
 * handles for advanced use. Closing it closes every connection it opened.
 */
export class StrongboxClient {
  private readonly repositories = new Map<Function, Repository<object>>();
  private readonly extraClients: MongoClient[] = [];
  private decrypting?: Promise<MongoClient>;
  private automatic?: Promise<MongoClient>;

  constructor(private readonly parts: ClientParts) {}

  /**
   * What console.log and JSON.stringify show: a summary. The driver objects inside hold the TLS
   * key passphrase and KMS credentials in their options, and logging a client must not print them.
   */
  [inspect.custom](): string {
    return `StrongboxClient { mode: '${this.mode}', environment: '${this.environment}', models: [${[...this.registry].map((m) => m.namespace).join(', ')}], keyVault: '${this.keyVault.namespace.db}.${this.keyVault.namespace.collection}' }`;
  }

  /** A summary safe to log or serialise: mode, environment and the models' namespaces (never credentials). */
  toJSON(): object {
    return { mode: this.mode, environment: this.environment, models: [...this.registry].map((m) => m.namespace) };
  }

  /** @internal The configured models, resolved; applications name a model by its class. */
  get registry(): MetadataRegistry { return this.parts.registry; }
  /** How values are encrypted: 'explicit' (Strongbox marks and encrypts every value) or 'automatic' (the driver with the generated schema map). */
  get mode(): EncryptionMode { return this.parts.mode; }
  /** 'development' or 'production', as configured or read from NODE_ENV; production refuses development conveniences. */
  get environment(): Environment { return this.parts.environment; }
  /** The driver client the repositories use; it neither encrypts nor decrypts by itself. */
  get dataClient(): MongoClient { return this.parts.dataClient; }
  /**
   * @internal The driver's explicit-encryption handle: its `encrypt` ignores the model's rules, so
   * applications manage keys through `strongbox/keys` instead.
   */
  get encryption(): ClientEncryption { return this.parts.encryption; }
  /** @internal Key vault access for audit, keys and migrations; applications use the keys API. */
  get keyVault(): KeyVault { return this.parts.keyVault; }
  /** @internal Encrypts without the model's rules; applications go through repositories. */
  get engine(): CryptoEngine { return this.parts.engine; }

  /** The repository of a configured model (one per model and options). */
  repository<T extends object>(model: new (...args: never[]) => T, options: RepositoryOptions = {}): Repository<T> {
    const metadata = this.parts.registry.get(model);
    const context = { ...this.parts, repositoryFor: (target: Function) => this.repository(target as new () => object, options) };
    if (options.onUndecryptable && options.onUndecryptable !== 'throw') {
      return new Repository<T>(metadata, context, options);
    }
    let repo = this.repositories.get(model);
    if (!repo) {
      repo = new Repository<object>(metadata, context, options);
      this.repositories.set(model, repo);
    }
    return repo as unknown as Repository<T>;
  }

  /** Creates (idempotently) every data key the models name by a fixed alt name; returns alt name → id. */
  async ensureDataKeys(): Promise<Map<string, Binary>> {
    const ids = new Map<string, Binary>();
    for (const name of collectKeyAltNames(this.parts.registry)) ids.set(name, await this.parts.keyVault.ensureDataKey(name));
    return ids;
  }

  /** The CSFLE schema map of the configured models, with data keys created as needed. */
  async schemaMap(): Promise<SchemaMap> {
    return buildSchemaMap(this.parts.registry, await this.ensureDataKeys());
  }

  /**
   * A driver client that decrypts every reply automatically (bypassAutoEncryption): for code
   * that wants raw driver access to encrypted collections. Works on every server.
   */
  decryptingClient(): Promise<MongoClient> {
    this.decrypting ??= this.openExtra({ ...this.parts.autoEncryptionBase, bypassAutoEncryption: true });
    return this.decrypting;
  }

  /**
   * In automatic mode: the driver client that encrypts and decrypts by itself using the
   * generated schema map (MongoDB Enterprise/Atlas with mongocryptd or crypt_shared).
   */
  automaticClient(): Promise<MongoClient> {
    if (this.parts.mode !== 'automatic') {
      return Promise.reject(new ConfigError('CONFIG_AUTOMATIC_CLIENT', "automaticClient() needs a client created with mode: 'automatic'; this one encrypts explicitly.", {
        fix: "create the client with mode: 'automatic' (MongoDB Enterprise/Atlas), or use repositories, which encrypt in every mode.",
      }));
    }
    this.automatic ??= this.schemaMap().then((schemaMap) => this.openExtra({
      ...this.parts.autoEncryptionBase,
      schemaMap: schemaMap as Document,
      ...(this.parts.cryptSharedLibPath ? { extraOptions: { cryptSharedLibPath: this.parts.cryptSharedLibPath, cryptSharedLibRequired: true } } : {}),
    }));
    return this.automatic;
  }

  /**
   * Makes the server's indexes match the models: creates the missing ones, reports extra ones
   * (drops them only with `dropExtra`) and ones whose definition differs; `dryRun` only reports.
   * For development and tests: in production, indexes change through migrations.
   */
  syncIndexes(options: SyncIndexesOptions = {}): Promise<IndexSyncReport> {
    return syncIndexes(this.parts.dataClient, this.parts.registry, options);
  }

  /**
   * Runs `work` in a multi-document transaction with the driver's retry rules: the whole callback
   * again on a TransientTransactionError, the commit again on an UnknownTransactionCommitResult,
   * within the driver's 120 s limit (MongoDB driver specification, "Convenient API for
   * Transactions"). Repositories from `tx.repository(Model)` run every call in the transaction.
   * Needs a replica set or sharded cluster.
   */
  async withTransaction<R>(work: (tx: Transaction) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
    const session = this.parts.dataClient.startSession();
    try {
      let result: R | undefined;
      const tx = new Transaction(session, (model) => this.repository(model as new () => object));
      await session.withTransaction(async () => { result = await work(tx); }, options);
      return result as R;
    } finally {
      await session.endSession();
    }
  }

  /** Closes every driver client this client opened (data, key vault, decrypting, automatic). */
  async close(): Promise<void> {
    const clients = new Set([this.parts.dataClient, this.parts.keyVaultClient, ...this.extraClients]);
    await Promise.all([...clients].map((c) => c.close().catch(() => undefined)));
  }

  private async openExtra(autoEncryption: AutoEncryptionOptions): Promise<MongoClient> {
    const client = this.parts.clientFactory(autoEncryption);
    this.extraClients.push(client);
    await client.connect();
    return client;
  }
}

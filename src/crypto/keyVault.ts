import type { Binary, ClientEncryption, Collection, MongoClient } from 'mongodb';
import { KeyError } from '../errors';

export interface KeyVaultNamespace { db: string; collection: string; }

export function parseNamespace(namespace: string, option = 'keyVault.namespace'): KeyVaultNamespace {
  const dot = namespace.indexOf('.');
  if (dot <= 0 || dot === namespace.length - 1) {
    throw new KeyError('KEY_VAULT_NAMESPACE', `${option} "${namespace}" is not a "database.collection" namespace.`, { fix: 'use for example "encryption.__keyVault".' });
  }
  return { db: namespace.slice(0, dot), collection: namespace.slice(dot + 1) };
}

/**
 * How to create data keys: which KMS provider wraps them, and the provider's master key
 * description (none for 'local').
 */
export interface DataKeyWrapping { provider: string; masterKey?: Record<string, unknown>; }

/**
 * The key vault: ensures its unique index, and maps key alt names to data key ids, creating
 * keys on demand. Lookups are cached because every encrypted write needs one.
 */
export class KeyVault {
  private readonly ids = new Map<string, Promise<Binary>>();
  /** The ids of `ids` once found: a write under a known key needs no promise per value. */
  private readonly found = new Map<string, Binary>();
  private indexChecked?: Promise<string | undefined>;

  constructor(
    private readonly client: MongoClient,
    readonly namespace: KeyVaultNamespace,
    private readonly encryption: ClientEncryption,
    /** How new data keys are wrapped unless a master key is named. */
    readonly wrapping: DataKeyWrapping,
  ) {}

  get collection(): Collection {
    return this.client.db(this.namespace.db).collection(this.namespace.collection);
  }

  /**
   * MongoDB prescribes a unique index on keyAltNames, partial on its existence so that keys
   * without alt names do not collide; with it the server refuses any alt name another key has.
   * Servers without partial indexes (FerretDB v1) get a plain unique index, which there compares
   * whole alt-name lists only (['a', 'b'] and ['c', 'a'] both pass): Strongbox's key management
   * checks every alt name before writing (src/keys/manage.ts). Returns a note when the fallback
   * was used.
   */
  ensureIndex(): Promise<string | undefined> {
    this.indexChecked ??= (async () => {
      try {
        await this.collection.createIndex({ keyAltNames: 1 }, { unique: true, name: 'keyAltNames_1', partialFilterExpression: { keyAltNames: { $exists: true } } });
        return undefined;
      } catch (err) {
        if (!isNotImplemented(err)) throw err;
        // Said once, when the fallback index is made; later clients find it in place.
        if (await this.collection.indexExists('keyAltNames_1').catch(() => false)) return undefined;
        await this.collection.createIndex({ keyAltNames: 1 }, { unique: true, name: 'keyAltNames_1' });
        return 'the server has no partial indexes; the key vault got a plain unique index on keyAltNames, and Strongbox checks each alt name itself before writing (the server alone would not refuse one alt name shared by two keys with different lists)';
      }
    })();
    return this.indexChecked;
  }

  /** The id of the data key with this alt name, or undefined. */
  async findKeyId(altName: string): Promise<Binary | undefined> {
    const key = await this.encryption.getKeyByAltName(altName);
    return key?._id as Binary | undefined;
  }

  /** The id of the data key with this alt name, creating the key when it does not exist yet. */
  ensureDataKey(altName: string): Promise<Binary> {
    let id = this.ids.get(altName);
    if (!id) {
      const lookup = this.createOrFind(altName);
      id = lookup;
      this.ids.set(altName, lookup);
      lookup.then((found) => { if (this.ids.get(altName) === lookup) this.found.set(altName, found); }, () => this.ids.delete(altName));
    }
    return id;
  }

  /** The id of the data key with this alt name if ensureDataKey already found it (no key vault traffic). */
  knownDataKey(altName: string): Binary | undefined {
    return this.found.get(altName);
  }

  /** Forget cached ids (after a key was deleted or rotated elsewhere). */
  forget(altName?: string): void {
    if (altName === undefined) { this.ids.clear(); this.found.clear(); } else { this.ids.delete(altName); this.found.delete(altName); }
  }

  private async createOrFind(altName: string): Promise<Binary> {
    let existing: Binary | undefined;
    try {
      await this.ensureIndex();
      existing = await this.findKeyId(altName);
    } catch (err) {
      // Fail closed, and say so: the caller's write needs this key and must not happen without it.
      throw new KeyError('KEY_VAULT_UNREACHABLE', `Could not look up the data key "${altName}" in the key vault ${this.namespace.db}.${this.namespace.collection}: ${(err as Error).message}. Nothing was written.`, {
        fix: 'check that the key vault server is reachable (keyVault.uri and its TLS settings) and run `strongbox doctor`; retry once it is back.',
        cause: err,
      });
    }
    if (existing) return existing;
    try {
      return await this.encryption.createDataKey(this.wrapping.provider as 'local', {
        keyAltNames: [altName],
        ...(this.wrapping.masterKey ? { masterKey: this.wrapping.masterKey as never } : {}),
      });
    } catch (err) {
      // Another process created it first: the unique index refused ours; use theirs.
      if ((err as { code?: number }).code === 11000) {
        const winner = await this.findKeyId(altName);
        if (winner) return winner;
      }
      throw new KeyError('KEY_CREATE_FAILED', `Could not create the data key "${altName}" in ${this.namespace.db}.${this.namespace.collection}: ${(err as Error).message}`, {
        fix: `check that the ${this.wrapping.provider} KMS provider is reachable and that the key vault is writable.`,
        cause: err,
      });
    }
  }
}

export function isNotImplemented(err: unknown): boolean {
  const code = (err as { code?: number }).code;
  return code === 238 || code === 115 || /not implemented|not supported/i.test((err as Error)?.message ?? '');
}

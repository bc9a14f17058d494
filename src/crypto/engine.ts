import { Binary, BSON, type ClientEncryption, type Document } from 'mongodb';
import { isPlainDocument } from '../bson/documents';
import { DecryptionError } from '../errors';
import { inspectEncryptedBlob, isEncryptedBinary, type StoredAlgorithm } from './blob';
import { CommandEncryptor, type EncryptionGroup } from './commandEncryptor';
import { AeadKey } from './aead';
import { KEY_CACHE_MS, UnwrappedKeys } from './dataKeys';
import { decryptValues, sealedKeyHex, sealedKeyId } from './valueCipher';
import { createNativeMongoCrypt, runContext, type NativeMongoCrypt } from './driverInternals';
import { classifyCryptError, DECRYPTION_CODE, LIKELY_CAUSE, scrub, type UndecryptableField, type UndecryptableReason } from './failures';

export { classifyCryptError, DECRYPTION_CODE, type UndecryptableField, type UndecryptableReason } from './failures';

export function describeUndecryptable(field: UndecryptableField, where: string): string {
  const key = field.keyId ? `data key ${field.keyId}` : 'an unknown data key';
  return `${where}: the ${field.algorithm ?? 'encrypted'} value at "${field.path}" (${key}) cannot be decrypted; likely cause: ${LIKELY_CAUSE[field.reason]}.`;
}

/**
 * All client-side crypto of a Strongbox client: encryption of each command's values (a batch
 * at a time, under data keys libmongocrypt unwraps) and decryption of whole batches of values
 * and documents with the same keys, or in one libmongocrypt pass when any value does not open in
 * process, with per-value attribution when that fails (so one shredded customer does not hide
 * everyone else).
 */
export class CryptoEngine {
  private readonly crypt: NativeMongoCrypt;
  /** The data keys Strongbox encrypts and decrypts with, unwrapped by libmongocrypt. */
  private readonly keys: UnwrappedKeys;
  /** Encrypts the values of each command, a batch at a time. */
  readonly commands: CommandEncryptor;
  /** Data key ids by alt name, for the reader's provenance check. */
  private readonly keyIdsByAltName = new Map<string, { id: Promise<string | undefined>; at: number }>();

  constructor(
    /** The driver's handle, for key management and as the key vault/KMS executor. */
    readonly encryption: ClientEncryption,
    kmsProviders: Document,
    private readonly kmsTlsOptions: Document,
  ) {
    this.crypt = createNativeMongoCrypt(kmsProviders, (d) => BSON.serialize(d));
    this.keys = new UnwrappedKeys(kmsProviders, encryption, kmsTlsOptions);
    this.commands = new CommandEncryptor(this.keys);
  }

  /**
   * Encrypts one value, together with every other value requested in the same synchronous
   * stretch (the rest of its command), which share one look-up of each data key they need.
   * `where` names the field in errors.
   */
  encrypt(value: unknown, algorithm: StoredAlgorithm, keyId: Binary | Promise<Binary>, where = 'A value'): Promise<Binary> {
    return this.commands.encrypt({ value, algorithm, keyId, where });
  }

  /** Encrypts every value of a group (a command's) in the same way, each into its place; rejects with the group's first failure. */
  encryptGroup(group: EncryptionGroup): Promise<void> {
    return this.commands.encryptGroup(group);
  }

  /** Decrypts one stored value; throws DecryptionError with the reason. */
  async decryptValue(value: Binary, path = 'value'): Promise<unknown> {
    const opened = await this.decryptInProcess([value]);
    if (opened) return opened[0];
    try {
      const context = this.crypt.makeExplicitDecryptionContext(BSON.serialize({ v: value }));
      return BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).v;
    } catch (err) {
      const field = undecryptable(path, value, err);
      throw new DecryptionError(DECRYPTION_CODE[field.reason], describeUndecryptable(field, 'read'), {
        fix: fixFor(field.reason),
        cause: scrub(err),
      });
    }
  }

  /**
   * Decrypts every encrypted value in the documents. Returns the documents (new objects) and,
   * per document index, the values that could not be decrypted (left as their BinData).
   */
  async decryptDocuments(docs: Document[]): Promise<{ docs: Document[]; failures: Map<number, UndecryptableField[]> }> {
    if (docs.length === 0) return { docs, failures: new Map() };
    const sealed: Binary[] = [];
    collectEncrypted(docs, sealed);
    const opened = await this.decryptInProcess(sealed);
    if (opened) {
      let next = 0;
      return { docs: docs.map((doc) => withOpened(doc, () => opened[next++]) as Document), failures: new Map() };
    }
    try {
      const context = this.crypt.makeDecryptionContext(BSON.serialize({ d: docs }));
      return { docs: BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).d, failures: new Map() };
    } catch {
      return this.decryptValueByValue(docs);
    }
  }

  /**
   * Decrypts the given ciphertexts in one libmongocrypt pass; when that fails, value by value,
   * so each failure is attributed (index into `values`) and the rest stays readable.
   */
  async decryptValues(values: Binary[]): Promise<{ values: unknown[]; failures: Map<number, UndecryptableField> }> {
    if (values.length === 0) return { values: [], failures: new Map() };
    const opened = await this.decryptInProcess(values);
    if (opened) return { values: opened, failures: new Map() };
    try {
      const context = this.crypt.makeDecryptionContext(BSON.serialize({ v: values }));
      return { values: BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).v, failures: new Map() };
    } catch {
      const failures = new Map<number, UndecryptableField>();
      const out = await Promise.all(values.map(async (value, i) => {
        const problems: UndecryptableField[] = [];
        const plain = await this.decryptEachValue(value, String(i), problems);
        if (problems.length) failures.set(i, problems[0]);
        return plain;
      }));
      return { values: out, failures };
    }
  }

  /**
   * The id (canonical UUID string) of the data key named `altName`, or undefined when the key
   * vault has none. Never creates a key. Remembered as long as libmongocrypt keeps a fetched key.
   */
  keyIdForAltName(altName: string): Promise<string | undefined> {
    const now = performance.now();
    const cached = this.keyIdsByAltName.get(altName);
    if (cached && now - cached.at < KEY_CACHE_MS) return cached.id;
    const id = this.encryption.getKeyByAltName(altName).then((key) => (key?._id as Binary | undefined)?.toUUID().toHexString());
    // A failed lookup is not remembered: the next read asks again.
    id.catch(() => this.keyIdsByAltName.delete(altName));
    if (this.keyIdsByAltName.size > 10_000) this.keyIdsByAltName.clear();
    this.keyIdsByAltName.set(altName, { id, at: now });
    return id;
  }

  /**
   * The values decrypted with the keys Strongbox unwrapped, or undefined when any one of them
   * cannot be (a key missing or not unwrapped, a value that does not open, one of another form):
   * then libmongocrypt decrypts them, and tells each failure's reason.
   */
  private async decryptInProcess(values: readonly Binary[]): Promise<unknown[] | undefined> {
    const byKey = new Map<string, { id: Binary; at: number[] }>();
    for (let i = 0; i < values.length; i++) {
      const hex = isEncryptedBinary(values[i]) ? sealedKeyHex(values[i]) : undefined;
      if (hex === undefined) return undefined;
      const same = byKey.get(hex);
      if (same) same.at.push(i); else byKey.set(hex, { id: sealedKeyId(values[i])!, at: [i] });
    }
    const ids = [...byKey.values()].map((group) => group.id);
    const keys = this.keys.allCached(ids) ?? await this.keys.get(ids);
    // Under one key (the common batch) the values are decrypted as given and come back in order.
    const oneKey = byKey.size === 1;
    const out = new Array<unknown>(values.length);
    for (const [hex, { at }] of byKey) {
      const key = keys.get(hex);
      if (!(key instanceof AeadKey)) return undefined;
      const opened = decryptValues(key, oneKey ? values : at.map((i) => values[i]));
      if (!opened || oneKey) return opened;
      for (let k = 0; k < at.length; k++) out[at[k]] = opened[k];
    }
    return out;
  }

  /** Slow path after a batch failed: find exactly which values fail, keep everything else readable. */
  private async decryptValueByValue(docs: Document[]): Promise<{ docs: Document[]; failures: Map<number, UndecryptableField[]> }> {
    const failures = new Map<number, UndecryptableField[]>();
    const out: Document[] = [];
    for (let i = 0; i < docs.length; i++) {
      const problems: UndecryptableField[] = [];
      out.push(await this.decryptEachValue(docs[i], '', problems) as Document);
      if (problems.length) failures.set(i, problems);
    }
    return { docs: out, failures };
  }

  private async decryptEachValue(value: unknown, path: string, problems: UndecryptableField[]): Promise<unknown> {
    if (isEncryptedBinary(value)) {
      try {
        const context = this.crypt.makeExplicitDecryptionContext(BSON.serialize({ v: value }));
        return BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).v;
      } catch (err) {
        problems.push(undecryptable(path, value, err));
        return value;
      }
    }
    if (Array.isArray(value)) {
      return Promise.all(value.map((item, i) => this.decryptEachValue(item, path ? `${path}.${i}` : String(i), problems)));
    }
    if (isPlainDocument(value)) {
      const copy: Document = {};
      for (const [k, v] of Object.entries(value)) copy[k] = await this.decryptEachValue(v, path ? `${path}.${k}` : k, problems);
      return copy;
    }
    return value;
  }
}

/** The encrypted values in the value, depth first, in the order withOpened puts them back. */
function collectEncrypted(value: unknown, into: Binary[]): void {
  if (isEncryptedBinary(value)) into.push(value);
  else if (Array.isArray(value)) for (const item of value) collectEncrypted(item, into);
  else if (isPlainDocument(value)) for (const key of Object.keys(value)) collectEncrypted(value[key], into);
}

/** A copy of the value with each encrypted value replaced by the next of `opened`. */
function withOpened(value: unknown, opened: () => unknown): unknown {
  if (isEncryptedBinary(value)) return opened();
  if (Array.isArray(value)) return value.map((item) => withOpened(item, opened));
  if (isPlainDocument(value)) {
    const copy: Document = {};
    for (const key of Object.keys(value)) copy[key] = withOpened(value[key], opened);
    return copy;
  }
  return value;
}

function undecryptable(path: string, value: Binary, err: unknown): UndecryptableField {
  const info = inspectEncryptedBlob(value);
  return { path, keyId: info?.keyId, algorithm: info?.algorithm, reason: classifyCryptError(err), detail: String((err as Error)?.message ?? err) };
}

function fixFor(reason: UndecryptableReason): string {
  switch (reason) {
    case 'missing-key': return 'if the key was deleted on purpose the value is gone for good; otherwise check keyVault.namespace (and keyVault.uri).';
    case 'wrong-master-key': return 'configure the master key that wrapped this data key (kms.local.keyFile or the cloud KMS key), or rewrap keys with `strongbox keys rotate`.';
    case 'kms-unreachable': return 'check network access and TLS settings for the KMS (strongbox doctor).';
    case 'key-vault-unreachable': return 'check that the key vault server is reachable (strongbox doctor).';
    default: return 'run `strongbox audit` on the collection to find damaged values.';
  }
}


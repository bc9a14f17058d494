import { Binary, BSON, type ClientEncryption, type Document } from 'mongodb';
import { isPlainDocument } from '../bson/documents';
import type { CodeOf } from '../errorCatalogue';
import { DecryptionError, EncryptionError } from '../errors';
import { inspectEncryptedBlob, isEncryptedBinary, type StoredAlgorithm } from './blob';
import type { Algorithm } from '../metadata/types';
import { ALGORITHM_NAMES } from '../schema/encryptSchema';
import { createNativeMongoCrypt, runContext, type NativeMongoCrypt } from './driverInternals';

/** MongoDB's maximum BSON document size (maxBsonObjectSize, 16 MiB). */
const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** How long libmongocrypt keeps a fetched data key (its default key cache expiration). */
const KEY_CACHE_MS = 60_000;

export type UndecryptableReason =
  | 'missing-key' | 'wrong-master-key' | 'kms-unreachable' | 'key-vault-unreachable' | 'corrupt'
  /** Provenance: the value does not belong where it is stored, so it is not decrypted at all. */
  | 'misplaced' | 'algorithm-mismatch' | 'type-mismatch' | 'key-mismatch';

/** Why one stored value could not be decrypted; carries no plaintext and no key material. */
export interface UndecryptableField {
  path: string;
  keyId?: string;
  algorithm?: StoredAlgorithm;
  reason: UndecryptableReason;
  detail: string;
}

/** The DecryptionError code of each reason. */
export const DECRYPTION_CODE: Readonly<Record<UndecryptableReason, CodeOf<'DecryptionError'>>> = {
  'missing-key': 'DECRYPT_MISSING_KEY', 'wrong-master-key': 'DECRYPT_WRONG_MASTER_KEY', 'kms-unreachable': 'DECRYPT_KMS_UNREACHABLE',
  'key-vault-unreachable': 'DECRYPT_KEY_VAULT_UNREACHABLE', corrupt: 'DECRYPT_CORRUPT', misplaced: 'DECRYPT_MISPLACED',
  'algorithm-mismatch': 'DECRYPT_ALGORITHM_MISMATCH', 'type-mismatch': 'DECRYPT_TYPE_MISMATCH', 'key-mismatch': 'DECRYPT_KEY_MISMATCH',
};

const LIKELY_CAUSE: Record<UndecryptableReason, string> = {
  'missing-key': 'its data key is not in the key vault (deleted, i.e. crypto-shredded, or the wrong key vault is configured)',
  'wrong-master-key': 'the data key could not be unwrapped: the configured master key is not the one that wrapped it, or the data is corrupt',
  'kms-unreachable': 'the KMS holding the master key could not be reached',
  'key-vault-unreachable': 'the key vault could not be read',
  corrupt: 'the stored ciphertext is damaged or was not produced by client-side encryption',
  misplaced: 'ciphertext is stored where the model declares a plain field (copied there by another writer); Strongbox decrypts only at declared encrypted paths',
  'algorithm-mismatch': 'the ciphertext was made with another algorithm than the model declares (copied from another field, or written by another client)',
  'type-mismatch': 'the stored value is of another BSON type than the model declares (copied from another field, or written by another client)',
  'key-mismatch': "the ciphertext is under another data key than the one the model names for this document (copied from another field or another document's value)",
};

export function classifyCryptError(err: unknown): UndecryptableReason {
  const message = String((err as Error)?.message ?? err);
  const name = String((err as Error)?.name ?? '');
  if (/not all keys requested were satisfied|key.*not found/i.test(message)) return 'missing-key';
  if (/HMAC validation failure|decrypt.*key|unwrap/i.test(message)) return 'wrong-master-key';
  // The key vault is read through a driver client, whose failures carry these names; a refused
  // connection there says ECONNREFUSED too, so the name decides before the KMS patterns do.
  if (/^Mongo(ServerSelection|Network|TopologyClosed|NotConnected)/.test(name)) return 'key-vault-unreachable';
  if (/KMS|ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket|kmip/i.test(message) || /KMS/.test(name)) return 'kms-unreachable';
  if (/ServerSelection|MongoNetwork|topology/i.test(name + message)) return 'key-vault-unreachable';
  return 'corrupt';
}

/**
 * Refusals of the value itself, recognised by what BSON serialization and libmongocrypt say;
 * none of these messages quotes the value. Deterministic encryption of a type the
 * client-side encryption specification excludes, a value beyond the 16 MiB BSON document
 * limit, and a cyclic object are the value's fault, not the keys'.
 */
const VALUE_REFUSALS: ReadonlyArray<{ test: RegExp; code: CodeOf<'EncryptionError'>; cause: string; fix: string }> = [
  { test: /circular|cyclic/i, code: 'ENCRYPT_VALUE_CYCLIC', cause: 'the value contains a reference to itself (a cycle), which has no BSON form',
    fix: 'pass a tree of plain values without cycles.' },
  { test: /too large|exceeds|maximum (bson )?size|size.*(limit|larger)|out of (range|bounds)|Invalid array length|allocation/i, code: 'ENCRYPT_VALUE_TOO_LARGE',
    cause: 'the value is larger than BSON allows (16 MiB per document, ciphertext included)', fix: 'store large data outside the document (GridFS or an object store) and encrypt a reference or a hash.' },
  { test: /deterministic|type invalid|invalid type|cannot encrypt|bson type|element of type/i, code: 'ENCRYPT_TYPE_REFUSED',
    cause: 'libmongocrypt refuses to encrypt a value of this BSON type with this algorithm', fix: 'declare a bsonType the algorithm accepts (docs/models.md lists them), or use Random.' },
];

function encryptionFailure(err: unknown, algorithm: Algorithm, keyId: Binary, where: string): EncryptionError {
  const reason = classifyCryptError(err);
  const text = `${String((err as Error)?.name ?? '')}: ${String((err as Error)?.message ?? err)}`;
  // Key, key-vault and KMS failures are recognised first: their messages can mention types or sizes too.
  const refusal = reason === 'corrupt' ? VALUE_REFUSALS.find((r) => r.test.test(text)) : undefined;
  if (refusal) {
    return new EncryptionError(refusal.code, `${where} could not be encrypted with ${algorithm}; nothing was written. Cause: ${refusal.cause}.`, { fix: refusal.fix, cause: scrub(err) });
  }
  // 'corrupt' describes stored ciphertext; on the way in, an unrecognised failure is libmongocrypt's refusal.
  const cause = reason === 'corrupt' ? 'libmongocrypt refused the value (its message is in error.cause)' : LIKELY_CAUSE[reason];
  return new EncryptionError('ENCRYPT_FAILED', `${where} could not be encrypted with ${algorithm} under data key ${keyIdText(keyId)}; nothing was written. Cause: ${cause}.`, {
    fix: reason === 'kms-unreachable' ? 'check that the KMS is reachable and its TLS settings.'
      : reason === 'corrupt' ? 'check the value against the field\'s declared type (docs/models.md).' : 'check the key vault and master key configuration (strongbox doctor).',
    cause: scrub(err),
  });
}

export function describeUndecryptable(field: UndecryptableField, where: string): string {
  const key = field.keyId ? `data key ${field.keyId}` : 'an unknown data key';
  return `${where}: the ${field.algorithm ?? 'encrypted'} value at "${field.path}" (${key}) cannot be decrypted; likely cause: ${LIKELY_CAUSE[field.reason]}.`;
}

/**
 * All client-side crypto of a Strongbox client: explicit encryption of single values and
 * decryption of whole batches of documents in one libmongocrypt pass, with per-value
 * attribution when a batch fails (so one shredded customer does not hide everyone else).
 */
export class CryptoEngine {
  private readonly crypt: NativeMongoCrypt;
  /** When libmongocrypt last fetched each data key (hex of the key id), while its cache holds it. */
  private readonly fetchedAt = new Map<string, number>();
  private lastSweep = Date.now();
  /** The encryption fetching a key, which others under the same key wait for. */
  private readonly firstUses = new Map<string, Promise<Binary>>();
  /** Data key ids by alt name, for the reader's provenance check. */
  private readonly keyIdsByAltName = new Map<string, { id: Promise<string | undefined>; at: number }>();

  constructor(
    /** The driver's handle, for key management and as the key vault/KMS executor. */
    readonly encryption: ClientEncryption,
    kmsProviders: Document,
    private readonly kmsTlsOptions: Document,
  ) {
    this.crypt = createNativeMongoCrypt(kmsProviders, (d) => BSON.serialize(d));
  }

  /**
   * Encrypts one value. The first encryption under a data key goes alone: libmongocrypt reads
   * the key from the key vault (and, with a remote KMS, has the KMS unwrap it) and caches it, so
   * a document's values encrypted concurrently under a new key cost one key-vault read and one
   * KMS call instead of one each. libmongocrypt forgets a key 60 s after fetching it; so does
   * this gate, so the next use fetches it once again.
   */
  async encrypt(value: unknown, algorithm: Algorithm, keyId: Binary, where = 'A value'): Promise<Binary> {
    const key = keyId.toString('hex');
    if (!this.isKeyCached(key)) {
      const first = this.firstUses.get(key);
      if (first) {
        // A failed first use proves nothing about this one, which then tries on its own.
        await first.catch(() => undefined);
      } else {
        const attempt = this.encryptValue(value, algorithm, keyId, where);
        this.firstUses.set(key, attempt);
        try {
          const ciphertext = await attempt;
          this.rememberFetched(key);
          return ciphertext;
        } finally {
          this.firstUses.delete(key);
        }
      }
    }
    return this.encryptValue(value, algorithm, keyId, where);
  }

  private isKeyCached(key: string): boolean {
    const at = this.fetchedAt.get(key);
    return at !== undefined && Date.now() - at < KEY_CACHE_MS;
  }

  private rememberFetched(key: string): void {
    const now = Date.now();
    // With a key per customer, keys used once would pile up: drop the expired ones once a cache period.
    if (now - this.lastSweep >= KEY_CACHE_MS) {
      for (const [k, at] of this.fetchedAt) if (now - at >= KEY_CACHE_MS) this.fetchedAt.delete(k);
      this.lastSweep = now;
    }
    this.fetchedAt.set(key, now);
  }

  private async encryptValue(value: unknown, algorithm: Algorithm, keyId: Binary, where: string): Promise<Binary> {
    try {
      const plaintext = BSON.serialize({ v: value });
      // libmongocrypt encrypts any size; the server then refuses a document beyond its limit, and the
      // driver fails serializing the command: refuse here, where the field is still known.
      if (plaintext.length > MAX_BSON_SIZE) throw new RangeError('value too large for a BSON document');
      const context = this.crypt.makeExplicitEncryptionContext(plaintext, { keyId: keyId.buffer, algorithm: ALGORITHM_NAMES[algorithm] });
      const out = BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions), { promoteValues: false });
      return out.v as Binary;
    } catch (err) {
      if (err instanceof EncryptionError) throw err;
      throw encryptionFailure(err, algorithm, keyId, where);
    }
  }

  /** Decrypts one stored value; throws DecryptionError with the reason. */
  async decryptValue(value: Binary, path = 'value'): Promise<unknown> {
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
    const now = Date.now();
    const cached = this.keyIdsByAltName.get(altName);
    if (cached && now - cached.at < KEY_CACHE_MS) return cached.id;
    const id = this.encryption.getKeyByAltName(altName).then((key) => (key?._id as Binary | undefined)?.toUUID().toHexString());
    // A failed lookup is not remembered: the next read asks again.
    id.catch(() => this.keyIdsByAltName.delete(altName));
    if (this.keyIdsByAltName.size > 10_000) this.keyIdsByAltName.clear();
    this.keyIdsByAltName.set(altName, { id, at: now });
    return id;
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

function keyIdText(id: Binary): string {
  try { return id.toUUID().toHexString(); } catch { return 'of unknown form'; }
}

/** Keeps an underlying error's class and message but drops attached payloads (they may hold values). */
function scrub(err: unknown): Error {
  const e = new Error(String((err as Error)?.message ?? err));
  e.name = String((err as Error)?.name ?? 'Error');
  return e;
}

import { Binary, BSON, type ClientEncryption, type Document } from 'mongodb';
import { DecryptionError, EncryptionError } from '../errors';
import { inspectEncryptedBlob, isEncryptedBinary, type StoredAlgorithm } from './blob';
import type { Algorithm } from '../metadata/types';
import { ALGORITHM_NAMES } from '../schema/encryptSchema';
import { createNativeMongoCrypt, runContext, type NativeMongoCrypt } from './driverInternals';

/** How long libmongocrypt keeps a fetched data key (its default key cache expiration). */
const KEY_CACHE_MS = 60_000;

export type UndecryptableReason = 'missing-key' | 'wrong-master-key' | 'kms-unreachable' | 'key-vault-unreachable' | 'corrupt';

/** Why one stored value could not be decrypted; carries no plaintext and no key material. */
export interface UndecryptableField {
  path: string;
  keyId?: string;
  algorithm?: StoredAlgorithm;
  reason: UndecryptableReason;
  detail: string;
}

const LIKELY_CAUSE: Record<UndecryptableReason, string> = {
  'missing-key': 'its data key is not in the key vault (deleted, i.e. crypto-shredded, or the wrong key vault is configured)',
  'wrong-master-key': 'the data key could not be unwrapped: the configured master key is not the one that wrapped it, or the data is corrupt',
  'kms-unreachable': 'the KMS holding the master key could not be reached',
  'key-vault-unreachable': 'the key vault could not be read',
  corrupt: 'the stored ciphertext is damaged or was not produced by client-side encryption',
};

function classifyCryptError(err: unknown): UndecryptableReason {
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
  async encrypt(value: unknown, algorithm: Algorithm, keyId: Binary): Promise<Binary> {
    const key = keyId.toString('hex');
    if (!this.isKeyCached(key)) {
      const first = this.firstUses.get(key);
      if (first) {
        // A failed first use proves nothing about this one, which then tries on its own.
        await first.catch(() => undefined);
      } else {
        const attempt = this.encryptValue(value, algorithm, keyId);
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
    return this.encryptValue(value, algorithm, keyId);
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

  private async encryptValue(value: unknown, algorithm: Algorithm, keyId: Binary): Promise<Binary> {
    try {
      const context = this.crypt.makeExplicitEncryptionContext(BSON.serialize({ v: value }), { keyId: keyId.buffer, algorithm: ALGORITHM_NAMES[algorithm] });
      const out = BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions), { promoteValues: false });
      return out.v as Binary;
    } catch (err) {
      if (err instanceof EncryptionError) throw err;
      const reason = classifyCryptError(err);
      throw new EncryptionError('ENCRYPT_FAILED', `A value could not be encrypted with ${algorithm} under data key ${keyIdText(keyId)}; nothing was written. Cause: ${LIKELY_CAUSE[reason]}.`, {
        fix: reason === 'kms-unreachable' ? 'check that the KMS is reachable and its TLS settings.' : 'check the key vault and master key configuration (strongbox doctor).',
        cause: scrub(err),
      });
    }
  }

  /** Decrypts one stored value; throws DecryptionError with the reason. */
  async decryptValue(value: Binary, path = 'value'): Promise<unknown> {
    try {
      const context = this.crypt.makeExplicitDecryptionContext(BSON.serialize({ v: value }));
      return BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).v;
    } catch (err) {
      const field = undecryptable(path, value, err);
      throw new DecryptionError(`DECRYPT_${field.reason.toUpperCase().replace(/-/g, '_')}`, describeUndecryptable(field, 'read'), {
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
   * decryptDocuments for documents still in BSON, as a `raw: true` cursor hands them out: the
   * bytes go to libmongocrypt as the server sent them and are deserialized once, decrypted,
   * instead of being deserialized by the driver, serialized again here and deserialized again.
   */
  async decryptRawDocuments(raw: Uint8Array[]): Promise<{ docs: Document[]; failures: Map<number, UndecryptableField[]> }> {
    if (raw.length === 0) return { docs: [], failures: new Map() };
    try {
      const context = this.crypt.makeDecryptionContext(wrapInArray(raw));
      return { docs: BSON.deserialize(await runContext(this.encryption, context, this.kmsTlsOptions)).d, failures: new Map() };
    } catch {
      return this.decryptValueByValue(raw.map((bytes) => BSON.deserialize(bytes)));
    }
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

/**
 * The BSON of `{ d: [doc0, doc1, …] }` built around already-serialized documents: an array is a
 * document whose keys are "0", "1", …, each element being type 0x03 (document), key, bytes.
 */
function wrapInArray(docs: Uint8Array[]): Uint8Array {
  let arrayLength = 4 + 1;
  for (let i = 0; i < docs.length; i++) arrayLength += 1 + String(i).length + 1 + docs[i].length;
  const total = 4 + 1 + 2 + arrayLength + 1;
  const out = Buffer.allocUnsafe(total);
  let at = out.writeInt32LE(total, 0);
  out[at++] = 0x04; // array
  out[at++] = 0x64; // "d"
  out[at++] = 0x00;
  at = out.writeInt32LE(arrayLength, at);
  for (let i = 0; i < docs.length; i++) {
    out[at++] = 0x03; // embedded document
    at += out.write(String(i), at, 'latin1');
    out[at++] = 0x00;
    out.set(docs[i], at);
    at += docs[i].length;
  }
  out[at++] = 0x00; // end of the array
  out[at] = 0x00; // end of the outer document
  return out;
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

export function isPlainDocument(value: unknown): value is Document {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
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

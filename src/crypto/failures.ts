import type { Binary } from 'mongodb';
import type { CodeOf } from '../errorCatalogue';
import { EncryptionError } from '../errors';
import type { StoredAlgorithm } from './blob';

/*
 * What a libmongocrypt failure means, in words that name the field and never the value: the
 * classification of decryption failures (kept with each unreadable value) and the errors of
 * encryption, shared by the command encryptor and the decrypting reads.
 */

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

export const LIKELY_CAUSE: Record<UndecryptableReason, string> = {
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
  // Any other refusal by the BSON library itself (a key holding a NUL byte, a value it cannot write), named first in `text`.
  { test: /^BSON/, code: 'ENCRYPT_VALUE_NOT_BSON',
    cause: 'the value has no BSON form (BSON refused it, for example a key holding a NUL byte)', fix: 'pass keys and values BSON can write (docs/models.md).' },
];

/**
 * The underlying error, kept as the cause without anything that may quote the value: the BSON
 * library names the offending key in its messages ("key … must not contain null bytes"), and
 * inside a value encrypted whole a key is plaintext too.
 */
function causeOf(err: unknown): Error {
  const cause = scrub(err);
  if (cause.name.startsWith('BSON')) cause.message = 'the BSON library refused the value (its message is withheld: it may quote the value)';
  return cause;
}

export function encryptionFailure(err: unknown, algorithm: StoredAlgorithm, keyId: Binary, where: string): EncryptionError {
  const reason = classifyCryptError(err);
  const text = `${String((err as Error)?.name ?? '')}: ${String((err as Error)?.message ?? err)}`;
  // Key, key-vault and KMS failures are recognised first: their messages can mention types or sizes too.
  const refusal = reason === 'corrupt' ? VALUE_REFUSALS.find((r) => r.test.test(text)) : undefined;
  if (refusal) {
    return new EncryptionError(refusal.code, `${where} could not be encrypted with ${algorithm}; nothing was written. Cause: ${refusal.cause}.`, { fix: refusal.fix, cause: causeOf(err) });
  }
  // 'corrupt' describes stored ciphertext; on the way in, an unrecognised failure is libmongocrypt's refusal.
  const cause = reason === 'corrupt' ? 'libmongocrypt refused the value (its message is in error.cause)' : LIKELY_CAUSE[reason];
  return new EncryptionError('ENCRYPT_FAILED', `${where} could not be encrypted with ${algorithm} under data key ${keyIdText(keyId)}; nothing was written. Cause: ${cause}.`, {
    fix: reason === 'kms-unreachable' ? 'check that the KMS is reachable and its TLS settings.'
      : reason === 'corrupt' ? 'check the value against the field\'s declared type (docs/models.md).' : 'check the key vault and master key configuration (strongbox doctor).',
    cause: causeOf(err),
  });
}

/** The encrypted values of one document together exceed MongoDB's document limit once encrypted. */
export function groupTooLarge(fields: string[]): EncryptionError {
  return new EncryptionError('ENCRYPT_DOCUMENT_TOO_LARGE', `The encrypted fields ${fields.join(', ')} together exceed MongoDB's 16 MiB document limit once encrypted; nothing was encrypted or written.`, {
    fix: 'store large data outside the document (for example in GridFS) and encrypt a reference to it.',
  });
}

function keyIdText(id: Binary): string {
  try { return id.toUUID().toHexString(); } catch { return 'of unknown form'; }
}

/** Keeps an underlying error's class and message but drops attached payloads (they may hold values). */
export function scrub(err: unknown): Error {
  const e = new Error(String((err as Error)?.message ?? err));
  e.name = String((err as Error)?.name ?? 'Error');
  return e;
}

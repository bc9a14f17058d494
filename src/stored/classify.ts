import { inspectEncryptedBlob, isEncryptedBinary, type EncryptedBlobInfo } from '../crypto/blob';
import type { Algorithm, BsonType } from '../metadata/types';
import { BSON_TYPE_NUMBER } from './values';

/** What the model says a stored value should be. */
export interface Expectation {
  algorithm: Algorithm;
  bsonType?: BsonType;
  /** The data key id the value should name; undefined when the key does not exist (yet). */
  keyId: string | undefined;
}

export type Finding =
  | { state: 'absent' }
  | { state: 'plaintext' }
  /** BinData subtype 6 whose header is not a stored ciphertext's. */
  | { state: 'corrupt' }
  | { state: 'encrypted'; info: EncryptedBlobInfo; wrongAlgorithm: boolean; wrongKey: boolean; wrongType: boolean };

/**
 * Reads a stored value's ciphertext header (never decrypting) and compares it with what the
 * model expects: the silent inconsistency of one client writing Random and another
 * Deterministic, or one key and another, shows up here.
 */
export function classifyValue(value: unknown, expected: Expectation): Finding {
  if (value === null || value === undefined) return { state: 'absent' };
  if (!isEncryptedBinary(value)) return { state: 'plaintext' };
  const info = inspectEncryptedBlob(value);
  if (!info) return { state: 'corrupt' };
  return {
    state: 'encrypted',
    info,
    wrongAlgorithm: info.algorithm !== expected.algorithm,
    wrongKey: info.keyId !== expected.keyId,
    wrongType: expected.bsonType !== undefined && BSON_TYPE_NUMBER[expected.bsonType] !== info.originalBsonType,
  };
}

/** True when the value is already what the model wants (nothing for a backfill to do). */
export function conforms(finding: Finding): boolean {
  return finding.state === 'absent' || (finding.state === 'encrypted' && !finding.wrongAlgorithm && !finding.wrongKey);
}

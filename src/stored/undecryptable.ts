import { createHash } from 'node:crypto';
import { BSON } from 'mongodb';
import { DECRYPTION_CODE, type UndecryptableField, type UndecryptableReason } from '../crypto/failures';
import { InvalidInputError } from '../errors';

/**
 * Stands in for a value that could not be decrypted, when a repository is created with
 * `onUndecryptable: 'marker'`. It is never a string/number, so it cannot pass for the value,
 * and every write path refuses it, so a loaded entity written back cannot destroy the
 * ciphertext it replaced.
 */
export class UndecryptableValue {
  constructor(
    readonly path: string,
    readonly keyId: string | undefined,
    readonly algorithm: 'Deterministic' | 'Random' | undefined,
    readonly reason: UndecryptableReason,
  ) {}
  toJSON(): object { return { undecryptable: true, path: this.path, keyId: this.keyId, reason: this.reason }; }

  /**
   * BSON calls this when it writes the marker: wherever it was put (inside a Map, a class instance,
   * another object's toBSON, where no check looks), writing it throws, so it can never be stored
   * as a document of its fields in place of the value.
   */
  toBSON(): never {
    throw new InvalidInputError('INPUT_UNDECRYPTABLE_WRITE_BACK', `An UndecryptableValue (the value read at "${this.path}", which could not be decrypted) was about to be written; writing it would replace a stored value with its marker. Nothing was sent.`, {
      fix: 'leave the value out of the write, or set a real value in its place.',
    });
  }
}

/**
 * What each marker a read made stands for: the path it was read at and a digest of the stored value
 * it replaced (kept here, not on the marker, so nothing on it can be read or forged). save() leaves a marker unchanged only
 * when it stands for the same stored value as the one the snapshot holds at its place.
 */
const standsFor = new WeakMap<UndecryptableValue, string>();

/** The marker for a value a read could not decrypt, `stored` being the value it replaces. */
export function markerFor(problem: UndecryptableField, stored: unknown): UndecryptableValue {
  const marker = new UndecryptableValue(problem.path, problem.keyId, problem.algorithm, problem.reason);
  // Its place counts too: the same ciphertext planted in two fields makes two markers, each of its own field.
  if (stored !== undefined) standsFor.set(marker, `${problem.path}\0${createHash('sha256').update(BSON.serialize({ v: stored })).digest('base64')}`);
  return marker;
}

/** Whether two markers stand for the same stored value; a marker the application built stands for none. */
export function sameStoredValue(a: UndecryptableValue, b: UndecryptableValue): boolean {
  if (a === b) return true;
  const digest = standsFor.get(a);
  return digest !== undefined && digest === standsFor.get(b);
}

/** The own fields of a marker, and of its JSON form (toJSON). */
const MARKER_FIELDS: ReadonlySet<string> = new Set(['path', 'keyId', 'algorithm', 'reason']);
const MARKER_JSON_FIELDS: ReadonlySet<string> = new Set(['undecryptable', 'path', 'keyId', 'reason']);

/**
 * Whether `value` is a copy of a marker rather than a marker: an object holding only a marker's
 * fields (a path and one of the reasons a read gives), as structuredClone, a spread, a JSON round
 * trip or a change of prototype make of one. Written where the marker was, it would replace the
 * stored value with the marker's description, so every write refuses it as it refuses the marker.
 */
export function isMarkerCopy(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || value instanceof UndecryptableValue || Array.isArray(value)) return false;
  const fields = value as Record<string, unknown>;
  if (typeof fields.path !== 'string' || typeof fields.reason !== 'string' || !Object.prototype.hasOwnProperty.call(DECRYPTION_CODE, fields.reason)) return false;
  const allowed = fields.undecryptable === true ? MARKER_JSON_FIELDS : MARKER_FIELDS;
  return Object.keys(fields).every((key) => allowed.has(key));
}

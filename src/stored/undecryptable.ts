import { createHash } from 'node:crypto';
import { BSON } from 'mongodb';
import type { UndecryptableField, UndecryptableReason } from '../crypto/failures';
import { InvalidInputError } from '../errors';

/**
 * Stands in for a value that could not be decrypted, when a repository is created with
 * `onUndecryptable: 'marker'`. It is never a string/number, so it cannot pass for the value,
 * and every write path refuses it, so a loaded entity written back cannot destroy the
 * ciphertext it replaced.
 *
 * Its description (path, key id, algorithm, reason) is read-only and not enumerable; its own
 * enumerable properties are the mark `undecryptable: true` and the `toBSON` that refuses to be
 * written. So every copy the language makes of a marker carries the refusal or the mark: a spread
 * or `Object.assign` copies both (writing the copy throws, as writing the marker does), a change of
 * prototype keeps them, a JSON or Extended JSON round trip keeps the mark, and `structuredClone`
 * refuses to copy a function at all. No copy can be stored as a document of the marker's fields in
 * place of the value it stands for (see isMarkerCopy). A value the application builds itself from
 * the description is its own value.
 */
export class UndecryptableValue {
  /** The dotted path the value was read at. */
  declare readonly path: string;
  /** The data key id the stored ciphertext names (UUID hex), when its header could be read. */
  declare readonly keyId: string | undefined;
  /** The algorithm the stored ciphertext's header names, when it could be read. */
  declare readonly algorithm: 'Deterministic' | 'Random' | undefined;
  /** Why the value could not be decrypted (or was not: ciphertext that does not belong where it is stored). */
  declare readonly reason: UndecryptableReason;
  /** Always true: what tells a marker, and every copy of one, from a value (its one enumerable data property). */
  declare readonly undecryptable: true;
  /** Throws: a marker, or a copy of one, is never written (BSON calls this wherever it was put: inside a Map, a class instance, another object's toBSON). */
  declare readonly toBSON: () => never;

  constructor(path: string, keyId: string | undefined, algorithm: 'Deterministic' | 'Random' | undefined, reason: UndecryptableReason) {
    // The description: own, read-only and not enumerable, so no copy the language makes carries it.
    for (const [name, value] of [['path', path], ['keyId', keyId], ['algorithm', algorithm], ['reason', reason]] as const) {
      Object.defineProperty(this, name, { value, enumerable: false, writable: false, configurable: false });
    }
    Object.defineProperty(this, 'undecryptable', { value: true, enumerable: true, writable: false, configurable: false });
    Object.defineProperty(this, 'toBSON', { value: refuseMarkerWrite, enumerable: true, writable: false, configurable: false });
    constructed.add(this);
  }

  /** Its description, marked `undecryptable: true`: what JSON.stringify writes for it (refused by every write if read back). */
  toJSON(): object { return { undecryptable: true, path: this.path, keyId: this.keyId, reason: this.reason }; }

  /** How console.log and util.inspect show it: its description, not its toBSON. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `UndecryptableValue { path: ${JSON.stringify(this.path)}, keyId: ${JSON.stringify(this.keyId)}, algorithm: ${JSON.stringify(this.algorithm)}, reason: ${JSON.stringify(this.reason)} }`;
  }
}

/** The markers this class made (a copy or an object made with Object.create carries the toBSON, not the description). */
const constructed = new WeakSet<object>();

/** The toBSON of every marker, and so of every copy of one: one function, so a copy's is recognized wherever it is found. */
function refuseMarkerWrite(this: unknown): never {
  const path = typeof this === 'object' && this !== null && constructed.has(this) ? (this as UndecryptableValue).path : undefined;
  const what = path === undefined ? 'A copy of an UndecryptableValue (a spread, Object.assign or other copy of a marker of a value that could not be decrypted)' : `An UndecryptableValue (the value read at "${path}", which could not be decrypted)`;
  throw new InvalidInputError('INPUT_UNDECRYPTABLE_WRITE_BACK', `${what} was about to be written; writing it would replace a stored value with its marker. Nothing was sent.`, {
    fix: 'leave the value out of the write, or set a real value in its place.',
  });
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

/**
 * Whether `value` is what a copy of a marker leaves where the marker was: the marker's own toBSON
 * (a copy's, found as a value), or an object (or a Map of entries) carrying it or the marker's
 * mark `undecryptable: true` — which every copy keeps, whatever copied it: a spread, Object.assign,
 * a JSON or Extended JSON round trip, a copy that leaves functions out. Written where the marker
 * was, it would replace the stored value with the marker's description, so every write refuses it
 * as it refuses the marker.
 */
export function isMarkerCopy(value: unknown): boolean {
  if (value === refuseMarkerWrite) return true;
  if (typeof value !== 'object' || value === null || value instanceof UndecryptableValue || Array.isArray(value)) return false;
  if (value instanceof Map) return value.get('undecryptable') === true || value.get('toBSON') === refuseMarkerWrite;
  const fields = value as Record<string, unknown>;
  return fields.undecryptable === true || fields.toBSON === refuseMarkerWrite;
}

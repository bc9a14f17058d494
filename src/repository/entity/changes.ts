import { BSON, type Document } from 'mongodb';
import { AS_THE_DRIVER_WRITES, isDocumentLike } from '../../bson/documents';
import { InvalidInputError } from '../../errors';
import { sameStoredValue, UndecryptableValue } from '../../stored/undecryptable';
import type { ModelShape } from '../../metadata/types';
import { BytesDigest } from './largeBytes';

export interface Changes {
  $set: Document;
  $unset: Document;
}

/**
 * The update that turns `before` into `after`, both in plaintext: a `$set` of each declared field
 * whose value differs and an `$unset` of each that lost its value. Embedded documents stored in
 * the clear are compared field by field, so a change deep inside one sets that path alone;
 * arrays and documents encrypted whole are set whole. Fields the model does not declare, and
 * _id, are not the entity's to change. `before` may hold digests of large byte values where
 * `after` holds the values (see keepWritten): compared by digest.
 */
export function changesBetween(shape: ModelShape, before: Document, after: Document, prefix = '', out: Changes = { $set: {}, $unset: {} }): Changes {
  for (const field of shape.fields.values()) {
    if (field.isId) continue;
    const path = prefix + field.name;
    const was = before[field.name];
    const is = after[field.name];
    if (is === null || is === undefined) {
      if (was !== null && was !== undefined) out.$unset[path] = '';
    } else if (was === null || was === undefined) {
      out.$set[path] = is;
    } else if (field.embedded && !field.isArray && !field.encrypted && isDocumentLike(was)) {
      if (isDocumentLike(is)) changesBetween(field.embedded, was, is, `${path}.`, out);
      // Anything but a document where one was (a Date, an array, a string): set whole, and the update checks it.
      else out.$set[path] = is;
    } else if (!(was instanceof BytesDigest ? was.matches(is) : sameValue(was, is))) {
      out.$set[path] = is;
    }
  }
  return out;
}

export function isEmpty(changes: Changes): boolean {
  return Object.keys(changes.$set).length === 0 && Object.keys(changes.$unset).length === 0;
}

/** Equal when the driver would store the same bytes (an undefined property as null): covers Dates, ObjectIds, Longs, Binaries and nested values alike. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  try {
    return sameBytes(a, b);
  } catch (err) {
    // An UndecryptableValue refuses to be written: compared here by what it stands for, so an
    // entity read under the opt-in can still be saved with the marker left where it was.
    if (err instanceof InvalidInputError && err.code === 'INPUT_UNDECRYPTABLE_WRITE_BACK') return sameHoldingMarkers(a, b);
    // Anything else BSON cannot write counts as a change: the write refuses it with its own error,
    // which never quotes the value (BSON's messages quote keys, plaintext inside a value encrypted whole).
    return false;
  }
}

function sameBytes(a: unknown, b: unknown): boolean {
  return Buffer.from(BSON.serialize({ v: a }, AS_THE_DRIVER_WRITES)).equals(BSON.serialize({ v: b }, AS_THE_DRIVER_WRITES));
}

/**
 * sameValue for values holding UndecryptableValue markers: arrays and documents (own enumerable
 * keys, as BSON writes them) walked, markers equal when they stand for the same stored value (a
 * marker of another document, or one the application built, is a change, which the write refuses).
 * A marker inside anything else (a Map, a class instance) counts as a change too.
 */
function sameHoldingMarkers(a: unknown, b: unknown): boolean {
  if (a instanceof UndecryptableValue || b instanceof UndecryptableValue) {
    return a instanceof UndecryptableValue && b instanceof UndecryptableValue && sameStoredValue(a, b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameHoldingMarkers(item, b[i]));
  }
  if (walkedAsKeys(a) && walkedAsKeys(b)) {
    const keys = Object.keys(a);
    const others = Object.keys(b);
    return keys.length === others.length && keys.every((key, i) => others[i] === key && sameHoldingMarkers((a as Document)[key], (b as Document)[key]));
  }
  if (a === b) return true;
  try {
    return typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && sameBytes(a, b);
  } catch {
    return false;
  }
}

/** A document BSON writes as its own enumerable keys (one with toBSON is written as what that returns). */
function walkedAsKeys(value: unknown): value is Document {
  return isDocumentLike(value) && typeof (value as { toBSON?: unknown }).toBSON !== 'function';
}

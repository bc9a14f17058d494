import { BSON, type Document } from 'mongodb';

/**
 * Helpers on values as the driver hands them over, shared by every layer above; they know
 * nothing of models or encryption.
 */

/** A plain object, so a (sub)document: not a class instance such as a Binary or a Date. */
export function isPlainDocument(value: unknown): value is Document {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An instance of a js-bson class (ObjectId, Binary, Int32, Decimal128, …); each carries `_bsontype`. */
export function isBsonValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { _bsontype?: unknown })._bsontype === 'string';
}

/**
 * A document id as people read it in messages and reports: an ObjectId or UUID as its hex
 * string, anything else as relaxed Extended JSON (so the string "7" and the number 7 differ).
 */
export function idText(id: unknown): string {
  if (typeof id === 'object' && id !== null && typeof (id as { toHexString?: unknown }).toHexString === 'function') {
    return (id as { toHexString(): string }).toHexString();
  }
  return BSON.EJSON.stringify(id, { relaxed: true });
}

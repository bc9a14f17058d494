import { Binary, BSON, BSONRegExp, Code, DBRef, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, type Document } from 'mongodb';
import { isBsonValue } from '../bson/documents';

/** One place in a stored document where a value of an encrypted path sits (or would sit). */
export interface Slot {
  container: Document | unknown[];
  key: string | number;
  value: unknown;
}

/**
 * The values at a path of a stored document. Arrays met before the last segment are stepped
 * into (each element that is a document), as the encryption plan's `inArray` paths mean; the
 * value at the last segment is taken whole, even an array (an encrypted array is one value).
 * Missing values yield no slot; null yields a slot holding null.
 */
export function slotsAt(doc: Document, segments: readonly string[]): Slot[] {
  const out: Slot[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (Array.isArray(node)) {
      for (const element of node) walk(element, depth);
      return;
    }
    if (node === null || typeof node !== 'object' || isBsonValue(node)) return;
    const container = node as Document;
    const key = segments[depth];
    if (!(key in container) || container[key] === undefined) return;
    if (depth === segments.length - 1) out.push({ container, key, value: container[key] });
    else walk(container[key], depth + 1);
  };
  walk(doc, 0);
  return out;
}

/** A deep copy that keeps every BSON type exactly (Int32 stays Int32, key order stays). */
export function copyBson<T>(value: T): T {
  return BSON.deserialize(BSON.serialize({ v: value }), { promoteValues: false }).v as T;
}

/** The BSON type number of a value read with promoteValues: false (1 double, 2 string, 16 int, …). */
export function bsonTypeNumber(value: unknown): number | undefined {
  if (typeof value === 'string') return 2;
  if (typeof value === 'boolean') return 8;
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 16 : 1;
  if (value === null) return 10;
  if (value instanceof Date) return 9;
  if (Array.isArray(value)) return 4;
  if (value instanceof Double) return 1;
  if (value instanceof Int32) return 16;
  // Timestamp extends Long in js-bson: test it first.
  if (value instanceof Timestamp) return 17;
  if (value instanceof Long) return 18;
  if (value instanceof Decimal128) return 19;
  if (value instanceof ObjectId) return 7;
  if (value instanceof Binary) return 5;
  if (value instanceof RegExp || value instanceof BSONRegExp) return 11;
  if (value instanceof Code) return value.scope ? 15 : 13;
  if (value instanceof MinKey) return 255;
  if (value instanceof MaxKey) return 127;
  if (value instanceof DBRef) return 3;
  if (typeof value === 'object') return 3;
  return undefined;
}

/** BSON type numbers by schema name, as byte 17 of a ciphertext records the plaintext's type. */
export const BSON_TYPE_NUMBER: Readonly<Record<string, number>> = {
  double: 1, string: 2, object: 3, array: 4, binData: 5, undefined: 6, objectId: 7, bool: 8, date: 9, null: 10,
  regex: 11, dbPointer: 12, javascript: 13, symbol: 14, javascriptWithScope: 15, int: 16, timestamp: 17, long: 18,
  decimal: 19, minKey: 255, maxKey: 127,
};

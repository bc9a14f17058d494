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
 * The values a BSON value holds inside it, with the names BSON stores them under: a DBRef's $id
 * and extra fields, a Code's scope. Undefined for every other value. A scan for ciphertext in a
 * document must look there too, as the driver writes and reads them as subdocuments.
 */
export function valuesInsideBson(value: unknown): Array<[string, unknown]> | undefined {
  const type = isBsonValue(value) ? (value as { _bsontype: string })._bsontype : undefined;
  if (type === 'DBRef') {
    const ref = value as { oid: unknown; fields?: Document };
    return [['$id', ref.oid], ...Object.keys(ref.fields ?? {}).map((key): [string, unknown] => [key, ref.fields![key]])];
  }
  if (type === 'Code' && (value as { scope?: unknown }).scope != null) return [['$scope', (value as { scope: unknown }).scope]];
  return undefined;
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

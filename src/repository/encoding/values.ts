import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, ObjectId, Timestamp, UUID } from 'mongodb';
import type { BsonType } from '../../metadata/types';
import { invalid } from './guards';

/**
 * Checks a plaintext value against the declared bsonType and converts JavaScript numbers to the
 * declared BSON number type, so that what gets encrypted carries the type the schema promises
 * (a JS integer would otherwise be stored as int32 inside a 'double' field).
 */
export function coerceForEncryption(value: unknown, bsonType: BsonType | undefined, where: string): unknown {
  if (bsonType === undefined) return value;
  const mismatch = () => invalid('INPUT_WRONG_TYPE', `${where} is declared as ${bsonType} but got ${describe(value)}.`, `pass a ${bsonType} value.`);
  switch (bsonType) {
    case 'string': if (typeof value !== 'string') throw mismatch(); return value;
    case 'bool': if (typeof value !== 'boolean') throw mismatch(); return value;
    case 'date': if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw mismatch(); return value;
    case 'objectId': if (!(value instanceof ObjectId)) throw mismatch(); return value;
    case 'binData': if (!(value instanceof Binary) && !(value instanceof UUID)) throw mismatch(); return value;
    case 'int':
      if (value instanceof Int32) return value;
      if (typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return new Int32(value);
      throw mismatch();
    case 'long':
      if (value instanceof Long) return value;
      if (typeof value === 'bigint') return Long.fromBigInt(value);
      if (typeof value === 'number' && Number.isSafeInteger(value)) return Long.fromNumber(value);
      throw mismatch();
    case 'double':
      if (value instanceof Double) return value;
      if (typeof value === 'number') return new Double(value);
      throw mismatch();
    case 'decimal':
      if (value instanceof Decimal128) return value;
      throw mismatch();
    case 'timestamp': if (!(value instanceof Timestamp)) throw mismatch(); return value;
    case 'regex': if (!(value instanceof RegExp) && !(value instanceof BSONRegExp)) throw mismatch(); return value;
    case 'object': if (value === null || typeof value !== 'object' || Array.isArray(value)) throw mismatch(); return value;
    case 'array': if (!Array.isArray(value)) throw mismatch(); return value;
    default: return value;
  }
}

/** Names a value's kind for error messages without echoing the value (it may be secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return `a ${typeof value}`;
}

import { BSONSymbol, Double, Int32, Long } from 'mongodb';
import type { BsonType } from './types';

/*
 * What a read returns for each declared bsonType. The driver promotes some stored values to a
 * JavaScript type that a write would store as another BSON type (a long that fits 53 bits comes
 * back as a number, a symbol as a string); these converters give back the one type docs/models.md
 * promises, so a value read and written back keeps its stored type. Hydration and the
 * repository's reader both use them; the write side (repository/encoding/values.ts) is their mirror.
 */

/** What a declared field says about its value: its type and, for arrays of scalars, its elements' type. */
export interface DeclaredType {
  bsonType?: BsonType;
  itemBsonType?: BsonType;
}

/**
 * The JavaScript type a read returns for a declared type: long → Long, int and double →
 * number, symbol → BSONSymbol; every other type as the driver returns it (see docs/models.md).
 */
export function fromStoredBson(value: unknown, declared: DeclaredType): unknown {
  const { bsonType } = declared;
  if (bsonType === 'array' && declared.itemBsonType !== undefined && Array.isArray(value)) {
    return needsReadConversion(declared.itemBsonType) ? value.map((item) => fromStoredScalar(item, declared.itemBsonType!)) : value;
  }
  return bsonType === undefined ? value : fromStoredScalar(value, bsonType);
}

/** Whether reads of this type need fromStoredBson at all (lets the hydrator skip the others). */
export function needsReadConversion(bsonType: BsonType | undefined): boolean {
  return bsonType === 'long' || bsonType === 'int' || bsonType === 'double' || bsonType === 'symbol';
}

function fromStoredScalar(value: unknown, bsonType: BsonType): unknown {
  switch (bsonType) {
    case 'long':
      // The driver promotes a long that fits 53 bits to a number, which a write would store as int32 or double.
      if (typeof value === 'number' && Number.isSafeInteger(value)) return Long.fromNumber(value);
      if (typeof value === 'bigint') return Long.fromBigInt(value);
      return value;
    case 'int':
    case 'double':
      return value instanceof Int32 || value instanceof Double ? value.valueOf() : value;
    case 'symbol':
      // The driver promotes a stored symbol to a plain string; written back, it would be stored as a string.
      return typeof value === 'string' ? new BSONSymbol(value) : value;
    default:
      return value;
  }
}

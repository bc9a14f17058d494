import {
  Binary, BSONRegExp, BSONSymbol, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp,
} from 'mongodb';
import type { BsonType } from './types';

const BSON_TYPES: readonly BsonType[] = [
  'string', 'int', 'long', 'double', 'decimal', 'bool', 'date', 'objectId', 'binData', 'object', 'array',
  'timestamp', 'regex', 'javascript', 'symbol', 'null', 'undefined', 'minKey', 'maxKey', 'javascriptWithScope',
  'dbPointer',
];

export function isBsonType(value: unknown): value is BsonType {
  return typeof value === 'string' && (BSON_TYPES as readonly string[]).includes(value);
}

/** Deterministic ciphertext would be ambiguous or useless for these (MongoDB refuses them). */
export const DETERMINISTIC_REFUSED: ReadonlySet<BsonType> = new Set<BsonType>([
  'double', 'decimal', 'bool', 'object', 'array', 'javascriptWithScope',
]);

/** MongoDB cannot encrypt these with any algorithm: they carry no value worth hiding. */
export const NEVER_ENCRYPTED: ReadonlySet<BsonType> = new Set<BsonType>(['null', 'undefined', 'minKey', 'maxKey']);

/** Types a JavaScript number may be stored as; `number` alone says nothing about which. */
export const NUMBER_STORAGE: ReadonlySet<BsonType> = new Set<BsonType>(['double', 'int', 'long', 'decimal']);

// Identity checks against the driver's own classes, so a property typed `ObjectId` maps to 'objectId'.
const BY_CONSTRUCTOR = new Map<unknown, BsonType>([
  [String, 'string'],
  [Number, 'double'],
  [Boolean, 'bool'],
  [Date, 'date'],
  [RegExp, 'regex'],
  [Array, 'array'],
  [ObjectId, 'objectId'],
  [Binary, 'binData'],
  [Decimal128, 'decimal'],
  [Long, 'long'],
  [Int32, 'int'],
  [Double, 'double'],
  [Timestamp, 'timestamp'],
  [BSONRegExp, 'regex'],
  [Code, 'javascript'],
  [BSONSymbol, 'symbol'],
  [MinKey, 'minKey'],
  [MaxKey, 'maxKey'],
]);

/** The BSON type `design:type` implies, or undefined when it implies nothing (Object, interfaces, unions). */
export function inferBsonType(designType: unknown): BsonType | undefined {
  if (typeof designType !== 'function') return undefined;
  const direct = BY_CONSTRUCTOR.get(designType);
  if (direct) return direct;
  // Subclasses such as UUID (a Binary) keep their base type.
  for (const [ctor, type] of BY_CONSTRUCTOR) {
    if (typeof ctor === 'function' && ctor !== Object && designType.prototype instanceof ctor) return type;
  }
  return undefined;
}

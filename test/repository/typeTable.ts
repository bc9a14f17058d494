/**
 * The declared-type table the repository tests run over: for each bsonType a value to write
 * (in the JavaScript form a caller most likely has), what a read must return, and a random
 * generator for the property-based round trips. docs/models.md documents the same table.
 */
import fc from 'fast-check';
import { Binary, BSON, BSONSymbol, Code, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { ArrayField, Encrypted, Field, Id, Model } from '../../src/metadata';
import type { Algorithm, BsonType } from '../../src/metadata/types';
import { DETERMINISTIC_REFUSED } from '../../src/metadata/bsonTypes';
import { toDeclaredBson } from '../../src/repository/encoding/values';
import type { Feature } from '../harness/features';

export interface TypeCase {
  type: BsonType;
  /** What a caller writes. */
  input: () => unknown;
  /** The JavaScript type a read returns, in words and as a check. */
  reads: string;
  isRead: (value: unknown) => boolean;
  arbitrary: fc.Arbitrary<unknown>;
  /** A server feature storing this type unencrypted needs. */
  plainNeeds?: Feature;
  /** Never encrypted (MongoDB refuses it with any algorithm). */
  plainOnly?: boolean;
}

const isPlainObject = (v: unknown) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

export const TYPE_CASES: TypeCase[] = [
  { type: 'string', input: () => 'Grace Hopper', reads: 'string', isRead: (v) => typeof v === 'string', arbitrary: fc.string() },
  { type: 'int', input: () => 42, reads: 'number', isRead: (v) => typeof v === 'number', arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { type: 'long', input: () => 5, reads: 'Long', isRead: (v) => v instanceof Long,
    arbitrary: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.maxSafeInteger()) },
  { type: 'double', input: () => 2, reads: 'number', isRead: (v) => typeof v === 'number', arbitrary: fc.double() },
  { type: 'decimal', input: () => Decimal128.fromString('12.34'), reads: 'Decimal128', isRead: (v) => v instanceof Decimal128, plainNeeds: 'exoticPlainTypes',
    arbitrary: fc.tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.nat(30)).map(([d, e]) => Decimal128.fromString(`${d}E-${e}`)) },
  { type: 'bool', input: () => true, reads: 'boolean', isRead: (v) => typeof v === 'boolean', arbitrary: fc.boolean() },
  { type: 'date', input: () => new Date('2024-02-29T12:34:56.789Z'), reads: 'Date', isRead: (v) => v instanceof Date, arbitrary: fc.date({ noInvalidDate: true }) },
  { type: 'objectId', input: () => new ObjectId(), reads: 'ObjectId', isRead: (v) => v instanceof ObjectId,
    arbitrary: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(Buffer.from(b))) },
  { type: 'binData', input: () => Buffer.from('raw bytes'), reads: 'Binary', isRead: (v) => v instanceof Binary,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(0, 4, 5, 128)).map(([b, sub]) => new Binary(Buffer.from(sub === 4 ? Buffer.alloc(16, 7) : b), sub)) },
  { type: 'object', input: () => ({ street: '1 Main St', floor: 3 }), reads: 'plain object', isRead: isPlainObject,
    arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !k.includes('.') && !k.startsWith('$') && !k.includes('\0') && !['__proto__', 'constructor', 'prototype'].includes(k)), fc.oneof(fc.string(), fc.integer(), fc.boolean())) },
  { type: 'array', input: () => ['a', 'b'], reads: 'array', isRead: Array.isArray, arbitrary: fc.array(fc.string(), { maxLength: 5 }) },
  { type: 'timestamp', input: () => new Timestamp({ t: 1700000000, i: 7 }), reads: 'Timestamp', isRead: (v) => v instanceof Timestamp,
    arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([t, i]) => new Timestamp({ t, i })) },
  { type: 'regex', input: () => /ab+c/i, reads: 'RegExp', isRead: (v) => v instanceof RegExp,
    arbitrary: fc.tuple(fc.constantFrom('a+', '^x.*y$', '[0-9]{3}', 'plain'), fc.constantFrom('', 'i', 'm', 'im')).map(([s, f]) => new RegExp(s, f)) },
  { type: 'javascript', input: () => new Code('function () { return 1; }'), reads: 'Code', isRead: (v) => v instanceof Code && v.scope == null, plainNeeds: 'exoticPlainTypes',
    arbitrary: fc.string().map((s) => new Code(s)) },
  { type: 'javascriptWithScope', input: () => new Code('function () { return x; }', { x: 1 }), reads: 'Code (with scope)', isRead: (v) => v instanceof Code && v.scope != null, plainNeeds: 'exoticPlainTypes',
    arbitrary: fc.tuple(fc.string(), fc.integer()).map(([s, x]) => new Code(s, { x })) },
  { type: 'symbol', input: () => new BSONSymbol('sym'), reads: 'BSONSymbol', isRead: (v) => v instanceof BSONSymbol, plainNeeds: 'exoticPlainTypes',
    arbitrary: fc.string().map((s) => new BSONSymbol(s)) },
  { type: 'minKey', input: () => new MinKey(), reads: 'MinKey', isRead: (v) => v instanceof MinKey, plainNeeds: 'exoticPlainTypes', plainOnly: true, arbitrary: fc.constant(new MinKey()) },
  { type: 'maxKey', input: () => new MaxKey(), reads: 'MaxKey', isRead: (v) => v instanceof MaxKey, plainNeeds: 'exoticPlainTypes', plainOnly: true, arbitrary: fc.constant(new MaxKey()) },
];

export type Storage = 'plain' | Algorithm;

/** The storages a type can have: plain always, Deterministic and Random where MongoDB allows them. */
export function storagesOf(c: TypeCase): Storage[] {
  if (c.plainOnly) return ['plain'];
  return DETERMINISTIC_REFUSED.has(c.type) ? ['plain', 'Random'] : ['plain', 'Deterministic', 'Random'];
}

export const fieldName = (storage: Storage, type: BsonType) => `${storage}_${type}`;

/** A model with one optional field per (storage, type), decorated by hand as TypeScript would. */
export function defineTypedModel(db: string, collection: string) {
  class Typed { _id!: ObjectId; }
  const proto = Typed.prototype as object;
  Id()(proto, '_id');
  for (const c of TYPE_CASES) {
    for (const storage of storagesOf(c)) {
      const name = fieldName(storage, c.type);
      if (storage !== 'plain') Encrypted({ algorithm: storage, bsonType: c.type, optional: true } as never)(proto as never, name as never);
      else if (c.type === 'array') ArrayField({ of: 'string', optional: true })(proto, name);
      else Field({ bsonType: c.type, optional: true })(proto, name);
    }
  }
  Model({ db, collection, keyAltName: 'types' })(Typed);
  return Typed;
}

/** The exact BSON a value of the declared type stores as: equal bytes mean equal type and value. */
export function canonical(value: unknown, type: BsonType): string {
  const declared = type === 'array' ? { bsonType: type, itemBsonType: 'string' as const } : { bsonType: type };
  return Buffer.from(BSON.serialize({ v: toDeclaredBson(value, declared, 'v') })).toString('hex');
}

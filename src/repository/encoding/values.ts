import * as driver from 'mongodb';
import { detachedAs, valuesInsideBson } from '../../bson/documents';
import { isEncryptedBinary } from '../../crypto/blob';
import type { DeclaredType } from '../../metadata/storedForm';
import type { BsonType } from '../../metadata/types';
import { isMarkerCopy, UndecryptableValue } from '../../stored/undecryptable';
import { assertMapKey, assertWritableKey, assertWritablePattern, invalid, isPlainObject, readAsWritten } from './guards';

/*
 * js-bson's classes, read once: the driver re-exports them through getters (its CommonJS index),
 * and every declared value written or read is tested against them.
 */
const { Binary, BSONRegExp, BSONSymbol, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } = driver;

/*
 * The one place that knows, for each declared bsonType, which JavaScript values a write accepts,
 * which BSON value they become, and which JavaScript type a read returns. Writes and reads agree,
 * so a value read and written back keeps its stored type (the BSON type byte inside a
 * Deterministic ciphertext decides whether an equality query still matches it).
 */

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Regular-expression flags js-bson writes and reads back unchanged. */
const FAITHFUL_REGEX_FLAGS = /^[im]*$/;

/**
 * Checks a value written into a field of declared type and returns the BSON value to store (or
 * encrypt): JavaScript numbers and bigints become the declared number type, anything else must
 * already be of that type. Ciphertext and UndecryptableValue markers are refused whatever the type.
 */
export function toDeclaredBson(value: unknown, declared: DeclaredType, where: string): unknown {
  refuseProvenance(value, where);
  const { bsonType } = declared;
  if (bsonType === undefined || bsonType === 'object') {
    if (bsonType === 'object' && !isPlainObject(value)) throw wrongType(where, bsonType, value);
    const sent = freeFormValue(value, where);
    // A toBSON on the object says what is written: that must be a document too.
    if (bsonType === 'object' && !isPlainObject(sent)) throw wrongType(where, bsonType, sent);
    return sent;
  }
  if (bsonType === 'array') {
    if (!Array.isArray(value)) throw wrongType(where, bsonType, value);
    if (declared.itemBsonType === undefined) {
      const sent = freeFormValue(value, where);
      // A toBSON on the array (its own, or an Array subclass's) says what is written: that must be an array too.
      if (!Array.isArray(sent)) throw wrongType(where, bsonType, sent);
      return sent;
    }
    // A plain array (Array.from, not map, which would keep an Array subclass and its toBSON).
    return Array.from(value, (item, i) => toDeclaredBson(item, { bsonType: declared.itemBsonType }, `${where}.${i}`));
  }
  return toScalar(value, bsonType, where);
}

/**
 * A value of a declared BSON class is stored as that class: BSON writes an object as its
 * `_bsontype` says (a subclass of ObjectId may say MaxKey) or as its `toBSON` returns, whatever
 * class it is an instance of. So the value must be an instance of the class that BSON writes as
 * that class, and what is sent is a fresh value of the driver's own class built from its fields,
 * each read once: no subclass getter, `toBSON` or `_bsontype` of the caller's object reaches the
 * command. Undefined when `value` is not such a value.
 */
function genuine<C extends object>(value: unknown, cls: abstract new (...args: never[]) => C): C | undefined {
  if (!writtenAs(value, cls)) return undefined;
  let fresh: unknown;
  try {
    fresh = detachedAs(tagOf(cls), value, (inner) => inner);
  } catch {
    // A field the class's constructor refuses (a Decimal128 of 15 bytes, a Timestamp's t beyond 32 bits): no such value exists.
    return undefined;
  }
  return fresh instanceof cls ? fresh : undefined;
}

/** The `_bsontype` BSON writes a value of the driver's class `cls` by. */
function tagOf(cls: abstract new (...args: never[]) => object): string {
  return (cls.prototype as { _bsontype: string })._bsontype;
}

/** Whether `value` is an instance of `cls` that BSON writes as one (its `_bsontype`, read once, is the class's own). */
function writtenAs<C extends object>(value: unknown, cls: abstract new (...args: never[]) => C): value is C {
  return value instanceof cls && (value as { _bsontype?: unknown })._bsontype === tagOf(cls);
}

/** genuine(value, cls), or the wrong-type refusal. */
function declaredClass<C extends object>(value: unknown, cls: abstract new (...args: never[]) => C, bsonType: BsonType, where: string): C {
  const fresh = genuine(value, cls);
  if (fresh === undefined) throw wrongType(where, bsonType, value);
  return fresh;
}

function toScalar(value: unknown, bsonType: BsonType, where: string): unknown {
  switch (bsonType) {
    case 'string': return expect(typeof value === 'string', value, bsonType, where);
    case 'bool': return expect(typeof value === 'boolean', value, bsonType, where);
    case 'date':
      if (!(value instanceof Date)) throw wrongType(where, bsonType, value);
      if (Number.isNaN(value.getTime())) throw outOfRange(where, bsonType, 'an Invalid Date');
      // A copy: the caller's Date could be changed (to an Invalid Date) after this check and before the value is encrypted or sent.
      return new Date(value.getTime());
    case 'objectId': return declaredClass(value, ObjectId, bsonType, where);
    case 'binData':
      // Its subtype and length as checked (a subtype changed to 6 later would pass for ciphertext); the bytes are not copied.
      if (value instanceof Binary) {
        // Checked, not copied (genuine would copy the bytes, which can be megabytes): a fresh Binary over them.
        if (!writtenAs(value, Binary)) throw wrongType(where, bsonType, value);
        return new Binary(value.buffer.subarray(0, value.position), value.sub_type);
      }
      if (value instanceof Uint8Array) return new Binary(value);
      throw wrongType(where, bsonType, value);
    case 'int': return value instanceof Int32 ? declaredClass(value, Int32, bsonType, where) : toInt32(value, where);
    // A Timestamp is a Long in js-bson, written as a timestamp: not genuine.
    case 'long': return value instanceof Long ? declaredClass(value, Long, bsonType, where) : toLong(value, where);
    case 'double':
      if (typeof value === 'number') return new Double(value);
      return declaredClass(value, Double, bsonType, where);
    case 'decimal': return declaredClass(value, Decimal128, bsonType, where);
    case 'timestamp': return declaredClass(value, Timestamp, bsonType, where);
    case 'regex': return toRegex(value, where);
    case 'javascript': {
      const code = genuine(value, Code);
      return expect(code !== undefined && code.scope == null, code ?? value, bsonType, where);
    }
    case 'javascriptWithScope': {
      if (!writtenAs(value, Code)) throw wrongType(where, bsonType, value);
      // Read once, as a free-form value: its scope is checked and copied.
      const sent = freeFormValue(value, where);
      if (!(sent instanceof Code) || sent.scope == null) throw wrongType(where, bsonType, value);
      return sent;
    }
    case 'symbol': return declaredClass(value, BSONSymbol, bsonType, where);
    case 'minKey': return declaredClass(value, MinKey, bsonType, where);
    case 'maxKey': return declaredClass(value, MaxKey, bsonType, where);
    // Metadata refuses the remaining types ('null', 'undefined', 'dbPointer') or treats null as absence.
    default: throw wrongType(where, bsonType, value);
  }
}

function toInt32(value: unknown, where: string): driver.Int32 {
  if (typeof value === 'number' || typeof value === 'bigint') {
    const n = Number(value);
    if (!Number.isInteger(n)) throw outOfRange(where, 'int', 'a number that is not an integer');
    if (n < INT32_MIN || n > INT32_MAX) throw outOfRange(where, 'int', 'an integer outside the 32-bit range');
    return new Int32(n);
  }
  throw wrongType(where, 'int', value);
}

function toLong(value: unknown, where: string): driver.Long {
  if (typeof value === 'bigint') {
    // Long.fromBigInt keeps the low 64 bits: 2n ** 64n + 5n would silently become 5.
    if (value < INT64_MIN || value > INT64_MAX) throw outOfRange(where, 'long', 'a bigint outside the 64-bit range');
    return Long.fromBigInt(value);
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw outOfRange(where, 'long', 'a number that is not an integer');
    // Above 2^53 a JavaScript number has already lost digits: the caller must say which integer with a bigint.
    if (!Number.isSafeInteger(value)) throw outOfRange(where, 'long', 'a number beyond Number.MAX_SAFE_INTEGER (pass a bigint)');
    return Long.fromNumber(value);
  }
  throw wrongType(where, 'long', value);
}

function toRegex(value: unknown, where: string): RegExp | driver.BSONRegExp {
  // A fresh value, as for the BSON classes (see genuine): a RegExp's source and flags, each read once.
  let fresh: RegExp | driver.BSONRegExp | undefined;
  try {
    fresh = value instanceof RegExp ? new RegExp(value.source, value.flags) : genuine(value, BSONRegExp);
  } catch {
    // A subclass whose source or flags no regular expression has.
    fresh = undefined;
  }
  if (fresh === undefined) throw wrongType(where, 'regex', value);
  assertWritablePattern(fresh, where);
  if (!FAITHFUL_REGEX_FLAGS.test(fresh instanceof RegExp ? fresh.flags : fresh.options)) {
    throw invalid('INPUT_OUT_OF_RANGE', `${where} is declared as regex but got a regular expression with flags other than i and m, which js-bson does not store and read back unchanged.`,
      'use only the i and m flags.');
  }
  return fresh;
}

/** A number as BSON writes one (a JavaScript number or bigint, or a BSON number class); `integers` only: no fraction, no double or decimal. */
export function isNumber(value: unknown, integers = false): boolean {
  if (typeof value === 'number') return !integers || Number.isInteger(value);
  if (typeof value === 'bigint') return true;
  const type = (value as { _bsontype?: string } | null)?._bsontype;
  return type === 'Int32' || type === 'Long' || (!integers && (type === 'Double' || type === 'Decimal128'));
}

/**
 * The operand of $inc or $mul on a double or decimal field, in the field's own type. Arithmetic
 * keeps the wider type (MongoDB manual, "$inc"), so any narrower number fits; on a missing field
 * the server stores the operand itself ($inc) or a zero of its type ($mul), so it is sent as the
 * declared type. A Decimal128 into a double field would make it a decimal: refused. Anything that
 * is not a number is returned as it is, for the declared-type check to refuse.
 */
export function arithmeticOperand(value: unknown, bsonType: 'double' | 'decimal', where: string): unknown {
  const type = (value as { _bsontype?: string } | null)?._bsontype;
  const number = isNumber(value) && type !== 'Decimal128';
  if (bsonType === 'double') {
    if (type === 'Decimal128') throw invalid('INPUT_WRONG_TYPE', `${where} with a Decimal128 would store a decimal in a field declared as double.`, 'pass a number.');
    return number ? Number(value) : value;
  }
  // The number as written in decimal (0.1, not the binary double's expansion), as the caller means it.
  return number ? Decimal128.fromString(String(type === 'Int32' || type === 'Double' ? (value as { valueOf(): number }).valueOf() : value)) : value;
}

/**
 * Checks a value compared with a plain declared field in a filter ($eq, $ne, $in, $nin, ranges):
 * a value of another type could only ever match nothing. `null` (matches a missing field) and a
 * regular expression against a string field (a pattern match) are values of any field; for an
 * array field, a single element compares with the elements. Returns the value in the declared
 * BSON type, which compares as the given one does (MongoDB compares numbers across numeric types)
 * and is what an upsert stores from an equality: 5 for a long field is sent as a Long.
 */
export function checkFilterValue(field: DeclaredType & { isArray?: boolean }, value: unknown, where: string): unknown {
  if (value === null || field.bsonType === undefined || field.bsonType === 'object') return value;
  if ((value instanceof RegExp || value instanceof BSONRegExp) && (field.bsonType === 'string' || field.itemBsonType === 'string')) return value;
  if (field.bsonType === 'array' && !Array.isArray(value)) {
    return field.itemBsonType === undefined ? value : toDeclaredBson(value, { bsonType: field.itemBsonType }, where);
  }
  return toDeclaredBson(value, field, where);
}

/** Ciphertext or a marker where a plaintext value belongs: never stored, whatever the field. */
export function refuseProvenance(value: unknown, where: string): void {
  if (value instanceof UndecryptableValue) {
    throw invalid('INPUT_UNDECRYPTABLE_WRITE_BACK', `${where} holds an UndecryptableValue (a value that could not be decrypted when it was read); writing it would replace the stored ciphertext, which may still be recoverable.`,
      'leave the field out of the write (updateOne with $set of the other fields), or set a real value.');
  }
  if (isMarkerCopy(value)) {
    throw invalid('INPUT_UNDECRYPTABLE_WRITE_BACK', `${where} holds a copy of an UndecryptableValue (a value carrying a marker's mark \`undecryptable: true\` or its toBSON, as a spread, Object.assign or a JSON round trip makes of one); writing it would replace the stored value with the marker's description.`,
      'put the marker itself back, leave the field out of the write, or set a real value.');
  }
  if (isEncryptedBinary(value)) {
    throw invalid('INPUT_CIPHERTEXT_GIVEN', `${where} received an encrypted Binary (subtype 6); Strongbox never stores ciphertext it did not produce for this field and document (it may be another field's or another key's).`,
      'pass the plaintext value; Strongbox encrypts it.');
  }
}

/**
 * A free-form value (a field encrypted whole without a declared type, a free-form object or untyped
 * array, a Code's scope) as it is sent: refuseProvenance for it and everything inside it, and every object
 * BSON would read through its own rules — a class instance (its fields), an object with toBSON
 * (what that returns) — read once, as BSON writes it (readAsWritten), so that what was checked is
 * what is sent (a getter or a toBSON read again by the driver could answer something else). The
 * value itself when nothing inside needed reading; containers are copied only along a path that
 * did. Errors name `where`, never a key inside the value: keys of a value encrypted whole are its
 * plaintext. A cycle of arrays, plain objects and Maps is not followed: BSON serialization refuses
 * it next, with its own error.
 */
export function freeFormValue(value: unknown, where: string, ancestors: object[] = []): unknown {
  refuseProvenance(value, where);
  if (value === null || typeof value !== 'object' || ancestors.includes(value) || value instanceof UndecryptableValue) return value;
  // BSON writes what a toBSON returns, whatever the object carrying it (a Map, an array, a Date):
  // read once, as written, then checked.
  if (typeof (value as { toBSON?: unknown }).toBSON === 'function') return writtenAndChecked(value, where, ancestors);
  assertWritablePattern(value, where);
  if (value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  ancestors.push(value);
  try {
    return freeFormInside(value, where, ancestors);
  } finally {
    ancestors.pop();
  }
}

function freeFormInside(value: object, where: string, ancestors: object[]): unknown {
  /** Each item checked; the same container when none changed, else a copy built by `rebuild`. */
  const items = <T>(entries: Array<[T, unknown]>, rebuild: (entries: Array<[T, unknown]>) => unknown): unknown => {
    let changed = false;
    const out = entries.map(([key, item]): [T, unknown] => {
      // Every key BSON would write here (an object literal's, a Map's, a DBRef's field names), checked before any is sent.
      if (typeof key === 'string') assertWritableKey(key, where);
      const sent = freeFormValue(item, where, ancestors);
      if (sent !== item) changed = true;
      return [key, sent];
    });
    return changed ? rebuild(out) : value;
  };
  if (Array.isArray(value)) return items(value.map((item, i): [number, unknown] => [i, item]), (out) => out.map(([, item]) => item));
  // A Map is written as a document of its entries (a free-form value's copy keeps Maps, see snapshot).
  if (value instanceof Map) {
    const entries = [...value.entries()];
    for (const [key] of entries) assertMapKey(key, where);
    return items(entries, (out) => new Map(out));
  }
  const bsonType = (value as { _bsontype?: unknown })._bsontype;
  if (bsonType === 'Code') {
    // Each property read once (a getter could answer something else the next time).
    const code = value as InstanceType<typeof Code>;
    const given = code.scope;
    if (given == null) return value;
    return new Code(code.code, freeFormValue(given, where, ancestors) as driver.Document);
  }
  if (bsonType === 'DBRef') {
    const ref = value as driver.DBRef;
    // Its $id first, then its extra fields, as valuesInsideBson lists them.
    return items(valuesInsideBson(ref)!.map(([name, item]): [string, unknown] => [name, item]),
      (out) => new driver.DBRef(ref.collection, out[0][1] as driver.ObjectId, ref.db, Object.fromEntries(out.slice(1))));
  }
  if (bsonType !== undefined) return value;
  if (isPlainObject(value)) {
    return items(Object.keys(value).map((key): [string, unknown] => [key, value[key]]), (out) => {
      const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
      // defineProperty: a '__proto__' key stays a key instead of replacing the prototype.
      for (const [key, item] of out) Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
      return copy;
    });
  }
  // A class instance: read once, as written (its own enumerable fields), then checked.
  return writtenAndChecked(value, where, ancestors);
}

function writtenAndChecked(value: object, where: string, ancestors: object[]): unknown {
  return freeFormValue(readAsWritten(value, where), where, ancestors);
}


function expect(ok: boolean, value: unknown, bsonType: BsonType, where: string): unknown {
  if (!ok) throw wrongType(where, bsonType, value);
  return value;
}

function wrongType(where: string, bsonType: BsonType, value: unknown) {
  return invalid('INPUT_WRONG_TYPE', `${where} is declared as ${bsonType} but got ${describe(value)}.`, `pass ${ACCEPTED[bsonType] ?? `a ${bsonType} value`}.`);
}

function outOfRange(where: string, bsonType: BsonType, what: string) {
  return invalid('INPUT_OUT_OF_RANGE', `${where} is declared as ${bsonType} but got ${what}.`, `pass ${ACCEPTED[bsonType] ?? `a ${bsonType} value`}.`);
}

/** What each declared type accepts on write, for error messages (docs/models.md has the same table). */
const ACCEPTED: Partial<Record<BsonType, string>> = {
  string: 'a string',
  int: 'an integer from -2^31 to 2^31-1 (number, bigint or Int32)',
  long: 'a bigint in the 64-bit range, a safe integer number, or a Long',
  double: 'a number or a Double',
  decimal: 'a Decimal128',
  bool: 'a boolean',
  date: 'a valid Date',
  objectId: 'an ObjectId',
  binData: 'a Binary (not subtype 6), UUID or Uint8Array',
  object: 'a plain object',
  array: 'an array',
  timestamp: 'a Timestamp',
  regex: 'a RegExp or BSONRegExp with flags i/m only',
  javascript: 'a Code without scope',
  javascriptWithScope: 'a Code with a scope',
  symbol: 'a BSONSymbol',
  minKey: 'a MinKey',
  maxKey: 'a MaxKey',
};

/** Names a value's kind for error messages without echoing the value (it may be secret). */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    // Only a name Strongbox knows: an object literal's own `constructor` property (or a
    // prototype's) is the caller's data and may hold anything, a secret included.
    const proto = Object.getPrototypeOf(value);
    const ctor = proto !== null && Object.prototype.hasOwnProperty.call(proto, 'constructor') ? proto.constructor : undefined;
    const name = typeof ctor === 'function' ? ctor.name : undefined;
    return name !== undefined && KNOWN_CLASSES.has(name) ? `a ${name}` : proto === Object.prototype || proto === null ? 'an object' : 'an instance of a class';
  }
  return `a ${typeof value}`;
}

/** Class names an error may name: JavaScript's built-ins and the BSON value classes. */
const KNOWN_CLASSES = new Set([
  'Date', 'RegExp', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'Error', 'Buffer', 'ArrayBuffer', 'DataView',
  'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  'String', 'Number', 'Boolean', 'Symbol', 'Function',
  'ObjectId', 'Binary', 'UUID', 'Long', 'Int32', 'Double', 'Decimal128', 'Timestamp', 'BSONRegExp', 'BSONSymbol', 'Code', 'DBRef', 'MinKey', 'MaxKey',
  'UndecryptableValue',
]);

import { Binary, BSON, BSONRegExp, BSONSymbol, Code, DBRef, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID, type Document } from 'mongodb';
import { types } from 'node:util';
import { ownCopy, wipe } from './memory';

/**
 * Helpers on values as the driver hands them over, shared by every layer above; they know
 * nothing of models or encryption.
 */

/**
 * Serialization options that write values as the driver does: js-bson alone leaves an undefined
 * property out, the driver writes it as null (its ignoreUndefined defaults to false, and
 * createClient refuses to change it). Whatever Strongbox serializes itself (a value to encrypt,
 * a snapshot, a comparison) then agrees with what the driver sends.
 */
export const AS_THE_DRIVER_WRITES = { ignoreUndefined: false } as const;

/**
 * An object that can stand for a (sub)document: a plain object or an instance of an application
 * class (an entity, an embedded class). Not an array, a BSON value, or a built-in object whose
 * contents are not its own enumerable properties (a Date, RegExp, byte array, Map, Set, promise,
 * error or boxed primitive): walked as a document, one of those would be written as {} or as its
 * internals.
 */
export function isDocumentLike(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isBsonValue(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  // Most documents are object literals. (A built-in whose prototype the application replaced by Object.prototype passes here, as {}.)
  if (proto === Object.prototype || proto === null) return true;
  // Brand checks catch a built-in of a subclass or another realm; instanceof catches a Proxy of one, which has no brand.
  return !(types.isDate(value) || types.isRegExp(value) || types.isAnyArrayBuffer(value) || ArrayBuffer.isView(value) || types.isMap(value) || types.isSet(value)
    || types.isWeakMap(value) || types.isWeakSet(value) || types.isPromise(value) || types.isNativeError(value) || types.isBoxedPrimitive(value)
    || BUILT_INS.some((builtIn) => value instanceof builtIn));
}

/** Built-ins a document cannot be, by prototype chain (TypedArray: the common class of Uint8Array and the others). */
const BUILT_INS: ReadonlyArray<Function> = [
  Date, RegExp, ArrayBuffer, SharedArrayBuffer, Object.getPrototypeOf(Uint8Array) as Function, DataView, Map, Set, WeakMap, WeakSet, Promise, Error, String, Number, Boolean,
];

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
 * The values a BSON value holds inside it, with the names BSON stores them under, and where each
 * sits in the JavaScript object (holder and property): a DBRef's $id (its `oid`) and extra fields,
 * a Code's scope. Undefined for every other value. A scan for ciphertext in a document must look
 * there too, as the driver writes and reads them as subdocuments.
 */
export function valuesInsideBson(value: unknown): Array<[name: string, item: unknown, holder: Record<string, unknown>, property: string]> | undefined {
  const type = isBsonValue(value) ? (value as { _bsontype: string })._bsontype : undefined;
  if (type === 'DBRef') {
    const ref = value as { oid: unknown; fields?: Document };
    const fields = ref.fields ?? {};
    return [['$id', ref.oid, ref, 'oid'], ...Object.keys(fields).map((key): [string, unknown, Document, string] => [key, fields[key], fields, key])];
  }
  if (type === 'Code' && (value as { scope?: unknown }).scope != null) return [['$scope', (value as { scope: unknown }).scope, value as Record<string, unknown>, 'scope']];
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

/**
 * `value` (any object BSON can write: a class instance, a Map, an object with toBSON) read once,
 * as the driver would write it, into plain objects and arrays holding values BSON writes to the
 * same bytes: serialized once, then read back with each number as a JavaScript number where BSON
 * writes that number the same way (an int32, a fractional double) and as its BSON type where not
 * (a Double holding 2 would be written as an int32, a Long as an int32 or a double); or
 * NOT_AS_WRITTEN when no copy of plain values is written to the same bytes. A value read twice can
 * answer differently the second time (a getter, a change while a write is in flight); this copy
 * cannot.
 */
export function readAsBsonWrites(value: object): unknown {
  const serialized = BSON.serialize({ v: value }, AS_THE_DRIVER_WRITES);
  // The copy's binaries are views of the bytes it is read from: bytes of its own, not the shared
  // pool BSON serializes into, whose copies are wiped (the value may be an encrypted field's plaintext).
  const bytes = ownCopy(serialized);
  wipe(serialized);
  const copy = asNumbersWherever(BSON.deserialize(bytes, { promoteValues: false }).v);
  // Two documents come back with their keys in another order, so BSON would write the copy
  // differently: one whose number-like keys followed others (a Map's, a toBSON result's), which a
  // JavaScript object puts first, and one with $ref and $id keys, which BSON reads as a DBRef.
  const again = BSON.serialize({ v: copy }, AS_THE_DRIVER_WRITES);
  const same = Buffer.from(again.buffer, again.byteOffset, again.length).equals(bytes);
  wipe(again);
  return same ? copy : NOT_AS_WRITTEN;
}

/** What readAsBsonWrites returns for a value whose copy BSON would not write to the same bytes. */
export const NOT_AS_WRITTEN = Symbol('not as written');

/** The bounds within which js-bson writes an integral JavaScript number as an int32. */
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

function asNumbersWherever(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(asNumbersWherever);
  const type = (value as { _bsontype?: unknown })._bsontype;
  if (type === 'Int32') return (value as Int32).value;
  if (type === 'Double') {
    const number = (value as Double).value;
    return Math.floor(number) === number && number >= INT32_MIN && number <= INT32_MAX ? value : number;
  }
  if (type !== undefined || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Document = {};
  for (const key of Object.keys(value)) {
    const item = asNumbersWherever((value as Document)[key]);
    // As BSON reads it: '__proto__' is a key, not the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

/** ToInt32, as JavaScript's bitwise operators (and so BSON, writing a Long's halves) convert a value. */
function toInt32(value: unknown): number {
  return (value as number) | 0;
}

/** What detachedValue returns for a value whose own copy it does not know. */
export const NOT_DETACHED = Symbol('not detached');

/**
 * An ObjectId or Binary (as `bsonType` says it is written) with bytes of its own, equal to what
 * BSON writes for the original; their bytes can be changed in place (ObjectId's id setter, Binary's
 * write), so a value kept or sent later must not share them with the caller. NOT_DETACHED for an
 * ObjectId whose id was set to another length (only BSON knows what it writes for that).
 */
function detachedBytes(bsonType: 'ObjectId' | 'Binary', value: object): ObjectId | Binary | typeof NOT_DETACHED {
  if (bsonType === 'ObjectId') {
    const id = (value as ObjectId).id;
    if (!(id instanceof Uint8Array) || id.length !== 12) return NOT_DETACHED;
    // From Node's buffer pool: a Uint8Array of its own per id costs several times more.
    const bytes = Buffer.allocUnsafe(12);
    bytes.set(id);
    return new ObjectId(bytes);
  }
  if (value instanceof UUID && value.position === 16) return new UUID(new Uint8Array(value.buffer.subarray(0, 16)));
  // As BSON writes it: the first `position` bytes, under its subtype.
  return new Binary(new Uint8Array((value as Binary).buffer.subarray(0, (value as Binary).position)), (value as Binary).sub_type);
}

/**
 * A copy of a js-bson value or a Uint8Array (a Buffer stays a Buffer) that shares no state with
 * the original, whose fields can all be changed in place (a Long's low bits, a Decimal128's bytes,
 * a DBRef's oid): an input copied before a write must not follow changes the caller makes while
 * the write is in flight. Values inside (a Code's scope, a DBRef's oid and fields) are copied by
 * `inner`. NOT_DETACHED for any other value.
 */
export function detachedValue(value: object, inner: (value: unknown) => unknown): unknown {
  // In memory of its own, as the Uint8Array copy is: a copy from Node's shared pool would share it with ObjectIds and Binaries sent and received.
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? ownCopy(value) : new Uint8Array(value);
  return detachedAs((value as { _bsontype?: unknown })._bsontype, value, inner);
}

/**
 * detachedValue of a value BSON writes as `bsonType` (its `_bsontype`, read once by the caller): a
 * fresh value of that type, built from the original's fields, each read once. The copy is an
 * instance of the driver's own class, whatever class the original was: a subclass's getters,
 * `toBSON` or a `_bsontype` that answers otherwise on the next read do not come along.
 * NOT_DETACHED where no fresh value would equal what BSON writes for the original: an ObjectId
 * whose id has another length, an Int32 holding a fraction or a number beyond 32 bits.
 */
export function detachedAs(bsonType: unknown, value: object, inner: (value: unknown) => unknown): unknown {
  switch (bsonType) {
    case 'ObjectId': case 'Binary': return detachedBytes(bsonType, value);
    // Each half as BSON writes it (its bits, converted as JavaScript's bitwise operators convert), whatever it holds.
    case 'Long': { const long = value as Long; return new Long(toInt32(long.low), toInt32(long.high), long.unsigned === true); }
    case 'Timestamp': { const stamp = value as Timestamp; return new Timestamp({ t: stamp.t, i: stamp.i }); }
    case 'Int32': {
      const n = (value as Int32).value;
      // Int32's constructor keeps the low 32 bits of whatever it is given: a value changed in place to a
      // fraction or beyond the 32-bit range would come out as another number. Only BSON knows what it writes for that.
      return typeof n === 'number' && (n | 0) === n ? new Int32(n) : NOT_DETACHED;
    }
    case 'Double': return new Double((value as Double).value);
    case 'Decimal128': return new Decimal128(new Uint8Array((value as Decimal128).bytes));
    case 'BSONRegExp': return new BSONRegExp((value as BSONRegExp).pattern, (value as BSONRegExp).options);
    case 'BSONSymbol': {
      const text = (value as BSONSymbol).value;
      // BSON writes a symbol as a string: anything else fails in the driver's serializer, whose error quotes it.
      if (typeof text !== 'string') throw new TypeError('a BSONSymbol whose value is not a string');
      return new BSONSymbol(text);
    }
    case 'Code': {
      // Each property read once (a getter could answer something else the next time).
      const { code: source, scope } = value as Code;
      // The Code constructor would turn a function into its source, which BSON does not write: refused (as a TypeError, which writes report without the value).
      if (typeof source !== 'string') throw new TypeError('a Code value whose code is not a string');
      return new Code(source, scope == null ? scope : inner(scope) as Document);
    }
    case 'DBRef': { const ref = value as DBRef; return new DBRef(ref.collection, inner(ref.oid) as ObjectId, ref.db, inner(ref.fields) as Document); }
    // They hold nothing but their type.
    case 'MinKey': return new MinKey();
    case 'MaxKey': return new MaxKey();
    default: return NOT_DETACHED;
  }
}

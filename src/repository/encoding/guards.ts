import { detachedValue, isBsonValue, isDocumentLike, NOT_DETACHED, readAsBsonWrites } from '../../bson/documents';
import type { Document } from 'mongodb';
import type { CodeOf } from '../../errorCatalogue';
import { InvalidInputError } from '../../errors';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { UndecryptableValue } from '../../stored/undecryptable';

/** Keys that would reach Object.prototype or a constructor when copied onto plain objects. */
const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Refuses a polluting key, or a dotted path with a polluting segment ('meta.__proto__.x'). */
export function assertSafeKey(key: string, where: string): void {
  // Runs for every key written: a key without a dot is tested whole, without splitting it into an array.
  if (key.includes('.') ? key.split('.').some((segment) => POLLUTING_KEYS.has(segment)) : POLLUTING_KEYS.has(key)) {
    throw new InvalidInputError('INPUT_POLLUTING_KEY', `${where}: the key "${key}" is not allowed (it could pollute object prototypes).`, {
      fix: 'rename the field; if the key comes from user input, validate it before building the query.',
    });
  }
}

/** Own enumerable string keys, each checked against prototype pollution. */
export function safeEntries(value: object, where: string): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  for (const key of Object.keys(value)) {
    assertSafeKey(key, where);
    entries.push([key, (value as Record<string, unknown>)[key]]);
  }
  return entries;
}

/** An object literal (not a class instance such as a BSON value, a Date or a RegExp). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/**
 * A value where the application means a value (an $eq operand, a document's field, a $set value)
 * must not be operator-shaped: the server reads `{ $ne: null }` as an operator in some positions,
 * and a stored `$` key turns into one the day the value is put back into a filter.
 */
export function assertLiteral(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const item of value) assertLiteral(item, where);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const proto = Object.getPrototypeOf(value);
  // BSON values, dates and regular expressions are values whatever their fields are.
  if (proto !== Object.prototype && proto !== null) return;
  for (const key of Object.keys(value)) {
    assertSafeKey(key, where);
    if (key.startsWith('$')) {
      throw new InvalidInputError('INPUT_OPERATOR_IN_VALUE', `${where}: the value contains the key "${key}"; an operator is not allowed where a value belongs.`, {
        fix: 'pass plain values; if the value comes from user input, check that it has the type the model declares.',
      });
    }
    if (key.includes('.') || key.includes('\0')) {
      // A dotted key inside a value becomes a path the day the value is used as an update.
      throw new InvalidInputError('INPUT_KEY_IN_VALUE', `${where}: the value contains a key with ${key.includes('.') ? 'a dot' : 'a NUL character'}, which MongoDB would read as a path or refuse.`, {
        fix: 'use keys without dots; if the value comes from user input, check that it has the type the model declares.',
      });
    }
    assertLiteral((value as Record<string, unknown>)[key], where);
  }
}

export function invalid(code: CodeOf<'InvalidInputError'>, message: string, fix: string): InvalidInputError {
  return new InvalidInputError(code, message, { fix });
}

/** MongoDB nests documents at most 100 levels deep; input beyond that is refused before it is walked. */
const MAX_DEPTH = 120;

/**
 * The caller's argument read exactly once: plain objects and arrays are copied property by
 * property (own enumerable string keys, each read once), Dates, BSON values and byte arrays are
 * copied; everything else (RegExps, class instances, objects with toBSON, a session in options)
 * is kept as it is. The analysis, the key binding and the command then all see the same values,
 * however the input behaves when read again (getters, Proxies).
 *
 * With `shape`, `value` is a document of that model: it and every embedded document in it — a
 * plain object or an instance of a class, toBSON or not — are read as the encoder reads a
 * document (own enumerable keys, then each declared field behind a getter or non-enumerable) into
 * a plain object, and any other object in it (a class instance in a field the model leaves
 * free-form or encrypts whole, a Map, an object with toBSON) is read as BSON writes it (see
 * readAsBsonWrites). Nothing downstream (the encoder, the encryption, the change-tracking snapshot,
 * the entity) then reads an application object a second time, so none can see other values than
 * the command got.
 */
export function snapshot<T>(value: T, where: string, shape?: ModelShape): T {
  try {
    return copyOnce(value, 0, undefined, shape) as T;
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err;
    const at = err.top === undefined ? where : `${where}, in ${err.top},`;
    // Only on the way to an error: whether the value refers to itself says which error it is.
    if (holdsCycle(value, new Set(), 0)) throw invalid('INPUT_CYCLIC', `${at} refers to itself (a cyclic value), which cannot be encrypted or sent to MongoDB.`, 'pass a tree of plain values.');
    throw invalid('INPUT_TOO_DEEP', `${at} is nested more than ${MAX_DEPTH} levels deep; MongoDB accepts 100.`, 'flatten the value.');
  }
}

/** Thrown by copyOnce past MAX_DEPTH (a cycle gets there too); `top` is the top-level key it happened under. */
class TooDeep {
  constructor(readonly top: string | undefined) {}
}

/** Plain objects and arrays, the containers copyOnce copies; null for any other value. */
function containerKind(value: unknown): 'array' | 'object' | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) return 'array';
  if (!isPlainObject(value)) return null;
  // The driver writes what toBSON returns, enumerable or not: kept as it is, like a class instance.
  return typeof (value as { toBSON?: unknown }).toBSON === 'function' ? null : 'object';
}

/**
 * `top` is the top-level key the value sits under: errors name it, and nothing deeper, since keys
 * inside a value encrypted as a whole are plaintext the model protects. No record of ancestors is
 * kept: a cycle goes past MAX_DEPTH like any too deep value, and snapshot tells the two apart.
 */
/**
 * What copyOnce does with an object that is not a plain object, array, Date, BSON value or byte
 * array (a class instance, a Map, an object with toBSON): keep it (in a query, in options, in a field
 * whose declared type refuses it), read it as BSON writes it, or keep this value but read such
 * objects inside it (a free-form object or array, which must itself be a plain one).
 */
type OtherObjects = 'keep' | 'read' | 'inside';

function copyOnce(value: unknown, depth: number, top: string | undefined, shape?: ModelShape, others: OtherObjects = 'keep'): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Read once like the rest: a Date the caller changes later changes neither the checked value nor the entity.
  if (value instanceof Date) return new Date(value.getTime());
  if (shape !== undefined && isDocumentLike(value)) {
    if (depth > MAX_DEPTH) throw new TooDeep(top);
    return copyDocumentOnce(value, shape, depth, top);
  }
  const kind = containerKind(value);
  if (kind === null) {
    // BSON values and byte arrays get copies of their own (their fields can be changed in place).
    const own = isBsonValue(value) || value instanceof Uint8Array ? detachedValue(value, (inner) => copyOnce(inner, depth + 1, top)) : NOT_DETACHED;
    if (own !== NOT_DETACHED) return own;
    // In a value of a document being written that the model leaves free-form, it is read now, once,
    // as BSON writes it: the encryption, the command, the change-tracking snapshot and the entity
    // all get this copy, where each used to read the object again.
    // A marker of a value that could not be decrypted stays itself, for the encoder to refuse.
    return others === 'read' && !isBsonValue(value) && !(value instanceof UndecryptableValue) ? readAsBsonWrites(value) : value;
  }
  if (depth > MAX_DEPTH) throw new TooDeep(top);
  if (kind === 'array') {
    const length = (value as unknown[]).length;
    const items: unknown[] = new Array(length);
    // The items of an array of embedded documents are documents of the same shape.
    for (let i = 0; i < length; i++) items[i] = copyOnce((value as unknown[])[i], depth + 1, top, shape, others === 'keep' ? 'keep' : 'read');
    return items;
  }
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) {
    setCopied(copy, key, copyOnce((value as Record<string, unknown>)[key], depth + 1, top ?? key, undefined, others === 'keep' ? 'keep' : 'read'));
  }
  return copy;
}

/**
 * The values a write of `doc` sends: its own enumerable properties, plus every declared field
 * whose value sits behind a getter or a non-enumerable property (which a spread would drop).
 */
export function writtenValues(shape: ModelShape, doc: object): Document {
  const out: Document = { ...doc };
  for (const name of shape.fields.keys()) {
    if (!(name in out) && name in doc) out[name] = (doc as Record<string, unknown>)[name];
  }
  return out;
}

/** A document of `shape` read once (see writtenValues) into a plain object of copies. */
function copyDocumentOnce(value: object, shape: ModelShape, depth: number, top: string | undefined): Record<string, unknown> {
  const read = writtenValues(shape, value);
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Object.keys(read)) {
    const field = shape.fields.get(key);
    setCopied(copy, key, copyOnce(read[key], depth + 1, top ?? key, field?.embedded, field ? otherObjectsIn(field) : 'keep'));
  }
  return copy;
}

/**
 * A field declared without a type (a value encrypted whole) takes any value; a free-form object or
 * array must be a plain one, whatever is inside it; a field of any other declared type keeps its
 * value as it is, for the encoder to refuse what that type does not allow.
 */
function otherObjectsIn(field: FieldMetadata): OtherObjects {
  if (field.embedded) return 'keep';
  if (field.bsonType === undefined) return 'read';
  return field.bsonType === 'object' || (field.bsonType === 'array' && field.itemBsonType === undefined) ? 'inside' : 'keep';
}

function setCopied(copy: Record<string, unknown>, key: string, item: unknown): void {
  // defineProperty for '__proto__': it stays a key (the analysis refuses it by name) instead of replacing the prototype.
  if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
  else copy[key] = item;
}

/** Whether a container inside `value` contains itself (read again: only to name an error). */
function holdsCycle(value: unknown, ancestors: Set<object>, depth: number): boolean {
  const kind = containerKind(value);
  if (kind === null || depth > MAX_DEPTH) return false;
  if (ancestors.has(value as object)) return true;
  ancestors.add(value as object);
  const items = kind === 'array' ? value as unknown[] : Object.keys(value as object).map((key) => (value as Record<string, unknown>)[key]);
  const found = items.some((item) => holdsCycle(item, ancestors, depth + 1));
  ancestors.delete(value as object);
  return found;
}

import { detachedValue, isBsonValue, isDocumentLike, NOT_AS_WRITTEN, NOT_DETACHED, readAsBsonWrites } from '../../bson/documents';
import type { Document } from 'mongodb';
import type { CodeOf } from '../../errorCatalogue';
import { InvalidInputError, StrongboxError } from '../../errors';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { isMarkerCopy, UndecryptableValue } from '../../stored/undecryptable';

/** Keys that would reach Object.prototype or a constructor when copied onto plain objects. */
const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Refuses a polluting key, or a dotted path with a polluting segment ('meta.__proto__.x'), and a key BSON cannot write. */
export function assertSafeKey(key: string, where: string): void {
  assertWritableKey(key, where);
  // Runs for every key written: a key without a dot is tested whole, without splitting it into an array.
  if (key.includes('.') ? key.split('.').some((segment) => POLLUTING_KEYS.has(segment)) : POLLUTING_KEYS.has(key)) {
    throw new InvalidInputError('INPUT_POLLUTING_KEY', `${where}: the key "${key}" is not allowed (it could pollute object prototypes).`, {
      fix: 'rename the field; if the key comes from user input, validate it before building the query.',
    });
  }
}

/**
 * BSON writes keys and regular-expression patterns as C strings, which end at the first NUL: the
 * driver's serializer refuses one, with an untyped error quoting it. Refused first, unquoted.
 */
function nulCharacter(where: string, what: string): InvalidInputError {
  return new InvalidInputError('INPUT_NUL_CHARACTER', `${where}: ${what} holds a NUL character, which BSON cannot write; nothing was sent.`, {
    fix: 'leave the NUL character out (in a regular expression, match it with the escape \\x00 instead).',
  });
}

/** Refuses a key BSON cannot write. */
export function assertWritableKey(key: string, where: string): void {
  if (key.includes('\0')) throw nulCharacter(where, 'a key');
}

/**
 * Refuses a value sent as it is (an aggregation's $literal) that holds a key or a regular
 * expression BSON cannot write, in its arrays, object literals and Maps. Past MAX_DEPTH it stops:
 * BSON refuses a value that deep itself, without quoting it.
 */
export function assertWritableLiteral(value: unknown, where: string, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return;
  assertWritablePattern(value, where);
  if (Array.isArray(value)) {
    for (const item of value) assertWritableLiteral(item, where, depth + 1);
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      assertMapKey(key, where);
      assertWritableKey(key, where);
      assertWritableLiteral(item, where, depth + 1);
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      assertWritableKey(key, where);
      assertWritableLiteral(value[key], where, depth + 1);
    }
  }
}

/** Refuses a regular expression (RegExp or BSONRegExp) whose pattern BSON cannot write; any other value passes. */
export function assertWritablePattern(value: unknown, where: string): void {
  const pattern = value instanceof RegExp ? value.source : isBsonValue(value) && (value as { _bsontype?: unknown })._bsontype === 'BSONRegExp' ? (value as { pattern?: unknown }).pattern : undefined;
  if (typeof pattern === 'string') assertWritablePatternSource(pattern, where);
}

/** Refuses a regular expression's pattern, given as a string ({ $regex: '…' }), that BSON cannot write. */
export function assertWritablePatternSource(pattern: string, where: string): void {
  if (pattern.includes('\0')) throw nulCharacter(where, 'a regular expression\'s pattern');
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

/** The value a filter compares `key` with by a top-level equality (`{ key: v }` or `{ key: { $eq: v } }`); undefined otherwise. */
export function topLevelEquality(filter: unknown, key: string): unknown {
  if (!isPlainObject(filter)) return undefined;
  const condition = filter[key];
  return isOperatorObject(condition) ? (Object.keys(condition).length === 1 ? condition.$eq : undefined) : condition;
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
  // BSON writes a Map as a document of its entries: its keys are keys like an object literal's.
  if (value instanceof Map) {
    for (const [key, item] of value) {
      assertMapKey(key, where);
      assertLiteralKey(key, where);
      assertLiteral(item, where);
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  // BSON values, dates and regular expressions are values whatever their fields are.
  if (proto !== Object.prototype && proto !== null) {
    assertWritablePattern(value, where);
    return;
  }
  for (const key of Object.keys(value)) {
    assertLiteralKey(key, where);
    assertLiteral((value as Record<string, unknown>)[key], where);
  }
}

/** A Map's key BSON can write: a string (it writes a Map as a document of its entries). */
export function assertMapKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidInputError('INPUT_MALFORMED', `${where}: a Map holds a key that is not a string (a ${typeof key}); BSON writes a Map as a document, whose keys are strings; nothing was sent.`, {
      fix: 'use string keys, or pass an object literal.',
    });
  }
}

/** A key of a document inside a value: no operator, no path, nothing BSON cannot write or that reaches a prototype. */
export function assertLiteralKey(key: string, where: string): void {
  assertSafeKey(key, where);
  if (key.startsWith('$')) {
    // Unquoted: inside a value encrypted whole, the key is plaintext the model protects.
    throw new InvalidInputError('INPUT_OPERATOR_IN_VALUE', `${where}: the value contains a key starting with "$"; an operator is not allowed where a value belongs.`, {
      fix: 'pass plain values; if the value comes from user input, check that it has the type the model declares.',
    });
  }
  if (key.includes('.')) {
    // A dotted key inside a value becomes a path the day the value is used as an update.
    throw new InvalidInputError('INPUT_KEY_IN_VALUE', `${where}: the value contains a key with a dot, which MongoDB would read as a path.`, {
      fix: 'use keys without dots; if the value comes from user input, check that it has the type the model declares.',
    });
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
 * a plain object, and any other object where the model leaves the value free-form (see
 * readDepth: a class instance, an object with toBSON, a BSON value) is read as BSON writes it
 * (see readAsBsonWrites), a Map copied as a Map. Nothing downstream (the encoder, the encryption,
 * the change-tracking snapshot, the entity) then reads an application object a second time, so
 * none can see other values than the command got.
 */
export function snapshot<T>(value: T, where: string, shape?: ModelShape): T {
  return copied(value, where, shape, NEVER);
}

/**
 * A query (a filter, a pipeline, arrayFilters) read once, as BSON writes it: below its containers
 * (object literals and arrays), every object BSON writes otherwise than its own properties say —
 * one carrying a toBSON, a class instance, a Map — is replaced by its reading (see readAsValue), so
 * the analysis checks what the command will carry; a reading holding an operator is refused (the
 * caller wrote an object, not { $ne: null }). BSON values, Dates and regular expressions are
 * copied as in snapshot.
 */
export function queryCopy<T>(value: T, where: string): T {
  return copied(value, where, undefined, QUERY);
}

function copied<T>(value: T, where: string, shape: ModelShape | undefined, readAt: number): T {
  try {
    // A query's errors name the call and the top-level key (a query's keys are paths, not values encrypted whole).
    return copyOnce(value, 0, readAt === QUERY ? where : undefined, shape, readAt) as T;
  } catch (err) {
    if (!(err instanceof TooDeep)) throw err;
    const at = err.top === undefined || readAt === QUERY ? err.top ?? where : `${where}, in ${err.top},`;
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
 * How many levels below a value copyOnce starts reading any other object (a class instance, a
 * Map, an object with toBSON, a BSON value) as BSON writes it: 0 at the value itself (a field
 * encrypted whole without a declared type), 1 inside it (a free-form object or untyped array, which
 * must itself be a plain one), 2 inside its items (an array of free-form objects). NEVER in a
 * query, in options (a session stays itself) and in a field of another declared type, whose value
 * the encoder checks as given.
 */
const NEVER = Number.POSITIVE_INFINITY;

/** copyOnce's reading of a query: at every depth, as for a free-form value, Maps included (see queryCopy). */
const QUERY = Number.NEGATIVE_INFINITY;

/**
 * `top` is the top-level key the value sits under: errors name it, and nothing deeper, since keys
 * inside a value encrypted as a whole are plaintext the model protects. No record of ancestors is
 * kept: a cycle goes past MAX_DEPTH like any too deep value, and snapshot tells the two apart.
 */
function copyOnce(value: unknown, depth: number, top: string | undefined, shape?: ModelShape, readAt = NEVER): unknown {
  if (typeof value === 'bigint' && readAt !== NEVER && BigInt.asIntN(64, value) !== value) {
    // BSON would store its low 64 bits: another number than the application's. (A field declared
    // long refuses it by name, in the encoder.)
    throw invalid('INPUT_OUT_OF_RANGE', `${top ?? 'A value'} holds a bigint outside the 64-bit range BSON stores (a long); it would be stored as another number. Nothing was sent.`,
      'keep bigints between -(2n ** 63n) and 2n ** 63n - 1n, or store larger numbers as Decimal128 or strings.');
  }
  if (value === null || typeof value !== 'object') return value;
  // A document of the model is read by its fields, as the encoder reads one (a toBSON of its own is not what is stored).
  if (shape !== undefined && isDocumentLike(value)) {
    if (depth > MAX_DEPTH) throw new TooDeep(top);
    return copyDocumentOnce(value, shape, depth, top);
  }
  // BSON writes what a toBSON returns, whatever the object carrying it (a Map, an array, a Date, a
  // byte array), so it is never copied as its kind: where the model leaves the value free-form it
  // is read once, as written; elsewhere it is kept for the encoder, which reads it once (a marker
  // keeps its own toBSON, for the encoder to refuse).
  if (typeof (value as { toBSON?: unknown }).toBSON === 'function' && !(value instanceof UndecryptableValue)) {
    if (readAt === QUERY) return readAsValue(value, top);
    return readAt <= 0 ? readAsWritten(value, top) : value;
  }
  // Read once like the rest: a Date the caller changes later changes neither the checked value nor the entity.
  if (value instanceof Date) return new Date(value.getTime());
  // So is a RegExp (compile() changes one in place): its pattern and flags as read now.
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  const kind = containerKind(value);
  const inside = readAt - 1;
  if (kind === null) {
    // Where the model leaves the value free-form, read now, once, as BSON writes it: the
    // encryption, the command, the change-tracking snapshot and the entity all get this copy,
    // where each would read the object again (a getter, a Code's scope, a change in flight). A
    // marker of a value that could not be decrypted stays itself, for the encoder to refuse.
    // A Code's scope and a DBRef's fields are copied by their properties, each read once, the values
    // inside read as the rest of a free-form value (BSON itself reads a Code's scope several times).
    const holdsValues = (value as { _bsontype?: unknown })._bsontype === 'Code' || (value as { _bsontype?: unknown })._bsontype === 'DBRef';
    // (A query's BSON values are copied below, as everywhere: what BSON writes for them is what they say.)
    if (readAt <= 0 && !(value instanceof Uint8Array) && !holdsValues && !(readAt === QUERY && isBsonValue(value))) {
      if (value instanceof UndecryptableValue) return value;
      // A Map stays a Map, its entries in their order (BSON writes them in that order, which an object would not keep for number-like keys).
      // In a query it is read as written: its keys are then an object's, which the analysis checks like any other.
      if (value instanceof Map && readAt !== QUERY) {
        if (depth > MAX_DEPTH) throw new TooDeep(top);
        // Read through entries(), as BSON reads a Map.
        return new Map([...value.entries()].map(([key, item]) => [key, copyOnce(item, depth + 1, top, undefined, inside)]));
      }
      return readAt === QUERY ? readAsValue(value, top) : readAsWritten(value, top);
    }
    // BSON values and byte arrays get copies of their own (their fields can be changed in place); class instances are kept.
    const own = isBsonValue(value) || value instanceof Uint8Array ? detachedValue(value, (item) => copyOnce(item, depth + 1, top, undefined, inside)) : NOT_DETACHED;
    return own === NOT_DETACHED ? value : own;
  }
  if (depth > MAX_DEPTH) throw new TooDeep(top);
  if (kind === 'array') {
    const length = (value as unknown[]).length;
    const items: unknown[] = new Array(length);
    // The items of an array of embedded documents are documents of the same shape.
    for (let i = 0; i < length; i++) items[i] = copyOnce((value as unknown[])[i], depth + 1, top, shape, inside);
    return items;
  }
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) {
    const under = readAt === QUERY ? (depth === 0 ? `${top}, under ${key}` : top) : top ?? key;
    setCopied(copy, key, copyOnce((value as Record<string, unknown>)[key], depth + 1, under, undefined, inside));
  }
  return copy;
}

/**
 * readAsBsonWrites, refusing a value whose copy BSON would write differently, and one BSON cannot
 * write (a cycle inside a class instance, a Proxy of a Map, a toBSON that throws) without BSON's or
 * the toBSON's message, which may quote a key or a value encrypted whole. A refusal Strongbox
 * raised inside (a marker's toBSON) is passed on as it is.
 */
export function readAsWritten(value: object, where: string | undefined): unknown {
  // Its own data properties first (no getter runs): BSON writes no function, so a marker's toBSON
  // put there would vanish from the copy instead of being refused.
  for (const property of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (property.enumerable && 'value' in property && typeof property.value === 'function' && isMarkerCopy(property.value)) {
      throw invalid('INPUT_UNDECRYPTABLE_WRITE_BACK', `${where ?? 'A value'} holds the toBSON of an UndecryptableValue (a marker of a value that could not be decrypted), which would be dropped from what is written; nothing was sent.`,
        'leave the marker out of the write, or set a real value in its place.');
    }
  }
  let copy: unknown;
  try {
    copy = readAsBsonWrites(value);
  } catch (err) {
    if (err instanceof StrongboxError) throw err;
    throw invalid('INPUT_MALFORMED', `${where ?? 'A value'} holds an object BSON cannot write (${String((err as Error)?.name ?? 'Error')}; its message is withheld: it may quote the value); nothing was sent.`,
      'pass plain objects, arrays, Maps, Dates and BSON values, or a class instance BSON can write.');
  }
  if (copy !== NOT_AS_WRITTEN) return copy;
  throw invalid('INPUT_NOT_COPYABLE', `${where ?? 'A value'} holds a document whose keys could not be kept in their order when it was copied (a Map or toBSON result with number-like keys after others, or $ref / $id keys in another order than a DBRef's); nothing was sent.`,
    'give that document as an object literal, or put its number-like keys first.');
}

/**
 * An object a query or an update operator holds where a value belongs, which BSON writes otherwise
 * than its own properties say (one carrying a toBSON, a class instance, a Map): read once, as
 * written, and that reading must be a value — an operator or dotted key in it is refused, since the
 * caller wrote an object, not an operator (an ObjectId whose toBSON returns { $ne: null }, a $push
 * element whose toBSON returns { $each: … }). Any other value is returned as it is.
 */
export function readAsValue(value: unknown, where: string | undefined): unknown {
  if (value === null || typeof value !== 'object' || value instanceof UndecryptableValue) return value;
  // Whatever carries a toBSON (an array, a Date, a RegExp, a byte array too) is written as what it returns.
  if (typeof (value as { toBSON?: unknown }).toBSON !== 'function'
    && (Array.isArray(value) || isPlainObject(value) || value instanceof Date || value instanceof RegExp || value instanceof Uint8Array || isBsonValue(value))) return value;
  const read = readAsWritten(value, where);
  assertLiteral(read, where ?? 'A value');
  return read;
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

/**
 * A document of `shape` read once into a plain object of copies: the values writtenValues reads
 * (its own enumerable properties, then each declared field behind a getter or a non-enumerable
 * property), each read once, straight into the copy.
 */
function copyDocumentOnce(value: object, shape: ModelShape, depth: number, top: string | undefined): Record<string, unknown> {
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  const fields = shape.fields;
  const keys = Object.keys(source);
  let declaredKeys = 0;
  for (let i = 0; i < keys.length; i++) {
    if (fields.has(keys[i])) declaredKeys++;
    copyFieldOnce(copy, source, keys[i], fields, depth, top);
  }
  // Every declared field was an own enumerable key (keys are distinct): none is left to read by name.
  if (declaredKeys === fields.size) return copy;
  for (const name of fields.keys()) if (!(name in copy) && name in source) copyFieldOnce(copy, source, name, fields, depth, top);
  return copy;
}

/** One field of copyDocumentOnce: its value read once into the copy. */
function copyFieldOnce(copy: Record<string, unknown>, source: Record<string, unknown>, key: string, fields: ReadonlyMap<string, FieldMetadata>, depth: number, top: string | undefined): void {
  const item = source[key];
  // A string, a number or a boolean is itself its copy (most values of a document); a bigint is checked by copyOnce.
  const type = typeof item;
  if (type === 'string' || type === 'number' || type === 'boolean') setCopied(copy, key, item);
  else {
    const field = fields.get(key);
    setCopied(copy, key, copyOnce(item, depth + 1, top ?? key, field?.embedded, field === undefined ? NEVER : readDepth(field)));
  }
}

/**
 * Where a field's value is read as BSON writes it (see NEVER): a field declared without a type
 * (encrypted whole) takes any value; a free-form object or array must be a plain one, whatever is
 * inside it, and so must each item of an array of free-form objects; a Code's scope is free-form.
 */
function readDepth(field: FieldMetadata): number {
  if (field.embedded) return NEVER;
  switch (field.bsonType) {
    case undefined: return 0;
    case 'object': case 'javascriptWithScope': return 1;
    case 'array': return field.itemBsonType === undefined || field.itemBsonType === 'javascriptWithScope' ? 1 : field.itemBsonType === 'object' ? 2 : NEVER;
    default: return NEVER;
  }
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

import type { Document } from 'mongodb';
import { isDocumentLike } from '../../bson/documents';
import { EncryptionGroup } from '../../crypto/commandEncryptor';
import { StrongboxError } from '../../errors';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import type { DeclaredType } from '../../metadata/storedForm';
import type { FieldEncryptor } from './fieldEncryptor';
import { assertLiteral, assertSafeKey, invalid } from './guards';
import type { PathNames } from './pathResolver';
import { missingRequired } from './requiredFields';
import { describe, toDeclaredBson } from './values';

/** One walk over a value being written: the encryptions it started and the required fields it found empty. */
interface Walk {
  encryptor: FieldEncryptor;
  /** The model's class name, read once per walk (a function's name is a getter): error messages start with it. */
  model: string;
  root: Document;
  /** The encrypted values found, each with its place in the stored document; encrypted together once the walk is over. */
  group: EncryptionGroup;
  missing: string[];
}

/**
 * Turns a document of the model into what is stored: every declared field type-checked (numbers
 * converted to the declared number type), every encrypted field encrypted (all values of the
 * document concurrently), embedded documents and arrays walked, unknown fields refused, required
 * fields checked. The input is never modified; stored fields keep the input's order.
 *
 * Declared fields are read by name, so a value behind a getter or a non-enumerable property is
 * written like any other; own enumerable properties the model does not declare are refused.
 * null and undefined mean "no value": omitted for an optional field, refused for a required one.
 */
export function encodeDocument(encryptor: FieldEncryptor, shape: ModelShape, doc: unknown, root: Document, prefix = ''): Promise<Document> {
  return walkDocumentNow(encryptor, shape, doc, root, prefix)();
}

/**
 * The first half of encodeDocument: checks and copies the document at once (throwing on bad
 * input) and returns what encrypts it. A write of many documents walks them all before it
 * encrypts any, so one bad document leaves nothing encrypted.
 */
export function walkDocumentNow(encryptor: FieldEncryptor, shape: ModelShape, doc: unknown, root: Document, prefix = ''): () => Promise<Document> {
  return walked(encryptor, root, (walk) => walkDocument(walk, shape, doc, prefix));
}

/** One value of an update, as the analyzer left it for encoding (a DocumentMarking). */
export interface UpdateValue {
  readonly field: FieldMetadata;
  readonly path: string;
  readonly value: unknown;
  /** The stored document per-document keys come from; undefined where only fixed keys apply. */
  readonly keyRoot: Document | undefined;
  /** The field's whole value, one element pushed into (or set at a position of) an array field, or a value inside a free-form field. */
  readonly names: PathNames;
}

/**
 * Writes the stored form of one value of an update to `container[key]`: a $set value of an
 * embedded or encrypted field (null/undefined were turned into $unset before), or one document
 * pushed into an array of them (plain values were encoded by the analysis, see plainUpdateValue).
 * Its encrypted values join `group`, which the command encrypts once, with every other value it
 * holds, after its whole analysis.
 */
export function placeUpdateValue(encryptor: FieldEncryptor, group: EncryptionGroup, container: Document | unknown[], key: string | number, update: UpdateValue): void {
  const { field, path, value, keyRoot: root, names } = update;
  const slot = container as Document;
  if (names === 'element' && field.embedded) {
    slot[key] = walkInGroup(encryptor, group, root ?? {}, (walk) => walkDocument(walk, field.embedded!, value, `${path}.$`));
  } else {
    if (value === null || value === undefined) throw missingRequired(encryptor.model.target.name, [path]);
    walkInGroup(encryptor, group, root ?? {}, (walk) => place(walk, slot, String(key), field, path, value));
  }
}

/**
 * The stored form of one value of an update for a field with nothing inside to encrypt or walk
 * (neither encrypted nor embedded): checked and converted to its declared BSON type, which needs
 * no encryption pass, so the analysis does it at once. `model` names the model in errors.
 */
export function plainUpdateValue(model: string, update: UpdateValue): unknown {
  const { field, path, value, names } = update;
  const where = `${model}.${path}`;
  if (names === 'element') return plainValue(value, field.itemBsonType === undefined ? {} : { bsonType: field.itemBsonType }, where);
  // A path below a free-form object ('meta.x') resolves to the object's field: its value is not the field's.
  if (names === 'inside') return plainValue(value, {}, where);
  if (value === null || value === undefined) throw missingRequired(model, [path]);
  return plainValue(value, field, where);
}

/**
 * A value of a field that is neither embedded nor encrypted, checked and converted to its declared
 * type. A plain value must be a literal (no operator or dotted key), and so must what BSON writes
 * for it when that is another object (a free-form object's toBSON returning { $ne: … }); a value
 * encrypted whole may hold any key, which only the encryption sees.
 */
function plainValue(value: unknown, declared: DeclaredType, where: string): unknown {
  // Only objects can hold operators.
  if (typeof value !== 'object' || value === null) return toDeclaredBson(value, declared, where);
  assertLiteral(value, where);
  const sent = toDeclaredBson(value, declared, where);
  // Only a free-form value is read as written (a toBSON, a class instance): what a declared type converts is a value.
  if (sent !== value && readsAsWritten(declared)) assertLiteral(sent, where);
  return sent;
}

function readsAsWritten(declared: DeclaredType): boolean {
  const free = (type: string | undefined) => type === undefined || type === 'object' || type === 'javascriptWithScope';
  return free(declared.bsonType) || (declared.bsonType === 'array' && free(declared.itemBsonType));
}

/**
 * Runs a synchronous walk now and returns what encrypts the values it found, in one group. Only
 * encryption is asynchronous: walking, checking and copying a document without encrypted fields
 * costs no promise per field or per embedded document, and nothing starts before the walk is
 * over, so a walk stopped by bad input leaves nothing running.
 */
function walked<T>(encryptor: FieldEncryptor, root: Document, run: (walk: Walk) => T): () => Promise<T> {
  const group = new EncryptionGroup();
  const result = walkInGroup(encryptor, group, root, run);
  return async () => {
    if (group.items.length > 0 || group.hasFailed) await encryptor.encryptGroup(group);
    return result;
  };
}

/** Runs a synchronous walk whose encrypted values join `group`; throws at once on bad input. */
function walkInGroup<T>(encryptor: FieldEncryptor, group: EncryptionGroup, root: Document, run: (walk: Walk) => T): T {
  const walk: Walk = { encryptor, model: encryptor.model.target.name, root, group, missing: [] };
  const result = run(walk);
  if (walk.missing.length) throw missingRequired(encryptor.model.target.name, walk.missing);
  // A key that could not be named is known now: the write stops here, before any document of it is encrypted.
  if (group.hasFailed) throw group.failure;
  return result;
}

function walkDocument(walk: Walk, shape: ModelShape, doc: unknown, prefix: string): Document {
  const model = walk.model;
  const where = prefix ? `${model}.${prefix}` : model;
  if (!isDocumentLike(doc)) {
    throw invalid('INPUT_NOT_A_DOCUMENT', `${where} must be a document (an object with the model's fields), not ${describe(doc)}.`, 'pass an object with the model\'s fields.');
  }
  const source = doc as Record<string, unknown>;
  const out: Document = {};
  let declaredKeys = 0;
  for (const key of Object.keys(source)) {
    const field = shape.fields.get(key);
    // A declared field's name was checked when the model was defined (no $, dot, NUL or prototype name).
    if (!field) assertSafeKey(key, where);
    if (field) {
      declaredKeys++;
      const value = source[key];
      if (storedAsGiven(field, value)) out[key] = value;
      else put(walk, out, field, prefix ? `${prefix}.${key}` : key, value);
    } else if (key === '_id' && !prefix) {
      if (source[key] !== undefined) { assertLiteral(source[key], `${model}._id`); out[key] = source[key]; }
    } else {
      throw invalid('INPUT_UNKNOWN_FIELD', `${model} has no field "${prefix ? `${prefix}.${key}` : key}".`, `declare it on the model (@Field, @Embedded, @Encrypted) or remove it from the document.`);
    }
  }
  // Every declared field was an own enumerable key (keys are distinct): none is left to read by name.
  if (declaredKeys === shape.fields.size) return out;
  for (const field of shape.fields.values()) {
    if (Object.prototype.propertyIsEnumerable.call(source, field.name)) continue;
    // A getter (own or inherited) or a non-enumerable property: read by name, like any declared field.
    put(walk, out, field, prefix ? `${prefix}.${field.name}` : field.name, source[field.name]);
  }
  return out;
}

/**
 * The most common values of all, which place() would store unchanged after checks they always
 * pass: a string of a plain string field, a boolean of a plain bool field, and an integer of the
 * 32-bit range of a plain int field, which BSON writes as the int32 place() would send (js-bson
 * writes a number with no fraction in that range as an int32, except -0, which it keeps as a
 * double). Stored without building the path and error context place() builds for every other
 * value (on the benchmark's nested document, mostly strings, this took about a sixth off the
 * encoding walk under V8's profiler).
 */
function storedAsGiven(field: FieldMetadata, value: unknown): boolean {
  if (field.encrypted || field.embedded) return false;
  switch (typeof value) {
    case 'string': return field.bsonType === 'string';
    case 'boolean': return field.bsonType === 'bool';
    case 'number': return field.bsonType === 'int' && (value | 0) === value && !Object.is(value, -0);
    default: return false;
  }
}

/** Writes the stored form of one declared field's value into `out`, or records it as missing. */
function put(walk: Walk, out: Document, field: FieldMetadata, path: string, value: unknown): void {
  if (value === null || value === undefined) {
    // _id may be left out (the insert generates it, a replacement keeps the stored one), but never null.
    const required = field.isId ? value === null : !field.optional;
    if (required) walk.missing.push(path);
    return;
  }
  place(walk, out, field.name, field, path, value);
}

/**
 * Writes the stored form of a non-empty value of a field to `container[key]`. An encrypted
 * value joins the walk's group: the key is written now (so the stored document keeps the input's
 * field order) and the ciphertext replaces it once the group is encrypted.
 */
function place(walk: Walk, container: Document, key: string, field: FieldMetadata, path: string, value: unknown): void {
  const where = `${walk.model}.${path}`;
  if (!field.encrypted) {
    if (field.embedded) container[key] = walkEmbedded(walk, field, path, value);
    else container[key] = plainValue(value, field, where);
    return;
  }
  let plain = value;
  if (field.embedded) {
    // A document encrypted whole is checked like a plain one first: its fields cannot be encrypted themselves.
    try {
      plain = walkEmbedded(walk, field, path, value);
    } catch (err) {
      throw withoutKeysOf(err, where);
    }
  }
  container[key] = undefined;
  // The value's type is checked now, so a wrong type is reported before the walk ends (and before any missing field).
  walk.encryptor.encryptInto(walk.group, field, where, plain, walk.root, container, key);
}

/**
 * Inside a value encrypted as a whole, even the keys are plaintext the model protects: an error
 * there keeps its code and names the encrypted field, but not the key or value that failed.
 */
function withoutKeysOf(err: unknown, where: string): unknown {
  if (!(err instanceof StrongboxError)) return err;
  return invalid(err.code, `${where} is encrypted as a whole and holds something its model does not accept (${err.code}); its keys and values are not repeated here.`,
    'check the value against the embedded model: only its declared fields, each of its declared type.');
}

function walkEmbedded(walk: Walk, field: FieldMetadata, path: string, value: unknown): unknown {
  const shape = field.embedded!;
  if (!field.isArray) return walkDocument(walk, shape, value, path);
  if (!Array.isArray(value)) {
    throw invalid('INPUT_WRONG_TYPE', `${walk.model}.${path} is an array of documents but got ${typeof value}.`, 'pass an array.');
  }
  return value.map((item, i) => walkDocument(walk, shape, item, `${path}.${i}`));
}

import type { Document } from 'mongodb';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import type { FieldEncryptor } from './fieldEncryptor';
import { assertLiteral, assertSafeKey, invalid } from './guards';

/** Encryptions started while walking a document; each one writes its result into place when it settles. */
type Encryptions = Array<Promise<void>>;

/**
 * Turns a document of the model into what is stored: every encrypted field encrypted (all
 * values of the document concurrently), embedded documents and arrays walked, unknown fields
 * refused. The input is never modified; stored fields keep the input's order.
 */
export function encodeDocument(encryptor: FieldEncryptor, shape: ModelShape, doc: unknown, root: Document, prefix = ''): Promise<Document> {
  return settled((encryptions) => walkDocument(encryptor, shape, doc, root, prefix, encryptions));
}

/** Encodes the value of one declared field (used for documents and for $set/$push values). */
export async function encodeField(encryptor: FieldEncryptor, field: FieldMetadata, path: string, value: unknown, root: Document | undefined): Promise<unknown> {
  // Null stands for "absent"; it carries no secret, and Deterministic cannot encrypt it anyway.
  if (value === null || value === undefined) return field.encrypted ? undefined : value;
  if (field.encrypted) return encryptor.encrypt(field, path, value, root);
  if (!field.embedded) {
    assertLiteral(value, `${encryptor.model.target.name}.${path}`);
    return value;
  }
  return settled((encryptions) => walkEmbedded(encryptor, field, path, value, root ?? {}, encryptions));
}

/** Encodes one element pushed into an array field. */
export async function encodeArrayElement(encryptor: FieldEncryptor, field: FieldMetadata, path: string, value: unknown, root: Document | undefined): Promise<unknown> {
  if (field.embedded) return encodeDocument(encryptor, field.embedded, value, root ?? {}, `${path}.$`);
  return value;
}

/**
 * Runs a synchronous walk, then waits for the encryptions it started. Only encryption is
 * asynchronous: walking, checking and copying a document without encrypted fields costs no
 * promise per field or per embedded document.
 */
async function settled<T>(walk: (encryptions: Encryptions) => T): Promise<T> {
  const encryptions: Encryptions = [];
  let result: T;
  try {
    result = walk(encryptions);
  } catch (err) {
    // The walk stopped on bad input; encryptions it had already started must not surface later as unhandled rejections.
    for (const pending of encryptions) pending.catch(() => undefined);
    throw err;
  }
  await Promise.all(encryptions);
  return result;
}

function walkDocument(encryptor: FieldEncryptor, shape: ModelShape, doc: unknown, root: Document, prefix: string, encryptions: Encryptions): Document {
  const model = encryptor.model.target.name;
  const where = prefix ? `${model}.${prefix}` : model;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalid('INPUT_NOT_A_DOCUMENT', `${where} must be a document (an object).`, 'pass an object with the model\'s fields.');
  }
  const out: Document = {};
  for (const key of Object.keys(doc)) {
    assertSafeKey(key, where);
    const value = (doc as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const field = shape.fields.get(key);
    if (field && !field.encrypted && !field.embedded) {
      // Only objects can hold operators; the error context string is built just for them.
      if (value !== null && typeof value === 'object') assertLiteral(value, `${model}.${prefix ? `${prefix}.${key}` : key}`);
      out[key] = value;
      continue;
    }
    const path = prefix ? `${prefix}.${key}` : key;
    if (!field) {
      if (key === '_id' && !prefix) { assertLiteral(value, `${model}._id`); out[key] = value; continue; }
      throw invalid('INPUT_UNKNOWN_FIELD', `${model} has no field "${path}".`, `declare it on the model (@Field, @Embedded, @Encrypted) or remove it from the document.`);
    }
    if (!field.encrypted) {
      out[key] = value === null ? null : walkEmbedded(encryptor, field, path, value, root, encryptions);
      continue;
    }
    // Null stands for "absent" in an encrypted field: it carries no secret, and Deterministic cannot encrypt it.
    if (value === null) continue;
    // The key is placed now so the stored document keeps the input's field order; the ciphertext replaces it.
    out[key] = undefined;
    encryptions.push(encryptor.encrypt(field, path, value, root).then((ciphertext) => { out[key] = ciphertext; }));
  }
  return out;
}

function walkEmbedded(encryptor: FieldEncryptor, field: FieldMetadata, path: string, value: unknown, root: Document, encryptions: Encryptions): unknown {
  const shape = field.embedded!;
  if (!field.isArray) return walkDocument(encryptor, shape, value, root, path, encryptions);
  if (!Array.isArray(value)) {
    throw invalid('INPUT_WRONG_TYPE', `${encryptor.model.target.name}.${path} is an array of documents but got ${typeof value}.`, 'pass an array.');
  }
  return value.map((item, i) => walkDocument(encryptor, shape, item, root, `${path}.${i}`, encryptions));
}

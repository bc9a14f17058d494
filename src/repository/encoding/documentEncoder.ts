import type { Document } from 'mongodb';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import type { FieldEncryptor } from './fieldEncryptor';
import { assertLiteral, invalid, safeEntries } from './guards';

/**
 * Turns a document of the model into what is stored: every encrypted field encrypted (all
 * values of the document concurrently), embedded documents and arrays walked, unknown fields
 * refused. The input is never modified.
 */
export async function encodeDocument(encryptor: FieldEncryptor, shape: ModelShape, doc: unknown, root: Document, prefix = ''): Promise<Document> {
  const where = `${encryptor.model.target.name}${prefix ? `.${prefix}` : ''}`;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalid('INPUT_NOT_A_DOCUMENT', `${where} must be a document (an object).`, 'pass an object with the model\'s fields.');
  }
  const out: Document = {};
  const pending: Array<Promise<void>> = [];
  for (const [key, value] of safeEntries(doc, where)) {
    if (value === undefined) continue;
    const field = shape.fields.get(key);
    if (field && !field.encrypted && !field.embedded) {
      // A plain value needs no awaiting: checked and set here instead of through a promise per field.
      // A refused value still surfaces through Promise.all below, in field order as before.
      try {
        // Only objects can hold operators; the error context string is built just for them.
        if (value !== null && typeof value === 'object') assertLiteral(value, `${encryptor.model.target.name}.${prefix ? `${prefix}.${key}` : key}`);
        out[key] = value;
      } catch (err) {
        pending.push(Promise.reject(err));
      }
      continue;
    }
    const path = prefix ? `${prefix}.${key}` : key;
    if (!field) {
      if (key === '_id' && !prefix) { assertLiteral(value, `${encryptor.model.target.name}._id`); out[key] = value; continue; }
      throw invalid('INPUT_UNKNOWN_FIELD', `${encryptor.model.target.name} has no field "${path}".`, `declare it on the model (@Field, @Embedded, @Encrypted) or remove it from the document.`);
    }
    pending.push(encodeField(encryptor, field, path, value, root).then((encoded) => { if (encoded !== undefined) out[key] = encoded; }));
  }
  await Promise.all(pending);
  return out;
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
  const shape = field.embedded;
  if (field.isArray) {
    if (!Array.isArray(value)) {
      throw invalid('INPUT_WRONG_TYPE', `${encryptor.model.target.name}.${path} is an array of documents but got ${typeof value}.`, 'pass an array.');
    }
    return Promise.all(value.map((item, i) => encodeDocument(encryptor, shape, item, root ?? {}, `${path}.${i}`)));
  }
  return encodeDocument(encryptor, shape, value, root ?? {}, path);
}

/** Encodes one element pushed into an array field. */
export async function encodeArrayElement(encryptor: FieldEncryptor, field: FieldMetadata, path: string, value: unknown, root: Document | undefined): Promise<unknown> {
  if (field.embedded) return encodeDocument(encryptor, field.embedded, value, root ?? {}, `${path}.$`);
  return value;
}

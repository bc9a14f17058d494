import { BSON, type Document } from 'mongodb';
import { EncryptedQueryError } from '../errors';
import { fromStoredBson } from '../metadata/storedForm';
import type { FieldMetadata } from '../metadata/types';
import { kindOf } from './encoding/filterEncoder';
import { invalid } from './encoding/guards';
import type { ModelScope } from './encoding/scope';
import { UndecryptableValue } from '../stored/undecryptable';

/** A path distinct may ask the server about, and the field there (undefined inside free-form objects). */
export interface DistinctKey {
  path: string;
  field?: FieldMetadata;
  /** The path names a Deterministic field: the server's answer is ciphertext, decrypted here. */
  encrypted: boolean;
}

/**
 * Checks the key of a distinct against the model. The server compares stored values: on a
 * Deterministic field under one key, equal plaintexts are equal ciphertexts, so its answer is
 * right and only needs decrypting. Random ciphertext differs on every write, so the server would
 * return one value per document; a document holding encrypted fields is compared by those
 * ciphertexts.
 */
export function distinctKey(scope: ModelScope, path: unknown): DistinctKey {
  if (typeof path !== 'string' || path.length === 0 || path.startsWith('$')) {
    throw invalid('INPUT_DISTINCT_KEY', `distinct on ${scope.name} needs the dotted path of a field.`, "pass a path such as 'address.city'.");
  }
  const resolved = scope.resolve(path, 'distinct');
  const kind = kindOf(scope, resolved, path);
  const refuse = (reason: string, fix: string) => new EncryptedQueryError('QUERY_DISTINCT_REFUSED', `distinct on ${scope.name}.${path} is refused: ${reason}.`, { fix });
  switch (kind) {
    case 'plain': case 'keyField':
      return { path, field: resolved.field, encrypted: false };
    case 'Random':
      throw refuse('Random ciphertext differs on every write, so the server would return one value per document, not per plaintext', "read the field with find({}, { projection: { field: 1 } }) and collect the distinct values in the application, or make the field Deterministic if it must be compared");
    case 'container':
      throw refuse('it holds encrypted fields, which the server would compare by ciphertext', 'ask for the distinct values of a plain or Deterministic field inside it');
    case 'Deterministic':
      // One data key per Deterministic field (per-document keys are refused for it at definition).
      return { path, field: resolved.encrypted, encrypted: true };
  }
}

/**
 * Turns the server's distinct values into plaintexts of the declared type. Each value is put back
 * at its path in a document of the model and read as a find reads it: a ciphertext's header
 * (algorithm, type, data key) is checked against the field before it is decrypted, and ciphertext
 * where the model declares a plain or free-form value is refused (or marked under the opt-in),
 * never listed as a value.
 */
export async function readDistinct(reader: { decrypt(docs: Document[]): Promise<Document[]> }, key: DistinctKey, values: unknown[]): Promise<unknown[]> {
  const segments = key.path.split('.');
  const docs = values.map((value) => segments.reduceRight<Document>((inner, seg, i) => (i === segments.length - 1 ? { [seg]: value } : { [seg]: inner }), {}));
  const read = (await reader.decrypt(docs)).map((doc) => segments.reduce<unknown>((node, seg) => (node as Document)[seg], doc));
  if (!key.field) return read;
  // The server lists the elements of an array field one by one: each is converted as an element.
  const field = key.field.bsonType === 'array' ? { bsonType: key.field.itemBsonType } : key.field;
  const converted = read.map((value) => (value instanceof UndecryptableValue ? value : fromStoredBson(value, field)));
  if (!key.encrypted) return converted;
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const value of converted) {
    // A value stored in the clear before the field was encrypted reads the same as a decrypted one: listed once.
    // An UndecryptableValue (under the opt-in) stands for a value nobody can read: each is listed.
    if (!(value instanceof UndecryptableValue)) {
      const identity = Buffer.from(BSON.serialize({ value })).toString('base64');
      if (seen.has(identity)) continue;
      seen.add(identity);
    }
    out.push(value);
  }
  return out;
}

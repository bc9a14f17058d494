import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import { encodeArrayElement, encodeDocument, encodeField } from './documentEncoder';
import type { FieldEncryptor } from './fieldEncryptor';
import { encodeFilter, hasEncrypted } from './filterEncoder';
import { assertSafeKey, invalid, isOperatorObject, safeEntries } from './guards';
import { resolvePath } from './pathResolver';

/** Operators that compute on the stored value: meaningless on ciphertext. */
const COMPUTING = new Set(['$inc', '$mul', '$min', '$max', '$currentDate', '$bit']);

/**
 * Rewrites an update document: values written into encrypted fields ($set, $setOnInsert,
 * $push, $addToSet) are encrypted; operators that compute on stored values are refused on
 * encrypted fields. `keyContext` is what is known of the target document (for keys chosen per
 * document): the $set values and the filter's equalities.
 */
export async function encodeUpdate(encryptor: FieldEncryptor, update: unknown, keyContext: Document): Promise<Document> {
  const model = encryptor.model;
  if (!isOperatorObject(update)) {
    throw invalid('INPUT_UPDATE_NOT_OPERATORS', `An update of ${model.target.name} must consist of update operators ($set, $unset, …).`, 'wrap the fields in $set, or use replaceOne to replace the whole document.');
  }
  const out: Document = {};
  for (const [op, spec] of safeEntries(update, `${model.target.name} update`)) {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw invalid('INPUT_OPERATOR_OPERAND', `${op} in an update of ${model.target.name} needs an object of paths.`, `write { ${op}: { path: value } }.`);
    }
    const encoded: Document = {};
    const pending: Array<Promise<void>> = [];
    for (const [path, value] of safeEntries(spec, `${model.target.name} ${op}`)) {
      pending.push(encodeOperand(encryptor, op, path, value, keyContext).then((v) => { encoded[path] = v; }));
    }
    await Promise.all(pending);
    out[op] = encoded;
  }
  return out;
}

async function encodeOperand(encryptor: FieldEncryptor, op: string, path: string, value: unknown, keyContext: Document): Promise<unknown> {
  const model = encryptor.model;
  const resolved = resolvePath(model, path, op);
  const field = resolved.field;
  const where = `${model.target.name}.${path}`;
  switch (op) {
    case '$set':
    case '$setOnInsert':
      if (!field) return value;
      if (resolved.endsInElement && field.embedded) return encodeDocument(encryptor, field.embedded, value, keyContext, path);
      if (resolved.endsInElement) return encodeArrayElement(encryptor, field, path, value, keyContext);
      if (value === null && field.encrypted) {
        throw invalid('INPUT_NULL_ENCRYPTED', `${op} of null into ${where}, an encrypted field, is refused (null cannot be encrypted).`, `use { $unset: { '${path}': '' } } to remove the value.`);
      }
      return encodeField(encryptor, field, path, value, keyContext);
    case '$unset':
      return value;
    case '$push':
    case '$addToSet': {
      if (field?.encrypted) throw refused(op, where, field.encrypted.algorithm, 'read the array, change it and $set it back');
      if (!field?.isArray) return value;
      if (isOperatorObject(value) && '$each' in value) {
        const each = value.$each;
        if (!Array.isArray(each)) throw invalid('INPUT_OPERATOR_OPERAND', `$each in ${op} on ${where} needs an array.`, 'write { $each: [ … ] }.');
        return { ...value, $each: await Promise.all(each.map((item) => encodeArrayElement(encryptor, field, path, item, keyContext))) };
      }
      return encodeArrayElement(encryptor, field, path, value, keyContext);
    }
    case '$pull':
      if (field?.encrypted) throw refused(op, where, field.encrypted.algorithm, 'read the array, change it and $set it back');
      if (!field?.embedded || !hasEncrypted(field.embedded)) return value;
      return encodeFilter(encryptor, value, path);
    case '$pullAll':
    case '$pop':
      if (field?.encrypted) throw refused(op, where, field.encrypted.algorithm, 'read the array, change it and $set it back');
      if (op === '$pullAll' && field?.embedded && hasEncrypted(field.embedded)) throw refused(op, where, 'encrypted fields inside', 'use $pull with equality on Deterministic fields');
      return value;
    case '$rename': {
      const target = field?.encrypted ? undefined : typeof value === 'string' ? resolvePath(model, value, op).encrypted : undefined;
      const encrypted = field?.encrypted ?? target?.encrypted;
      if (encrypted) throw refused(op, where, encrypted.algorithm, 'migrate the field with a Strongbox migration (it re-encrypts under the new name\'s settings)');
      return value;
    }
    default:
      if (COMPUTING.has(op)) {
        if (field?.encrypted) throw refused(op, where, field.encrypted.algorithm, 'read the value, compute in the application, and $set the result');
        // $min/$max store the operand as given when it wins: encrypted fields inside it would be stored in the clear.
        if (field?.embedded && hasEncrypted(field.embedded)) throw refused(op, where, 'encrypted fields inside', 'read the document, compare in the application, and $set the result');
        return value;
      }
      throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not an update operator Strongbox supports.`, 'use $set, $setOnInsert, $unset, $inc, $mul, $min, $max, $currentDate, $push, $addToSet, $pull, $pullAll, $pop or $rename.');
  }
}

function refused(op: string, where: string, algorithm: string, fix: string): EncryptedQueryError {
  return new EncryptedQueryError('QUERY_UPDATE_ON_ENCRYPTED', `${op} cannot be applied to ${where} (${algorithm}): the server only holds ciphertext there.`, { fix: `${fix}.` });
}

/**
 * What an update tells about its target document, for per-document keys: plain equalities of
 * the filter and the $set / $setOnInsert values (dotted paths expanded).
 */
export function keyContextOf(filter: unknown, update: unknown): Document {
  const context: Document = {};
  const put = (path: string, value: unknown) => {
    // Runs before the encoders check the update: a '__proto__.x' path would otherwise reach Object.prototype here.
    assertSafeKey(path, 'update');
    const segments = path.split('.');
    let node = context;
    for (const seg of segments.slice(0, -1)) node = (node[seg] ??= {}) as Document;
    node[segments[segments.length - 1]] = value;
  };
  if (filter && typeof filter === 'object') {
    for (const [k, v] of Object.entries(filter)) {
      if (k.startsWith('$')) continue;
      if (isOperatorObject(v)) { if ('$eq' in v) put(k, v.$eq); } else put(k, v);
    }
  }
  if (update && typeof update === 'object') {
    for (const op of ['$setOnInsert', '$set'] as const) {
      const spec = (update as Document)[op];
      if (spec && typeof spec === 'object') for (const [k, v] of Object.entries(spec)) put(k, v);
    }
  }
  return context;
}

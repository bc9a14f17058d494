import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { encodeDocument } from './documentEncoder';
import type { FieldEncryptor } from './fieldEncryptor';
import { assertLiteral, invalid, isOperatorObject, safeEntries } from './guards';
import { resolvePath } from './pathResolver';
import { checkFilterValue } from './values';

/** Operators that compare a Deterministic field for (in)equality; their operands get encrypted. */
const EQUALITY_OPERATORS = new Set(['$eq', '$ne', '$in', '$nin']);
const PASS_THROUGH_TOP_LEVEL = new Set(['$text', '$comment']);
/** Operators whose operand is a value compared as stored ($in and $nin: an array of values). */
const VALUE_OPERANDS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin']);

/**
 * Rewrites a filter so it can run on encrypted data: equality operands of Deterministic fields
 * are encrypted (same plaintext and key give the same ciphertext, so the server can compare),
 * everything the server cannot evaluate on ciphertext is refused with an error naming the field.
 */
export async function encodeFilter(encryptor: FieldEncryptor, filter: unknown, prefix = ''): Promise<Document> {
  const model = encryptor.model;
  if (filter === undefined) return {};
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw invalid('INPUT_FILTER_NOT_OBJECT', `The filter for ${model.target.name} must be an object.`, 'pass a filter such as { name: "Ada" }.');
  }
  const out: Document = {};
  for (const [key, value] of safeEntries(filter, `${model.target.name} filter`)) {
    if (key.startsWith('$')) {
      out[key] = await encodeTopLevelOperator(encryptor, key, value, prefix);
      continue;
    }
    const path = prefix ? `${prefix}.${key}` : key;
    out[key] = await encodeCondition(encryptor, path, value);
  }
  return out;
}

async function encodeTopLevelOperator(encryptor: FieldEncryptor, op: string, value: unknown, prefix: string): Promise<unknown> {
  const model = encryptor.model;
  switch (op) {
    case '$and': case '$or': case '$nor':
      if (!Array.isArray(value)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} in a ${model.target.name} filter needs an array of filters.`, `write { ${op}: [ {…}, {…} ] }.`);
      return Promise.all(value.map((sub) => encodeFilter(encryptor, sub, prefix)));
    case '$where':
      throw invalid('INPUT_WHERE_REFUSED', `$where (server-side JavaScript) is refused in ${model.target.name} filters: it can run arbitrary code and cannot see encrypted values.`, 'express the condition with query operators.');
    case '$expr':
      if (hasEncrypted(model)) {
        throw new EncryptedQueryError('QUERY_EXPR_ON_ENCRYPTED_MODEL', `$expr is refused in ${model.target.name} filters: its expressions could read encrypted fields, which the server sees only as ciphertext.`, {
          fix: 'use query operators on plain fields, or filter in the application after reading.',
        });
      }
      return value;
    default:
      if (PASS_THROUGH_TOP_LEVEL.has(op)) return value;
      throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not a filter operator Strongbox accepts at the top level of a ${model.target.name} filter.`, 'use $and, $or, $nor, $text or $comment there, or field conditions.');
  }
}

async function encodeCondition(encryptor: FieldEncryptor, path: string, value: unknown): Promise<unknown> {
  const model = encryptor.model;
  const resolved = resolvePath(model, path, 'filter');
  const field = resolved.field;
  if (resolved.encrypted) return encodeEncryptedCondition(encryptor, resolved.encrypted, path, value);
  // A path below a free-form object ('meta.x') resolves to the object's field: its declared type says nothing there.
  const declared = field && !field.embedded && path.slice(path.lastIndexOf('.') + 1) === field.name ? field : undefined;
  if (!field?.embedded || !hasEncrypted(field.embedded)) return checkPlainCondition(value, `${model.target.name}.${path}`, declared);

  // An embedded document (or array of them) with encrypted fields inside.
  const shape = field.embedded;
  if (!isOperatorObject(value)) return encodeWholeDocument(encryptor, field, shape, path, value);
  const out: Document = {};
  for (const [op, operand] of safeEntries(value, `${model.target.name}.${path}`)) {
    if (op === '$elemMatch' && field.isArray) out[op] = await encodeFilter(encryptor, operand, path);
    else if (op === '$exists' || op === '$size' || op === '$type') out[op] = operand;
    else if (op === '$eq' || op === '$ne') out[op] = await encodeWholeDocument(encryptor, field, shape, path, operand);
    else if ((op === '$in' || op === '$nin') && Array.isArray(operand)) out[op] = await Promise.all(operand.map((o) => encodeWholeDocument(encryptor, field, shape, path, o)));
    else {
      throw new EncryptedQueryError('QUERY_OPERATOR_ON_ENCRYPTED_SUBTREE', `${op} on ${model.target.name}.${path} cannot be evaluated: documents there contain encrypted fields.`, {
        fix: '$elemMatch on arrays, or equality conditions on the individual Deterministic fields (e.g. "' + path + '.<field>").',
      });
    }
  }
  return out;
}

/**
 * A condition on a plain field goes to the server as written, except that what stands where a
 * value belongs must be a value: `{ name: { $eq: input } }` never turns `input` into an operator.
 */
function checkPlainCondition(value: unknown, where: string, declared?: FieldMetadata): unknown {
  if (!isOperatorObject(value)) {
    assertLiteral(value, where);
    if (declared) checkFilterValue(declared, value, where);
    return value;
  }
  for (const [op, operand] of safeEntries(value, where)) {
    if (VALUE_OPERANDS.has(op)) {
      assertLiteral(operand, `${where} ${op}`);
      if (declared) for (const item of (op === '$in' || op === '$nin') && Array.isArray(operand) ? operand : [operand]) checkFilterValue(declared, item, `${where} ${op}`);
    } else if (op === '$not') checkPlainCondition(operand, where, declared);
  }
  return value;
}

async function encodeEncryptedCondition(encryptor: FieldEncryptor, field: FieldMetadata, path: string, value: unknown): Promise<unknown> {
  const where = `${encryptor.model.target.name}.${path}`;
  const algorithm = field.encrypted!.algorithm;
  if (algorithm === 'Random') {
    throw new EncryptedQueryError('QUERY_RANDOM_FIELD', `${where} is encrypted with Random, so it cannot be used in a filter: the same value encrypts differently every time.`, {
      fix: 'query by another field, or declare the field Deterministic if equality queries on it are needed (and its values are not low-cardinality).',
    });
  }
  if (value instanceof RegExp) {
    throw new EncryptedQueryError('QUERY_DETERMINISTIC_OPERATOR', `${where} is Deterministic-encrypted: a regular expression cannot match ciphertext.`, { fix: 'use equality ($eq, $ne, $in, $nin) with the exact value.' });
  }
  if (!isOperatorObject(value)) return encryptor.encrypt(field, path, value, undefined);
  const out: Document = {};
  for (const [op, operand] of safeEntries(value, where)) {
    if (op === '$eq' || op === '$ne') out[op] = await encryptor.encrypt(field, path, operand, undefined);
    else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs an array.`, `write { ${op}: [a, b] }.`);
      out[op] = await Promise.all(operand.map((o) => encryptor.encrypt(field, path, o, undefined)));
    } else if (op === '$exists') out[op] = operand;
    else {
      throw new EncryptedQueryError('QUERY_DETERMINISTIC_OPERATOR', `${where} is Deterministic-encrypted, which supports equality only; ${op} cannot be evaluated on ciphertext.`, {
        fix: `use ${[...EQUALITY_OPERATORS].join(', ')} (or $exists), or filter in the application after reading.`,
      });
    }
  }
  return out;
}

/** Equality with a whole embedded document: only possible when everything encrypted inside is Deterministic. */
async function encodeWholeDocument(encryptor: FieldEncryptor, field: FieldMetadata, shape: ModelShape, path: string, value: unknown): Promise<unknown> {
  if (hasRandom(shape)) {
    throw new EncryptedQueryError('QUERY_RANDOM_FIELD', `${encryptor.model.target.name}.${path} contains Random-encrypted fields, so whole-document equality on it can never match.`, {
      fix: 'filter on its individual plain or Deterministic fields instead.',
    });
  }
  if (field.isArray && Array.isArray(value)) return Promise.all(value.map((v) => encodeDocument(encryptor, shape, v, {}, path)));
  return encodeDocument(encryptor, shape, value, {}, path);
}

export function hasEncrypted(shape: ModelShape): boolean {
  for (const f of shape.fields.values()) if (f.encrypted || (f.embedded && hasEncrypted(f.embedded))) return true;
  return false;
}

function hasRandom(shape: ModelShape): boolean {
  for (const f of shape.fields.values()) if (f.encrypted?.algorithm === 'Random' || (f.embedded && hasRandom(f.embedded))) return true;
  return false;
}

import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import type { FieldMetadata } from '../../metadata/types';
import { FILTER_OPERATORS, FILTER_TOP_LEVEL, IMPLICIT_EQUALITY, type PolicyKind, type Treatment } from '../policy/table';
import { checkExpression } from './expressions';
import type { FieldEncryptor } from './fieldEncryptor';
import { assertLiteral, assertWritablePattern, assertWritablePatternSource, invalid, isOperatorObject, isPlainObject, safeEntries } from './guards';
import type { Markings } from './markings';
import type { ResolvedPath } from './pathResolver';
import { hasEncrypted, hasRandom, type Scope } from './scope';
import { checkFilterValue, freeFormValue } from './values';

/** Operators whose operand is a value (or, for $in / $nin, values) of the field, checked against its declared type. */
const TYPED_OPERANDS = new Set(['equality', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin']);

/** What every analyzer carries: the model's encryptor, the markings it produces and where values are checked. */
export interface Analysis {
  readonly encryptor: FieldEncryptor;
  readonly markings: Markings;
}

/**
 * Analyzes a filter: operands the query policy says to encrypt (Deterministic equality, whole
 * embedded documents) are marked for encryption; everything the policy does not allow for the
 * field it touches is refused with an error naming the field, the operator and the fix.
 * `prefix` is the path of the array whose elements an $elemMatch / $pull condition is about.
 */
export function analyzeFilter(analysis: Analysis, scope: Scope, filter: unknown, prefix = ''): Document {
  if (filter === undefined) return {};
  if (!isPlainObject(filter)) {
    throw invalid('INPUT_FILTER_NOT_OBJECT', `The filter for ${scope.name} must be an object.`, 'pass a filter such as { name: "Ada" }.');
  }
  const out: Document = {};
  for (const [key, value] of safeEntries(filter, `${scope.name} filter`)) {
    if (key.startsWith('$')) {
      out[key] = analyzeTopLevel(analysis, scope, key, value, prefix);
      continue;
    }
    const path = prefix ? `${prefix}.${key}` : key;
    out[key] = analyzeCondition(analysis, scope, path, value);
  }
  return out;
}

function analyzeTopLevel(analysis: Analysis, scope: Scope, op: string, value: unknown, prefix: string): unknown {
  const rule = FILTER_TOP_LEVEL[op];
  switch (rule) {
    case 'filters':
      if (!Array.isArray(value) || value.length === 0) throw invalid('INPUT_OPERATOR_OPERAND', `${op} in a ${scope.name} filter needs a non-empty array of filters.`, `write { ${op}: [ {…}, {…} ] }.`);
      return value.map((sub) => {
        // analyzeFilter takes undefined for "no filter" ({}), which inside $and/$or would match every document.
        if (sub === undefined) throw invalid('INPUT_UNDEFINED_VALUE', `${op} in a ${scope.name} filter holds undefined, which would match every document.`, `give ${op} only filters (objects), such as { ${op}: [ { a: 1 }, { b: 2 } ] }.`);
        return analyzeFilter(analysis, scope, sub, prefix);
      });
    case 'text': {
      if (prefix) break;
      const bad = () => invalid('INPUT_OPERATOR_OPERAND', `$text in a ${scope.name} filter takes { $search: '…', $language?: '…', $caseSensitive?: bool, $diacriticSensitive?: bool }.`, 'write { $text: { $search: "words" } }.');
      if (!isPlainObject(value) || typeof value.$search !== 'string') throw bad();
      for (const [key, setting] of safeEntries(value, `${scope.name} $text`)) {
        const ok = key === '$search' || (key === '$language' && typeof setting === 'string') || ((key === '$caseSensitive' || key === '$diacriticSensitive') && typeof setting === 'boolean');
        if (!ok) throw bad();
      }
      return value;
    }
    case 'comment':
      if (typeof value !== 'string') throw invalid('INPUT_OPERATOR_OPERAND', `$comment in a ${scope.name} filter must be a string.`, 'write { $comment: "why this query" }.');
      return value;
    case 'expression':
      if (scope.mayHoldCiphertext) {
        throw new EncryptedQueryError('QUERY_EXPR_ON_ENCRYPTED_MODEL', `$expr is refused in ${scope.name} filters: its expressions could read encrypted fields, which the server sees only as ciphertext.`, {
          fix: 'use query operators on plain fields, or filter in the application after reading.',
        });
      }
      checkExpression(scope, value, '$expr', new Set());
      return value;
    case 'refuse':
      throw new EncryptedQueryError(op === '$where' ? 'QUERY_WHERE_REFUSED' : 'QUERY_OPERATOR_REFUSED', `${op} is refused in ${scope.name} filters: ${op === '$where' ? 'server-side JavaScript can run arbitrary code and cannot see encrypted values' : 'it is evaluated by the server in ways Strongbox cannot check against encrypted fields'}.`, {
        fix: 'express the condition with query operators.',
      });
    default:
      break;
  }
  throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not a filter operator Strongbox accepts at the top level of a ${scope.name} filter${prefix ? ` condition on ${prefix}` : ''}.`, 'use $and, $or, $nor, $text or $comment there, or field conditions.');
}

/** The kind of the field a path names, for the policy table. */
export function kindOf(scope: Scope, resolved: ResolvedPath, path: string): PolicyKind {
  if (resolved.tainted) return 'Random';
  if (resolved.encrypted) return resolved.encrypted.encrypted!.algorithm;
  if (resolved.field?.embedded && hasEncrypted(resolved.field.embedded)) return 'container';
  return keyFieldPaths(scope).has(path) ? 'keyField' : 'plain';
}

const keyFields = new WeakMap<object, Set<string>>();

/** Paths of fields whose value names the data key of other fields (per-document keys). */
export function keyFieldPaths(scope: Scope): Set<string> {
  let paths = keyFields.get(scope.shape);
  if (!paths) {
    paths = new Set();
    const visit = (fields: ReadonlyMap<string, FieldMetadata>) => {
      for (const f of fields.values()) {
        if (f.encrypted?.key.kind === 'altNameFromField') paths!.add(f.encrypted.key.path.join('.'));
        if (f.embedded) visit(f.embedded.fields);
      }
    };
    visit(scope.shape.fields);
    keyFields.set(scope.shape, paths);
  }
  return paths;
}

function analyzeCondition(analysis: Analysis, scope: Scope, path: string, value: unknown): unknown {
  const resolved = scope.resolve(path, 'filter');
  const kind = kindOf(scope, resolved, path);
  const where = `${scope.name}.${path}`;
  if (resolved.tainted) {
    throw new EncryptedQueryError('QUERY_PIPELINE_UNKNOWN_CIPHERTEXT', `${where} may hold ciphertext the pipeline moved or brought in without Strongbox knowing its field and key (or it names an encrypted field of the model the pipeline removed): nothing is compared with it.`, {
      fix: 'filter on the field before the stage that reshapes it, or on plain fields; moved Deterministic fields keep their key only when moved whole (\'$field\').',
    });
  }
  if (value instanceof RegExp || (value !== null && typeof value === 'object' && (value as { _bsontype?: string })._bsontype === 'BSONRegExp')) {
    if (kind === 'plain' || kind === 'keyField') {
      checkOperatorFitsType(resolved, '$regex', where);
      assertWritablePattern(value, where);
      return value;
    }
    throw refusal(where, kind, 'a regular expression', 'a pattern cannot match ciphertext');
  }
  if (!isOperatorObject(value)) return apply(analysis, scope, IMPLICIT_EQUALITY, kind, resolved, path, value, 'equality');
  const out: Document = {};
  for (const [op, operand] of safeEntries(value, where)) {
    const row = FILTER_OPERATORS[op];
    if (!row) throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not a query operator Strongbox accepts (on ${where}).`, `use one of ${Object.keys(FILTER_OPERATORS).join(', ')}.`);
    if (op === '$options' && !('$regex' in value)) throw invalid('INPUT_OPERATOR_OPERAND', `$options on ${where} needs $regex next to it.`, 'write { $regex: "…", $options: "i" }.');
    if (kind === 'plain' || kind === 'keyField') checkOperatorFitsType(resolved, op, where);
    out[op] = apply(analysis, scope, row, kind, resolved, path, operand, op);
  }
  return out;
}

/**
 * A value a filter compares with, as it is sent: BSON writes an object carrying a toBSON as what
 * that returns, a class instance as its own fields and a Map as a document of its entries, so each
 * is read once, as written (freeFormValue), and what is checked — no operator, dotted or NUL key,
 * no ciphertext or marker — is that reading, which the command then carries. (An ObjectId whose
 * toBSON returned { $ne: null } was checked as an ObjectId and sent as an operator matching every
 * document.)
 */
function comparand(operand: unknown, where: string): unknown {
  const sent = freeFormValue(operand, where);
  assertLiteral(sent, where);
  return sent;
}

function apply(analysis: Analysis, scope: Scope, row: { reason: string } & Record<PolicyKind, Treatment>, kind: PolicyKind, resolved: ResolvedPath, path: string, operand: unknown, op: string): unknown {
  const where = `${scope.name}.${path}`;
  const treatment = row[kind];
  const field = resolved.encrypted ?? resolved.field;
  // A whole embedded document compared for equality is checked like a written one (every required field, declared types).
  const wholeDocument = kind === 'plain' && field?.embedded !== undefined && !resolved.encrypted && resolved.names === 'field'
    && (treatment === 'value' || treatment === 'values') && op !== '$all' && !isOperatorObject(operand);
  if (wholeDocument) return wholeDocuments(analysis, scope, field!, path, operand, op, treatment === 'values');
  switch (treatment) {
    case 'refuse':
      throw refusal(where, kind, op === 'equality' ? 'equality' : op, row.reason);
    case 'value': {
      const given = comparand(operand, `${where} ${op}`);
      // A pattern given as a string is written as a regular expression's (a C string): no NUL.
      if (op === '$regex' && typeof given === 'string') assertWritablePatternSource(given, `${where} ${op}`);
      const sent = declared(resolved, op, given, where);
      refuseUndefined(sent, op, where);
      return sent;
    }
    case 'values': {
      if (!Array.isArray(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs an array.`, `write { ${op}: [a, b] }.`);
      const given = comparand(operand, `${where} ${op}`) as unknown[];
      const sent = given.map((item) => declared(resolved, op, item, where));
      for (const item of sent) refuseUndefined(item, op, where);
      return sent;
    }
    case 'flag':
      assertFlag(op, operand, `${where} ${op}`);
      return operand;
    case 'encrypt':
      return markValue(analysis, field!, path, operand);
    case 'encryptEach':
      if (!Array.isArray(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs an array.`, `write { ${op}: [a, b] }.`);
      return operand.map((item) => markValue(analysis, field!, path, item));
    case 'document':
    case 'documents':
      return wholeDocuments(analysis, scope, field!, path, operand, op, treatment === 'documents');
    case 'condition':
      if (!isOperatorObject(operand) && !(operand instanceof RegExp)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs an operator condition or a regular expression.`, `write { ${op}: { $gt: … } }.`);
      if (!(operand instanceof RegExp)) return analyzeCondition(analysis, scope, path, operand);
      assertWritablePattern(operand, `${where} ${op}`);
      return operand;
    case 'elementFilter':
      return elementCondition(analysis, scope, field, path, operand, op);
  }
}

/**
 * The driver sends an undefined comparand as null, which also matches every document without the
 * field: `deleteMany({ meta: undefined })` would delete them all. A typed field refuses it as the
 * wrong type first; this covers the rest (free-form and untyped fields, paths below them).
 */
function refuseUndefined(operand: unknown, op: string, where: string): void {
  if (operand !== undefined) return;
  throw invalid('INPUT_UNDEFINED_VALUE', `${op === 'equality' ? where : `${where} ${op}`}: undefined is not a value to compare with (the driver would send null, which also matches documents without the field).`,
    `compare with null to match documents where it is null or missing, or use { $exists: false } for missing only.`);
}

/**
 * A comparand of a plain field with a declared type must be of that type, and is sent in it (an
 * upsert stores an equality's value); below a free-form object nothing is declared.
 */
function declared(resolved: ResolvedPath, op: string, operand: unknown, where: string): unknown {
  const field = resolved.field;
  if (!TYPED_OPERANDS.has(op) || !field || field.embedded || field.encrypted || resolved.tainted) return operand;
  if (resolved.names !== 'field') return operand;
  return checkFilterValue(field, operand, op === 'equality' ? where : `${where} ${op}`);
}

/** A comparand of a Deterministic field: encrypted with the field's fixed key (queries have no document to take a per-document key from). */
function markValue(analysis: Analysis, field: FieldMetadata, path: string, operand: unknown): unknown {
  if (operand === null || operand === undefined) {
    throw invalid('INPUT_NULL_ENCRYPTED', `${analysis.encryptor.model.target.name}.${path} is encrypted: null cannot be encrypted, so it cannot be compared with.`, `use { '${path}': { $exists: false } } to find documents without it.`);
  }
  return analysis.markings.value(field, path, operand, undefined, analysis.encryptor);
}

/**
 * An $elemMatch (or $pull) condition: on arrays of documents a filter on the elements; on arrays
 * of scalars an operator condition on the element, which follows the element's rules.
 */
export function elementCondition(analysis: Analysis, scope: Scope, field: FieldMetadata | undefined, path: string, operand: unknown, op: string): unknown {
  const where = `${scope.name}.${path}`;
  if (!isPlainObject(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs a condition object.`, `write { ${op}: { … } }.`);
  if (field?.embedded || !isOperatorObject(operand)) return analyzeFilter(analysis, scope, operand, path);
  return analyzeCondition(analysis, scope, path, operand);
}

/** Equality with whole embedded documents: possible only when everything encrypted inside is Deterministic. */
function wholeDocuments(analysis: Analysis, scope: Scope, field: FieldMetadata, path: string, operand: unknown, op: string, many: boolean): unknown {
  const where = `${scope.name}.${path}`;
  if (hasRandom(field.embedded!)) {
    throw new EncryptedQueryError('QUERY_RANDOM_FIELD', `${where} contains Random-encrypted fields, so ${op === 'equality' ? 'whole-document equality' : op} on it can never match.`, {
      fix: 'filter on its individual plain or Deterministic fields instead.',
    });
  }
  const one = (doc: unknown): unknown => {
    if (isPlainObject(doc) && Object.keys(doc).length === 1 && '$elemMatch' in doc && op === '$all') {
      return { $elemMatch: analyzeFilter(analysis, scope, doc.$elemMatch, path) };
    }
    if (!isPlainObject(doc)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} compares whole documents: each operand must be a document of the model.`, 'pass documents with every field, or filter on the individual fields.');
    return analysis.markings.document(field, path, doc, {}, field.isArray ? 'element' : 'field', analysis.encryptor);
  };
  if (!many) {
    if (field.isArray && Array.isArray(operand)) return operand.map(one);
    return one(operand);
  }
  if (!Array.isArray(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} on ${where} needs an array of documents.`, `write { ${op}: [ {…} ] }.`);
  return operand.map((item) => (field.isArray && Array.isArray(item) ? item.map(one) : one(item)));
}

/** A flag operand carries no value of the field; each operator takes its own kind of flag. */
function assertFlag(op: string, operand: unknown, where: string): void {
  const typeName = (v: unknown) => typeof v === 'string' || typeof v === 'number';
  const ok = op === '$exists' ? typeof operand === 'boolean' || operand === 0 || operand === 1
    : op === '$size' ? Number.isInteger(operand) && (operand as number) >= 0
      : op === '$type' ? typeName(operand) || (Array.isArray(operand) && operand.length > 0 && operand.every(typeName))
        : op === '$options' ? typeof operand === 'string' && /^[imxsu]*$/.test(operand)
          : typeof operand === 'number';
  if (ok) return;
  throw invalid('INPUT_OPERATOR_OPERAND', `${where} takes ${op === '$exists' ? 'true or false' : op === '$size' ? 'a non-negative integer' : op === '$type' ? 'a BSON type name or number' : op === '$options' ? 'regular expression options (i, m, x, s, u)' : 'a number'}, not ${operand === null ? 'null' : typeof operand}.`, 'pass a value of that kind.');
}

/** Operators that only make sense on strings, on arrays, or on geometry; refused on a declared field of another type. */
const STRING_OPERATORS = new Set(['$regex', '$options']);
const ARRAY_OPERATORS = new Set(['$size', '$all', '$elemMatch']);
const GEO_OPERATORS = new Set(['$geoWithin', '$geoIntersects', '$near', '$nearSphere', '$maxDistance', '$minDistance']);
const INTEGER_OPERATORS = new Set(['$bitsAllSet', '$bitsAnySet', '$bitsAllClear', '$bitsAnyClear']);

function checkOperatorFitsType(resolved: ResolvedPath, op: string, where: string): void {
  const field = resolved.field;
  // Below a free-form object, or at an element of an array, nothing is declared about the value.
  if (!field || resolved.tainted || resolved.names !== 'field') return;
  const declared = field.isArray ? field.itemBsonType : field.bsonType;
  let fits: boolean;
  if (field.embedded) fits = !STRING_OPERATORS.has(op) && !GEO_OPERATORS.has(op) && !INTEGER_OPERATORS.has(op) && (!ARRAY_OPERATORS.has(op) || field.isArray);
  else if (field.bsonType === undefined) fits = true;
  else if (STRING_OPERATORS.has(op)) fits = declared === undefined || declared === 'string';
  else if (ARRAY_OPERATORS.has(op)) fits = field.isArray;
  else if (GEO_OPERATORS.has(op)) fits = field.bsonType === 'object' || field.bsonType === 'array';
  else if (INTEGER_OPERATORS.has(op)) fits = declared === 'int' || declared === 'long' || declared === 'binData';
  else fits = true;
  if (fits) return;
  throw invalid('INPUT_OPERATOR_TYPE', `${op} cannot be used on ${where}, which is declared as ${field.embedded ? 'an embedded document' : field.isArray ? `an array of ${declared ?? 'values'}` : field.bsonType}.`,
    STRING_OPERATORS.has(op) ? 'use $regex on string fields only.' : ARRAY_OPERATORS.has(op) ? `use ${op} on array fields only.` : 'use an operator that fits the declared type.');
}

export function refusal(where: string, kind: PolicyKind, what: string, reason: string): EncryptedQueryError {
  const code = kind === 'Random' ? 'QUERY_RANDOM_FIELD' : kind === 'Deterministic' ? 'QUERY_DETERMINISTIC_OPERATOR' : kind === 'container' ? 'QUERY_OPERATOR_ON_ENCRYPTED_SUBTREE' : 'QUERY_KEY_FIELD';
  const message = kind === 'Random'
    ? `${where} is encrypted with Random, so ${what} cannot be used on it: ${reason}.`
    : kind === 'Deterministic'
      ? `${where} is Deterministic-encrypted: ${what} cannot be evaluated on ciphertext (${reason}).`
      : kind === 'container'
        ? `${what} on ${where} cannot be evaluated: documents there contain encrypted fields (${reason}).`
        : `${what} on ${where} is refused: it names the data key of encrypted fields (${reason}).`;
  const fix = kind === 'Deterministic'
    ? 'use equality ($eq, $ne, $in, $nin, or a plain value) with the exact value, or filter in the application after reading.'
    : kind === 'Random'
      ? 'query by another field, or declare the field Deterministic if equality queries on it are needed (and its values are not low-cardinality).'
      : kind === 'container'
        ? `use $elemMatch on arrays, or equality conditions on the individual Deterministic fields (e.g. "${where.slice(where.indexOf('.') + 1)}.<field>").`
        : 'leave the key field alone; changing a document\'s key is a migration that re-encrypts its values.';
  return new EncryptedQueryError(code, message, { fix });
}

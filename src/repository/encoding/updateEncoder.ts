import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { UPDATE_OPERATORS, type PolicyKind } from '../policy/table';
import { analyzeFilter, elementCondition, keyFieldPaths, kindOf, type Analysis } from './filterEncoder';
import { assertLiteral, assertSafeKey, invalid, isOperatorObject, isPlainObject, readAsValue, safeEntries, topLevelEquality } from './guards';
import { arithmeticOperand, isNumber } from './values';
import type { PathNames, ResolvedPath } from './pathResolver';
import type { ModelScope } from './scope';
import { hasRandom } from './scope';

const PUSH_MODIFIERS = new Set(['$each', '$position', '$slice', '$sort']);

/**
 * Analyzes an update document: values written into encrypted fields are marked for encryption,
 * operators the policy does not allow on the field they touch are refused, and the field that
 * names a document's data key cannot be changed. `keyRoot` is what is known for certain of every
 * matched document's key fields (from the filter's equalities); values under a per-document key
 * are encrypted with that key and no other.
 */
export function analyzeUpdate(analysis: Analysis, scope: ModelScope, update: unknown, keyRoot: Document): Document {
  if (!isOperatorObject(update)) {
    throw invalid('INPUT_UPDATE_NOT_OPERATORS', `An update of ${scope.name} must consist of update operators ($set, $unset, …).`, 'wrap the fields in $set, or use replaceOne to replace the whole document.');
  }
  const out: Document = {};
  for (const [op, spec] of safeEntries(update, `${scope.name} update`)) {
    const row = UPDATE_OPERATORS[op];
    if (!row) throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not an update operator Strongbox supports.`, `use ${Object.keys(UPDATE_OPERATORS).join(', ')}.`);
    // An empty operand is allowed (MongoDB 5.0+ accepts it); it is what an optional null in $setOnInsert leaves.
    if (!isPlainObject(spec)) {
      throw invalid('INPUT_OPERATOR_OPERAND', `${op} in an update of ${scope.name} needs an object of paths.`, `write { ${op}: { path: value } }.`);
    }
    const encoded: Document = {};
    for (const [path, value] of safeEntries(spec, `${scope.name} ${op}`)) {
      const resolved = scope.resolve(path, op);
      const kind = writtenKind(scope, resolved, path);
      const treatment = row[kind];
      const where = `${scope.name}.${path}`;
      if (treatment === 'refuse') throw updateRefusal(op, where, kind, row.reason);
      checkTarget(scope, op, path, resolved, value, where);
      encoded[path] = analyzeOperand(analysis, scope, op, path, value, resolved.encrypted ?? resolved.field, resolved.names, kind, keyRoot);
    }
    out[op] = encoded;
  }
  return out;
}

const ELEMENT_SELECTOR = /^(?:\d+|\$|\$\[\]|\$\[[A-Za-z][A-Za-z0-9]*\])$/;
const NUMERIC_TYPES = new Set(['int', 'long', 'double', 'decimal']);
const ARRAY_OPERATORS = new Set(['$push', '$addToSet', '$pull', '$pullAll', '$pop']);

/**
 * What an update operator may do to the field it names, by the field's declared type: arithmetic
 * on numbers, $currentDate on dates, array operators on arrays, `_id` never changed, no path
 * through an array without an element position (MongoDB cannot create such fields).
 */
function checkTarget(scope: ModelScope, op: string, path: string, resolved: ResolvedPath, value: unknown, where: string): void {
  const field = resolved.encrypted ?? resolved.field;
  const wrong = (what: string, fix: string) => invalid('INPUT_UPDATE_TARGET', `${op} cannot be applied to ${where}: ${what}.`, fix);
  if (path === '_id' && op !== '$setOnInsert') throw wrong('the _id of a stored document cannot change', 'insert a new document instead (or set _id with $setOnInsert in an upsert).');
  const steps = arraySteps(scope, path);
  if (steps === 'unpositioned') throw wrong('the path goes through an array without saying which element', "name the element: 'field.0.x', 'field.$.x' (with a filter on the array), 'field.$[].x' or 'field.$[id].x' with arrayFilters.");
  // MongoDB manual, "$rename": it does not work on fields in array elements.
  if (op === '$rename' && (steps === 'element' || (typeof value === 'string' && arraySteps(scope, value) === 'element'))) {
    throw wrong('one of its paths goes into an element of an array, which $rename cannot reach', 'read the document and $set the array whole.');
  }
  // MongoDB manual, "$unset": an element unset is left in the array as null.
  if (op === '$unset' && resolved.names === 'element' && field && !field.encrypted && (field.embedded || field.itemBsonType !== undefined)) {
    throw wrong(`the server would leave null in its place, in an array declared as ${field.embedded ? 'documents' : field.itemBsonType}`, `remove elements with $pull (or $pop), or $set the array without it.`);
  }
  // Below a free-form object, or at an element, the model declares nothing about the value.
  if (!field || field.encrypted || resolved.names !== 'field' || (field.bsonType === undefined && !field.embedded)) return;
  const declared = field.embedded ? (field.isArray ? 'an array of documents' : 'an embedded document') : field.isArray ? `an array of ${field.itemBsonType ?? 'values'}` : field.bsonType!;
  if ((op === '$inc' || op === '$mul') && (field.isArray || field.embedded || !NUMERIC_TYPES.has(field.bsonType!))) throw wrong(`it is declared as ${declared}, not a number`, 'use arithmetic operators on numeric fields only.');
  if ((op === '$inc' || op === '$mul') && !isNumber(value)) throw wrong('the operand is not a number', `write { ${op}: { '${path}': 1 } }.`);
  if (op === '$bit' && (field.isArray || field.embedded || (field.bsonType !== 'int' && field.bsonType !== 'long'))) throw wrong(`it is declared as ${declared}, not an integer`, 'use $bit on int or long fields only.');
  if (op === '$currentDate' && field.bsonType !== 'date' && field.bsonType !== 'timestamp') throw wrong(`it is declared as ${declared}, not a date or timestamp`, 'use $currentDate on date or timestamp fields only.');
  if (ARRAY_OPERATORS.has(op) && !field.isArray) throw wrong(`it is declared as ${declared}, not an array`, 'use array operators on array fields only.');
  if ((op === '$min' || op === '$max') && (field.isArray || field.embedded)) throw wrong(`it is declared as ${declared}`, `use ${op} on scalar fields.`);
  if (op === '$rename' && typeof value === 'string') {
    const resolvedTarget = scope.resolve(value, op);
    const target = resolvedTarget.field;
    const same = target !== undefined && target.bsonType === field.bsonType && target.isArray === field.isArray && target.itemBsonType === field.itemBsonType && target.embedded === field.embedded;
    if (!same && target !== undefined && resolvedTarget.names === 'field') throw wrong(`${scope.name}.${value} is declared with another type than ${where}`, 'rename only between fields of the same declared type.');
  }
}

/**
 * How an update path steps into the declared arrays on its way: not at all, always through an
 * element position ('contacts.0.phone', 'tags.$'), or once without one ('contacts.phone', which
 * MongoDB refuses in an update).
 */
function arraySteps(scope: ModelScope, path: string): 'none' | 'element' | 'unpositioned' {
  let fields: ReadonlyMap<string, FieldMetadata> | undefined = scope.shape.fields;
  let array = false;
  let steps: 'none' | 'element' = 'none';
  for (const segment of path.split('.')) {
    if (array) {
      if (!ELEMENT_SELECTOR.test(segment)) return 'unpositioned';
      array = false;
      steps = 'element';
      continue;
    }
    const field: FieldMetadata | undefined = fields?.get(segment);
    if (!field) return steps;
    array = field.isArray && !field.encrypted;
    fields = field.embedded?.fields;
  }
  return steps;
}

/** keyField also covers a path that contains a key field ($set of the whole embedded document holding it). */
function writtenKind(scope: ModelScope, resolved: ReturnType<ModelScope['resolve']>, path: string): PolicyKind {
  const kind = kindOf(scope, resolved, path);
  if (kind !== 'plain' && kind !== 'container') return kind;
  const bare = path.split('.').filter((s) => !/^(\d+|\$|\$\[.*\])$/.test(s)).join('.');
  for (const keyPath of keyFieldPaths(scope)) if (keyPath === bare || keyPath.startsWith(`${bare}.`)) return 'keyField';
  return kind;
}

function analyzeOperand(analysis: Analysis, scope: ModelScope, op: string, path: string, value: unknown, field: FieldMetadata | undefined, names: PathNames, kind: PolicyKind, keyRoot: Document): unknown {
  const where = `${scope.name}.${path}`;
  switch (op) {
    case '$set':
    case '$setOnInsert':
      if (kind === 'plain') {
        assertLiteral(value, where);
        // A declared field's value is checked and converted to its declared BSON type when the command is encoded.
        return field ? analysis.markings.document(field, path, value, keyRoot, names, analysis.encryptor) : value;
      }
      if (kind === 'container') {
        checkDocumentKeys(scope, field!.embedded!, where);
        return analysis.markings.document(field!, path, value, keyRoot, names, analysis.encryptor);
      }
      if (value === null || value === undefined) {
        throw invalid('INPUT_NULL_ENCRYPTED', `${op} of ${value === null ? 'null' : 'undefined'} into ${where}, an encrypted field, is refused (null cannot be encrypted).`, `use { $unset: { '${path}': '' } } to remove the value.`);
      }
      checkDocumentKey(field!, where);
      // A document encrypted whole is placed as an insert places it: checked against its embedded model
      // (declared types, unknown and required fields) before it is encrypted, never encrypted as given.
      if (field!.embedded && names === 'field') return analysis.markings.document(field!, path, value, keyRoot, names, analysis.encryptor);
      return analysis.markings.value(field!, path, value, keyRoot, analysis.encryptor);
    case '$unset':
      if (value !== '' && value !== 1 && value !== true) throw invalid('INPUT_OPERATOR_OPERAND', `$unset of ${where} takes "" (or 1 / true), not a value.`, `write { $unset: { '${path}': '' } }.`);
      return value;
    case '$inc': case '$mul': case '$min': case '$max':
      assertLiteral(value, `${where} ${op}`);
      if (value === null || value === undefined) throw invalid('INPUT_OPERATOR_OPERAND', `${op} of ${where} needs a value, not ${value}.`, `write { ${op}: { '${path}': <value> } }.`);
      return storedOperand(analysis, op, field, path, value, names, keyRoot);
    case '$bit': {
      const fix = `write { $bit: { '${path}': { and: 5 } } } (or, xor).`;
      if (!isPlainObject(value) || Object.keys(value).length === 0) throw invalid('INPUT_OPERATOR_OPERAND', `$bit of ${where} takes { and | or | xor: <integer> }.`, fix);
      const out: Document = {};
      for (const [bitwise, operand] of safeEntries(value, `${where} $bit`)) {
        if (!BITWISE.has(bitwise) || !isNumber(operand, true)) throw invalid('INPUT_OPERATOR_OPERAND', `$bit of ${where} takes { and | or | xor: <integer> }.`, fix);
        out[bitwise] = storedOperand(analysis, op, field, path, operand, names, keyRoot);
      }
      return out;
    }
    case '$currentDate': {
      if (value !== true && !(isPlainObject(value) && Object.keys(value).length === 1 && (value.$type === 'date' || value.$type === 'timestamp'))) {
        throw invalid('INPUT_OPERATOR_OPERAND', `$currentDate of ${where} takes true or { $type: 'date' | 'timestamp' }.`, `write { $currentDate: { '${path}': true } }.`);
      }
      // true stores a date (MongoDB manual, "$currentDate"): a field declared with a type gets that type.
      const stored = value === true ? 'date' : value.$type;
      const typed = field === undefined || field.encrypted ? undefined : names === 'element' ? (field.embedded ? 'object' : field.itemBsonType)
        : !field.isArray && names === 'field' ? field.bsonType : undefined;
      if (typed !== undefined && typed !== stored) {
        throw invalid('INPUT_UPDATE_TARGET', `$currentDate of ${where} would store a ${stored} in a field declared as ${typed}.`, typed === 'timestamp' ? `write { $currentDate: { '${path}': { $type: 'timestamp' } } }.` : `write { $currentDate: { '${path}': true } }.`);
      }
      return value;
    }
    case '$push':
    case '$addToSet':
      return pushed(analysis, scope, op, path, value, field, kind, keyRoot);
    case '$pull': {
      const read = readAsValue(value, `${where} $pull`);
      if (isPlainObject(read)) return elementCondition(analysis, scope, field, path, read, op);
      assertLiteral(read, `${where} $pull`);
      return read;
    }
    case '$pullAll':
      if (!Array.isArray(value)) throw invalid('INPUT_OPERATOR_OPERAND', `$pullAll of ${where} needs an array.`, `write { $pullAll: { '${path}': [a, b] } }.`);
      assertLiteral(value, `${where} $pullAll`);
      return value;
    case '$pop':
      if (value !== 1 && value !== -1) throw invalid('INPUT_OPERATOR_OPERAND', `$pop of ${where} takes 1 or -1.`, `write { $pop: { '${path}': 1 } }.`);
      return value;
    case '$rename': {
      if (typeof value !== 'string' || value.length === 0) throw invalid('INPUT_OPERATOR_OPERAND', `$rename of ${where} needs the new path as a string.`, `write { $rename: { '${path}': 'newName' } }.`);
      assertSafeKey(value, `${scope.name} $rename`);
      const target = scope.resolve(value, op);
      const targetKind = writtenKind(scope, target, value);
      if (targetKind !== 'plain') throw updateRefusal(op, `${scope.name}.${value}`, targetKind, UPDATE_OPERATORS.$rename.reason);
      return value;
    }
    default:
      throw invalid('INPUT_UNKNOWN_OPERATOR', `${op} is not an update operator Strongbox supports.`, 'see docs/queries.md for the operators on each kind of field.');
  }
}

const BITWISE = new Set(['and', 'or', 'xor']);

/**
 * The operand of an operator the server combines with the stored value ($inc, $mul, $min, $max,
 * $bit) in the declared BSON type of the field, or of its elements: an int field incremented by
 * 1.5, or given $max: 'zzz', would otherwise hold a double or a string, and an int field combined
 * with a long would become one (MongoDB manual, "$inc": mixed numeric types follow the wider
 * type). A path below a free-form object declares nothing: its operand is checked as a value.
 */
function storedOperand(analysis: Analysis, op: string, field: FieldMetadata | undefined, path: string, value: unknown, names: PathNames, keyRoot: Document): unknown {
  if (!field || field.encrypted) return value;
  if (field.embedded) {
    // An element of an array of documents compared with a scalar: $min: 5 would replace the document.
    if (names === 'element') throw invalid('INPUT_UPDATE_TARGET', `${op} cannot be applied to ${analysis.encryptor.model.target.name}.${path}: it is an embedded document.`, `use ${op} on a scalar field of the document ('${path}.field').`);
    return value;
  }
  // int and long fields take operands of their own type; double and decimal ones any number, sent in their type.
  const declared = names === 'element' ? field.itemBsonType : names === 'field' ? field.bsonType : undefined;
  if ((op === '$inc' || op === '$mul') && (declared === 'double' || declared === 'decimal')) {
    const operand = arithmeticOperand(value, declared, `${op} of ${analysis.encryptor.model.target.name}.${path}`);
    return analysis.markings.document(field, path, operand, keyRoot, names, analysis.encryptor);
  }
  return analysis.markings.document(field, path, value, keyRoot, names, analysis.encryptor);
}

/** $push / $addToSet: elements pushed into an array of documents are encoded as documents (their encrypted fields encrypted). */
function pushed(analysis: Analysis, scope: ModelScope, op: string, path: string, given: unknown, field: FieldMetadata | undefined, kind: PolicyKind, keyRoot: Document): unknown {
  const where = `${scope.name}.${path}`;
  const container = kind === 'container';
  // Read as written when BSON writes it otherwise (a toBSON returning { $each: … } would be modifiers,
  // not the element the caller gave). A document of an embedded array is read by its declared fields, as written.
  const value = container ? given : readAsValue(given, `${where} ${op}`);
  if (container && op === '$addToSet' && hasRandom(field!.embedded!)) {
    throw updateRefusal(op, where, 'container', 'duplicates cannot be found among documents holding Random ciphertext; use $push');
  }
  const element = (item: unknown): unknown => {
    assertLiteral(item, `${where} ${op}`);
    if (!field?.isArray) return item;
    if (container) checkDocumentKeys(scope, field.embedded!, where);
    // Each element is encoded as the array's declared elements are: documents with their encrypted fields encrypted, scalars converted.
    return analysis.markings.document(field, path, item, keyRoot, 'element', analysis.encryptor);
  };
  if (!isOperatorObject(value)) return element(value);
  const out: Document = {};
  for (const [modifier, operand] of safeEntries(value, `${where} ${op}`)) {
    if (!PUSH_MODIFIERS.has(modifier) || (op === '$addToSet' && modifier !== '$each')) {
      throw invalid('INPUT_OPERATOR_OPERAND', `${modifier} is not a modifier of ${op} (on ${where}).`, op === '$push' ? 'use $each, $position, $slice or $sort.' : 'use $each.');
    }
    if (modifier === '$each') {
      if (!Array.isArray(operand)) throw invalid('INPUT_OPERATOR_OPERAND', `$each in ${op} on ${where} needs an array.`, 'write { $each: [ … ] }.');
      out.$each = operand.map(element);
    } else if (modifier === '$sort') {
      // Read as BSON writes it (a toBSON returning another specification would be sent unchecked).
      const order = readAsValue(operand, `${where} $sort`);
      const direction = (item: unknown) => item === 1 || item === -1;
      // Elements that may be documents (embedded, declared objects, free-form) also sort by their fields.
      const documents = field === undefined || field.embedded !== undefined || field.itemBsonType === undefined || field.itemBsonType === 'object';
      const sortFix = `write { $sort: 1 }, { $sort: -1 }${documents ? ", or { $sort: { 'field': 1 } } on the documents' plain fields" : ''}.`;
      if (!direction(order) && !(documents && isPlainObject(order) && Object.keys(order).length > 0 && Object.values(order).every(direction))) {
        throw invalid('INPUT_OPERATOR_OPERAND', `$sort in ${op} on ${where} takes 1 or -1${documents ? ', or an object of fields of the documents with 1 or -1' : ''}.`, sortFix);
      }
      if (isPlainObject(order)) {
        for (const sub of Object.keys(order)) {
          assertSafeKey(sub, `${where} $sort`);
          if (scope.holdsEncrypted(`${path}.${sub}`)) throw updateRefusal('$push $sort', `${where}.${sub}`, 'Deterministic', 'ciphertext order says nothing about plaintext order');
        }
      }
      out.$sort = order;
    } else {
      if (typeof operand !== 'number') throw invalid('INPUT_OPERATOR_OPERAND', `${modifier} in ${op} on ${where} takes a number.`, `write { ${modifier}: 3 }.`);
      out[modifier] = operand;
    }
  }
  if (!('$each' in out)) throw invalid('INPUT_OPERATOR_OPERAND', `${op} modifiers on ${where} need $each.`, 'write { $each: [ … ], … }.');
  return out;
}

/** A key chosen by a function reads the whole document, which an update does not have. */
function checkDocumentKey(field: FieldMetadata, where: string): void {
  if (field.encrypted?.key.kind === 'altNameFunction') {
    throw new EncryptedQueryError('QUERY_KEY_FUNCTION_IN_UPDATE', `${where} chooses its data key with a function of the whole document, which an update does not have.`, {
      fix: 'write the field with replaceOne (or save the whole document), which gives the function the document.',
    });
  }
}

function checkDocumentKeys(scope: ModelScope, shape: ModelShape, where: string, seen = new Set<ModelShape>()): void {
  seen.add(shape);
  for (const f of shape.fields.values()) {
    checkDocumentKey(f, where);
    if (f.embedded && !seen.has(f.embedded)) checkDocumentKeys(scope, f.embedded, where, seen);
  }
}

function updateRefusal(op: string, where: string, kind: PolicyKind, reason: string): EncryptedQueryError {
  if (kind === 'keyField') {
    return new EncryptedQueryError('QUERY_KEY_FIELD_CHANGE', `${op} of ${where} is refused: it names (or holds the field naming) the data key of encrypted fields in the same document, and changing it would leave those values under another document's key.`, {
      fix: 'changing a document\'s key is a migration that re-encrypts its values; to create a document under a key, put the key field in insertOne, or pin it with an equality in the upsert filter.',
    });
  }
  const what = kind === 'container' ? 'encrypted fields inside' : `${kind}-encrypted`;
  return new EncryptedQueryError(kind === 'container' ? 'QUERY_UPDATE_ON_ENCRYPTED_SUBTREE' : 'QUERY_UPDATE_ON_ENCRYPTED', `${op} cannot be applied to ${where} (${what}): ${reason}.`, {
    fix: kind === 'container' ? 'read the document, change it in the application and $set it back (its encrypted fields are encrypted).' : 'read the value, change it in the application and $set the result (it is encrypted).',
  });
}

/**
 * The key fields a filter pins for every matched document: top-level equalities on the paths
 * that name per-document keys. Values under those keys can be encrypted without reading the
 * documents; any other key would be a guess.
 */
export function pinnedKeyRoot(scope: ModelScope, filter: unknown): Document {
  const root: Document = {};
  if (!isPlainObject(filter)) return root;
  for (const keyPath of keyFieldPaths(scope)) {
    const value = topLevelEquality(filter, keyPath);
    if (typeof value === 'string' && value.length > 0) setPath(root, keyPath, value);
  }
  return root;
}

/** Whether an update writes any value under a per-document key. */
export function writesUnderDocumentKeys(scope: ModelScope, update: unknown): boolean {
  return unpinnedKeyPaths(scope, update, {}).length > 0;
}

/** Key paths an update writes values under (per-document keys), that `root` does not pin. */
export function unpinnedKeyPaths(scope: ModelScope, update: unknown, root: Document): string[] {
  // Most models have no per-document keys: nothing to resolve.
  if (!isPlainObject(update) || keyFieldPaths(scope).size === 0) return [];
  const missing = new Set<string>();
  const collect = (field: FieldMetadata | undefined, seen = new Set<FieldMetadata>()) => {
    if (!field || seen.has(field)) return;
    seen.add(field);
    if (field.encrypted?.key.kind === 'altNameFromField') {
      const keyPath = field.encrypted.key.path.join('.');
      if (getPath(root, keyPath) === undefined) missing.add(keyPath);
    }
    if (field.embedded) for (const f of field.embedded.fields.values()) collect(f, seen);
  };
  for (const op of ['$set', '$setOnInsert', '$push', '$addToSet']) {
    const spec = update[op];
    if (!isPlainObject(spec)) continue;
    for (const path of Object.keys(spec)) {
      try {
        const resolved = scope.resolve(path, op);
        collect(resolved.encrypted ?? resolved.field);
      } catch {
        // The analysis reports a bad path with its own error.
      }
    }
  }
  return [...missing];
}

export function setPath(root: Document, path: string, value: unknown): void {
  const segments = path.split('.');
  let node = root;
  for (const seg of segments.slice(0, -1)) node = (node[seg] ??= {}) as Document;
  node[segments[segments.length - 1]] = value;
}

function getPath(root: Document, path: string): unknown {
  return path.split('.').reduce<unknown>((node, seg) => (isPlainObject(node) ? node[seg] : undefined), root);
}

/**
 * arrayFilters: each document is about one identifier `$[id]` of the update, whose conditions are
 * conditions on that array's elements — a whole-element condition (`{ c: {…} }`) or paths inside
 * the element (`{ 'c.phone': … }`). An identifier used on two different arrays is refused: its
 * conditions could not be analyzed against both.
 */
export function analyzeArrayFilters(analysis: Analysis, scope: ModelScope, update: unknown, arrayFilters: unknown): Document[] | undefined {
  if (arrayFilters === undefined) return undefined;
  if (!Array.isArray(arrayFilters)) throw invalid('INPUT_ARRAY_FILTER', `arrayFilters on ${scope.name} must be an array of conditions.`, "write [{ 'x.field': value }] for an update path with $[x].");
  const arrays = new Map<string, string>();
  for (const spec of isPlainObject(update) ? Object.values(update) : []) {
    for (const path of isPlainObject(spec) ? Object.keys(spec) : []) {
      const segments = path.split('.');
      segments.forEach((segment, i) => {
        const match = /^\$\[([a-z][A-Za-z0-9]*)\]$/.exec(segment);
        if (!match) return;
        const arrayPath = segments.slice(0, i).filter((s) => !/^(\d+|\$|\$\[.*\])$/.test(s)).join('.');
        const known = arrays.get(match[1]);
        if (known !== undefined && known !== arrayPath) {
          throw invalid('INPUT_ARRAY_FILTER', `The arrayFilters identifier "${match[1]}" is used on two arrays of ${scope.name} (${known} and ${arrayPath}).`, 'give each array its own identifier.');
        }
        arrays.set(match[1], arrayPath);
      });
    }
  }
  return arrayFilters.map((condition) => {
    if (!isPlainObject(condition) || Object.keys(condition).length === 0) throw invalid('INPUT_ARRAY_FILTER', `Each of the arrayFilters on ${scope.name} must be a non-empty condition object.`, "write { 'x.field': value }.");
    const out: Document = {};
    let identifier: string | undefined;
    for (const [key, value] of safeEntries(condition, 'arrayFilters')) {
      const [id, ...rest] = key.split('.');
      if (key.startsWith('$')) throw invalid('INPUT_ARRAY_FILTER', `arrayFilters on ${scope.name} take conditions on identifiers, not ${id}.`, "write { 'x.field': value } for each identifier.");
      if (identifier !== undefined && id !== identifier) throw invalid('INPUT_ARRAY_FILTER', `One arrayFilters condition on ${scope.name} names two identifiers (${identifier}, ${id}).`, 'write one condition object per identifier.');
      identifier = id;
      const arrayPath = arrays.get(id);
      if (arrayPath === undefined) throw invalid('INPUT_ARRAY_FILTER', `arrayFilters names "${id}", which no $[${id}] in the update uses.`, 'match the identifiers of arrayFilters and the update paths.');
      const relative = rest.join('.');
      const analyzed = analyzeFilter(analysis, scope, { [relative ? `${arrayPath}.${relative}` : arrayPath]: value });
      out[key] = Object.values(analyzed)[0];
    }
    return out;
  });
}

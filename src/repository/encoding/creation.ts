import type { Document } from 'mongodb';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { invalid, isOperatorObject, isPlainObject } from './guards';
import { missingRequired } from './requiredFields';
import type { ModelScope } from './scope';

/*
 * What an update creates in a stored document. MongoDB creates every missing field an update
 * path names (MongoDB manual, "$set": "If the field does not exist, $set will add a new field"):
 * a dotted path into a missing embedded document creates it with that one field, an array index
 * past the end pads the array with nulls, and an index into a missing array creates an object
 * { "0": … }. An upsert that inserts builds its document from the filter's equalities, then
 * applies the update (MongoDB manual, "Upsert Behavior"). Each of these can leave a document
 * that is not what the model says: a required field missing, null in an array of a declared
 * type, an object where an array is declared.
 */

/** Operators that create the field they name when it is missing. */
const CREATING = ['$set', '$inc', '$mul', '$min', '$max', '$currentDate', '$bit', '$push', '$addToSet'] as const;
const INDEX = /^\d+$/;
/** The array positions of update paths (MongoDB manual, "$", "$[]", "$[<identifier>]"): they only name elements that exist. */
const POSITION = /^\$(?:\[\]|\[[A-Za-z][A-Za-z0-9]*\])?$/;

interface Written {
  readonly path: string;
  /** What writes it, for messages: an operator, or the upsert filter. */
  readonly by: string;
}

/**
 * Conditions to add to an update's filter so that it only applies where what it writes cannot
 * make the document other than the model says: `{ 'tags.3': { $exists: true } }` for an update
 * through an array index, `{ address: { $exists: true } }` for a dotted path into an embedded
 * document that the update does not give all of its required fields. Where no condition can say
 * it (below $, $[] or $[id]), and in an upsert, which may insert whatever the filter says, the
 * update is refused instead. An upsert's inserted document (the filter's equalities and the
 * update) must also hold every required field of the model.
 */
export function creationGuards(scope: ModelScope, filter: Document, update: Document, upsert: boolean): Document {
  const written: Written[] = [];
  for (const op of upsert ? [...CREATING, '$setOnInsert'] : CREATING) {
    const spec = update[op];
    if (isPlainObject(spec)) for (const path of Object.keys(spec)) written.push({ path, by: op });
  }
  if (isPlainObject(update.$rename)) for (const to of Object.values(update.$rename)) if (typeof to === 'string') written.push({ path: to, by: '$rename' });
  if (upsert) for (const path of copiedEqualities(scope, filter)) written.push({ path, by: 'the upsert filter' });
  const guards: Document = {};
  for (const item of written) guardPath(scope, item, written, upsert, guards);
  if (upsert) {
    const missing = uncovered(scope.shape, '', written);
    if (missing.length) throw missingRequired(`${scope.name} (the document an upsert inserts when nothing matches)`, missing, 'pin each with an equality in the filter, or give it in $set or $setOnInsert.');
  }
  return guards;
}

/** The required fields of `shape` (at `prefix`) that nothing written gives a value. */
function uncovered(shape: ModelShape, prefix: string, written: readonly Written[]): string[] {
  const missing: string[] = [];
  for (const field of shape.fields.values()) {
    if (field.optional || field.isId) continue;
    const path = prefix + field.name;
    if (!written.some((w) => w.path === path || w.path.startsWith(`${path}.`))) missing.push(path);
  }
  return missing;
}

function guardPath(scope: ModelScope, item: Written, written: readonly Written[], upsert: boolean, guards: Document): void {
  const segments = item.path.split('.');
  let fields: ReadonlyMap<string, FieldMetadata> | undefined = scope.shape.fields;
  let array: FieldMetadata | undefined;
  let positional = false;
  const refuse = (what: string, fix: string) => invalid('INPUT_UPDATE_TARGET', `${item.by} of ${scope.name}.${item.path}${upsert ? ' in an upsert' : ''} ${what}.`, fix);
  // The last segment is what is written: an element index there may pad the array; the fields before it may be created on the way.
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const prefix = segments.slice(0, i + 1).join('.');
    if (array) {
      if (INDEX.test(segment)) {
        if (upsert) throw refuse(`goes through the array index ${prefix}: an inserted document would get an object there, where ${array.name} is declared as an array`, `in an upsert, write the whole array (${item.by === 'the upsert filter' ? `compare with $elemMatch, which an upsert does not copy, and ` : ''}$setOnInsert: { ${array.name}: [ … ] }).`);
        guards[prefix] = { $exists: true };
      } else if (POSITION.test(segment)) {
        positional = true;
      } else {
        return; // below an untyped array: nothing declared (and a path without a position is refused by the analysis)
      }
      array = undefined;
      continue;
    }
    if (i === segments.length - 1) return;
    const field: FieldMetadata | undefined = fields?.get(segment);
    if (!field || field.encrypted) return; // below a free-form object, or an encrypted field (refused by the analysis)
    if (field.isArray) {
      if (item.by === 'the upsert filter') {
        throw invalid('INPUT_UPSERT_FILTER', `The upsert filter's equality on ${scope.name}.${item.path} goes into the array ${prefix}: if nothing matches, the server copies it into the inserted document as an object where ${prefix} is declared as an array.`,
          `compare with { ${prefix}: { $elemMatch: { … } } }, which an upsert does not copy, and give the array in $setOnInsert.`);
      }
      array = field;
      fields = field.embedded?.fields;
      continue;
    }
    if (field.embedded) {
      const missing = uncovered(field.embedded, `${prefix}.`, written);
      if (missing.length > 0) {
        if (upsert || positional) {
          throw refuse(`would create ${prefix} without its required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} where it is missing`, `write ${prefix} whole, or also its required fields (${missing.join(', ')}).`);
        }
        guards[prefix] = { $exists: true };
      }
    }
    fields = field.embedded?.fields;
  }
}

/**
 * The paths of the equalities an upsert copies into the document it inserts: `{ path: value }`
 * and `$eq` conditions, also inside `$and`. The server's query optimizer also turns a one-element
 * `$in` and a one-branch `$or` into an equality, and `$all` into equalities, so those count too.
 * Each value is checked against the field it lands in, as an insert would check it.
 */
function copiedEqualities(scope: ModelScope, filter: Document): string[] {
  const paths: string[] = [];
  const visit = (node: Document) => {
    for (const [key, condition] of Object.entries(node)) {
      if (key === '$and' || (key === '$or' && Array.isArray(condition) && condition.length === 1)) {
        for (const sub of condition as Document[]) visit(sub);
        continue;
      }
      if (key.startsWith('$')) continue;
      for (const value of copiedValues(condition)) {
        checkCopied(scope, key, value);
        paths.push(key);
      }
    }
  };
  visit(filter);
  return paths;
}

function copiedValues(condition: unknown): unknown[] {
  if (condition instanceof RegExp || (condition as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') return [];
  if (!isOperatorObject(condition)) return [condition];
  const values: unknown[] = [];
  if ('$eq' in condition) values.push(condition.$eq);
  if (Array.isArray(condition.$in) && condition.$in.length === 1 && !(condition.$in[0] instanceof RegExp)) values.push(condition.$in[0]);
  if (Array.isArray(condition.$all)) values.push(...condition.$all.filter((v: unknown) => !isOperatorObject(v)));
  return values;
}

/** A copied value must be what an insert would store in the field: no null, an array for an array field, a document for an object field. */
function checkCopied(scope: ModelScope, path: string, value: unknown): void {
  const resolved = scope.resolve(path, 'filter');
  const field = resolved.encrypted ?? resolved.field;
  const whole = field !== undefined && !resolved.endsInElement && path.split('.').length === depth(scope.shape, path);
  if (!whole || field.encrypted) return;
  const wrong = (what: string, fix: string) => invalid('INPUT_UPSERT_FILTER', `The upsert filter compares ${scope.name}.${path} with ${what}: if nothing matches, the server copies that into the inserted document, where the model declares ${field.isArray ? 'an array' : field.bsonType === 'object' ? 'a document' : 'a value'}.`, fix);
  if (value === null) throw wrong('null', `match a missing field with { '${path}': { $exists: false } } (Strongbox never stores null in a declared field).`);
  if (field.isArray && !Array.isArray(value)) throw wrong('one element', `compare with { '${path}': { $elemMatch: { $eq: … } } }, which an upsert does not copy, and give the array in $setOnInsert.`);
  if (field.bsonType === 'object' && !isPlainObject(value)) throw wrong('a value that is not a document', 'compare with a document, or filter on a path inside it.');
}

/** How many segments of `path` name declared fields (the whole path when it names one exactly). */
function depth(shape: ModelShape, path: string): number {
  let fields: ReadonlyMap<string, FieldMetadata> | undefined = shape.fields;
  let n = 0;
  for (const segment of path.split('.')) {
    const field: FieldMetadata | undefined = fields?.get(segment);
    if (!field) break;
    n++;
    fields = field.embedded?.fields;
  }
  return n;
}

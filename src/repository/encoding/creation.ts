import type { Document } from 'mongodb';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { invalid, isOperatorObject, isPlainObject } from './guards';
import { POSITIONAL } from './pathResolver';
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

interface Written {
  readonly path: string;
  /** What writes it, for messages: an operator, or the upsert filter. */
  readonly by: string;
  /**
   * Whether it surely gives the path a value: not a $rename (whose source may be missing), not
   * an equality only some servers copy into an upserted document (inside $and, a one-element
   * $in: MongoDB copies those, FerretDB does not).
   */
  readonly fills: boolean;
}

/** What a check of the written paths does where a creation would leave the document short: add a filter condition, or refuse. */
type Remedy = { guards: Document } | 'refuse';

/**
 * Conditions to add to an update's filter so that it only applies where what it writes cannot
 * make the document other than the model says: `{ 'tags.3': { $exists: true } }` for an update
 * through an array index, `{ address: { $exists: true } }` for a dotted path into an embedded
 * document that the update does not give all of its required fields. Where no condition can say
 * it (below $, $[] or $[id]), and in an upsert, which may insert whatever the filter says, the
 * update is refused instead. `inserted` is, for an upsert, the model of the document it inserts
 * when nothing matches (the filter's equalities, then the update, $setOnInsert included): it
 * must hold every required field of that model.
 */
export function creationGuards(scope: ModelScope, filter: Document, update: Document, inserted: ModelShape | undefined): Document {
  // Top-level paths create nothing on the way (the common update): nothing to check unless the update may insert.
  if (!inserted && !createsOnTheWay(update)) return NO_GUARDS;
  const written = (op: string): Written[] => (isPlainObject(update[op]) ? Object.keys(update[op]).map((path) => ({ path, by: op, fills: true })) : []);
  const renamed: Written[] = isPlainObject(update.$rename)
    ? Object.values(update.$rename).filter((to): to is string => typeof to === 'string').map((path) => ({ path, by: '$rename', fills: false }))
    : [];
  // A matched document gets the update without $setOnInsert (an upsert that matches too).
  const updated = [...CREATING.flatMap(written), ...renamed];
  const remedy: Remedy = inserted ? 'refuse' : { guards: {} };
  // A document an upsert matches has every path its filter compares with a value (in a document or below it).
  const pinned: string[] = [];
  if (inserted) eachCopied(filter, (path, value) => { if (value !== null) pinned.push(path); });
  // The documents an upsert matches are of the model (or the variant) it would insert.
  checkCreations(inserted ?? scope.shape, inserted?.target.name ?? scope.name, updated, remedy, false, pinned);
  if (inserted) {
    const all = [...updated, ...written('$setOnInsert'), ...copiedEqualities(scope, filter)];
    const name = inserted.target.name;
    checkCreations(inserted, name, all, 'refuse', true, []);
    const missing = uncovered(inserted, '', all);
    if (missing.length) throw missingRequired(`${name} (the document an upsert inserts when nothing matches)`, missing, 'pin each with an equality at the top level of the filter, or give it in $set or $setOnInsert.');
  }
  return remedy === 'refuse' ? NO_GUARDS : remedy.guards;
}

const NO_GUARDS: Document = Object.freeze({});

function createsOnTheWay(update: Document): boolean {
  for (const op of CREATING) {
    const spec = update[op];
    if (isPlainObject(spec)) for (const path in spec) if (path.includes('.')) return true;
  }
  return isPlainObject(update.$rename) && Object.values(update.$rename).some((to) => typeof to === 'string' && to.includes('.'));
}

function checkCreations(shape: ModelShape, name: string, written: readonly Written[], remedy: Remedy, inserting: boolean, pinned: readonly string[]): void {
  for (const item of written) checkPath(shape, name, item, written, remedy, inserting, pinned);
}

/** The required fields of `shape` (at `prefix`) that nothing written surely gives a value. */
function uncovered(shape: ModelShape, prefix: string, written: readonly Written[]): string[] {
  const missing: string[] = [];
  for (const field of shape.fields.values()) {
    if (field.optional || field.isId) continue;
    const path = prefix + field.name;
    // Given at the path or below it, or in a whole document written above it (checked as complete when it is encoded).
    if (!written.some((w) => w.fills && (w.path === path || w.path.startsWith(`${path}.`) || path.startsWith(`${w.path}.`)))) missing.push(path);
  }
  return missing;
}

/**
 * `pinned`: for the documents an upsert matches, the paths its filter compares with a value. A
 * matched document surely has an embedded document the model requires all the way down from the
 * top, or from a document the filter compares (itself or something inside): the update cannot
 * create it there.
 */
function checkPath(shape: ModelShape, name: string, item: Written, written: readonly Written[], remedy: Remedy, inserting: boolean, pinned: readonly string[]): void {
  const segments = item.path.split('.');
  let fields: ReadonlyMap<string, FieldMetadata> | undefined = shape.fields;
  let array: FieldMetadata | undefined;
  let positional = false;
  let required = true;
  const refuse = (what: string, fix: string) => invalid('INPUT_UPDATE_TARGET', `${item.by} of ${name}.${item.path}${remedy === 'refuse' ? ' in an upsert' : ''} ${what}.`, fix);
  // The last segment is what is written: an element index there may pad the array; the fields before it may be created on the way.
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const prefix = segments.slice(0, i + 1).join('.');
    if (array) {
      if (INDEX.test(segment)) {
        if (remedy === 'refuse') {
          throw refuse(`goes through the array index ${prefix}: ${inserting ? 'an inserted document would get an object there' : 'a matched document may not have that element, and the array would be padded with nulls or made an object'}, where ${array.name} is declared as an array`,
            `in an upsert, write the whole array (${item.by === 'the upsert filter' ? 'compare with $elemMatch, which an upsert does not copy, and ' : ''}$setOnInsert: { ${array.name}: [ … ] }).`);
        }
        // An element written whole, or given every required field of its documents, may be appended; any other needs the element.
        const complete = i === segments.length - 1 || (array.embedded !== undefined && uncovered(array.embedded, `${prefix}.`, written).length === 0);
        Object.assign(remedy.guards, elementGuard(segments.slice(0, i).join('.'), Number(segment), complete));
      } else if (POSITIONAL.test(segment)) {
        // $, $[] and $[id] only name elements that exist.
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
        throw invalid('INPUT_UPSERT_FILTER', `The upsert filter's equality on ${name}.${item.path} goes into the array ${prefix}: if nothing matches, the server copies it into the inserted document as an object where ${prefix} is declared as an array.`,
          `compare with { ${prefix}: { $elemMatch: { … } } }, which an upsert does not copy, and give the array in $setOnInsert.`);
      }
      array = field;
      fields = field.embedded?.fields;
      required = false;
      continue;
    }
    // Required from the top, or from a document the filter compares (itself or inside it), which a matched document has.
    required = (required && !field.optional) || pinned.some((p) => p === prefix || p.startsWith(`${prefix}.`));
    if (field.embedded) {
      const missing = uncovered(field.embedded, `${prefix}.`, written);
      const present = remedy === 'refuse' && !inserting && required;
      if (missing.length > 0 && !present) {
        if (remedy === 'refuse' || positional) {
          throw refuse(`would create ${prefix} without its required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} where it is missing`, `write ${prefix} whole, or also its required fields (${missing.join(', ')}).`);
        }
        remedy.guards[prefix] = { $exists: true };
      }
    }
    fields = field.embedded?.fields;
  }
}

/**
 * The condition under which an update at `array.index` pads nothing and creates no object: the
 * element exists; or, when the update makes a complete element (written whole, or every required
 * field of its documents given), the one before it exists (or, at index 0, the field is an
 * array), so the server appends it.
 */
function elementGuard(array: string, index: number, complete: boolean): Document {
  if (!complete) return { [`${array}.${index}`]: { $exists: true } };
  return index === 0 ? { [array]: { $type: 'array' } } : { [`${array}.${index - 1}`]: { $exists: true } };
}

/**
 * Each equality an upsert may copy into the document it inserts, with whether every server
 * copies it: `{ path: value }` and `$eq` conditions at the top level are copied everywhere; inside
 * `$and` MongoDB copies them too, and its query optimizer turns a one-element `$in` and a
 * one-branch `$or` into an equality and `$all` into equalities, which FerretDB does not copy.
 */
function eachCopied(filter: unknown, visit: (path: string, value: unknown, surely: boolean) => void): void {
  const walk = (node: unknown, top: boolean) => {
    if (!isPlainObject(node)) return;
    for (const [key, condition] of Object.entries(node)) {
      if (key === '$and' || (key === '$or' && Array.isArray(condition) && condition.length === 1)) {
        if (Array.isArray(condition)) for (const sub of condition) walk(sub, false);
        continue;
      }
      if (key.startsWith('$')) continue;
      for (const [value, surely] of copiedValues(condition)) visit(key, value, top && surely);
    }
  };
  walk(filter, true);
}

/** The copied equalities of an upsert's filter, each checked against the field it lands in as an insert would check it. */
function copiedEqualities(scope: ModelScope, filter: Document): Written[] {
  const copied: Written[] = [];
  eachCopied(filter, (path, value, surely) => {
    checkCopied(scope, path, value);
    copied.push({ path, by: 'the upsert filter', fills: surely });
  });
  return copied;
}

/** The equalities (path and value) an upsert's filter may copy into the document it inserts: they are checked as the values an insert writes. */
export function copiedEqualityValues(filter: unknown): Array<[string, unknown]> {
  const copied: Array<[string, unknown]> = [];
  eachCopied(filter, (path, value) => copied.push([path, value]));
  return copied;
}

/** The top-level fields an upsert's filter may copy into the document it inserts, whose defaults are therefore left to it. */
export function copiedFields(filter: unknown): Set<string> {
  return new Set(copiedEqualityValues(filter).map(([path]) => path.split('.')[0]));
}

/** The values a condition may be copied as, each with whether every server copies it (an equality or $eq, not a one-element $in or $all). */
function copiedValues(condition: unknown): Array<[unknown, boolean]> {
  if (condition instanceof RegExp || (condition as { _bsontype?: string } | null)?._bsontype === 'BSONRegExp') return [];
  if (!isOperatorObject(condition)) return [[condition, true]];
  const values: Array<[unknown, boolean]> = [];
  if ('$eq' in condition) values.push([condition.$eq, true]);
  if (Array.isArray(condition.$in) && condition.$in.length === 1 && !(condition.$in[0] instanceof RegExp)) values.push([condition.$in[0], false]);
  if (Array.isArray(condition.$all)) for (const v of condition.$all) if (!isOperatorObject(v)) values.push([v, false]);
  return values;
}

/** A copied value must be what an insert would store in the field: no null, an array for an array field, a document for an object field. */
function checkCopied(scope: ModelScope, path: string, value: unknown): void {
  const resolved = scope.resolve(path, 'filter');
  const field = resolved.encrypted ?? resolved.field;
  if (field === undefined || resolved.names !== 'field' || field.encrypted) return;
  const wrong = (what: string, fix: string) => invalid('INPUT_UPSERT_FILTER', `The upsert filter compares ${scope.name}.${path} with ${what}: if nothing matches, the server copies that into the inserted document, where the model declares ${field.isArray ? 'an array' : field.bsonType === 'object' ? 'a document' : 'a value'}.`, fix);
  if (value === null) throw wrong('null', `match a missing field with { '${path}': { $exists: false } } (Strongbox never stores null in a declared field).`);
  if (field.isArray && !Array.isArray(value)) throw wrong('one element', `compare with { '${path}': { $elemMatch: { $eq: … } } }, which an upsert does not copy, and give the array in $setOnInsert.`);
  // (An embedded document compared whole was checked as a complete one by the filter's analysis.)
  if (field.bsonType === 'object' && !field.embedded && !isPlainObject(value)) throw wrong('a value that is not a document', 'compare with a document, or filter on a path inside it.');
}

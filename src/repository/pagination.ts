import { BSON, BSONRegExp, Double, Int32, type Document } from 'mongodb';
import { walkPath } from '../metadata/paths';
import type { FieldMetadata } from '../metadata/types';
import { assertLiteral, invalid, isPlainObject, safeEntries } from './encoding/guards';
import { assertSortable } from './encoding/pipelineEncoder';
import type { ModelScope } from './encoding/scope';
import { checkFilterValue } from './encoding/values';

/** One key of a keyset order: a required, plain, single-valued field and its direction. */
export interface KeysetKey {
  path: string;
  direction: 1 | -1;
  field: FieldMetadata;
}

const TOKEN_VERSION = 1;

/**
 * The order of a keyset pagination: the caller's sort keys, then `_id` as the tie-break so the
 * order is total and no document is skipped or repeated between pages. Keys must be plain,
 * required and single-valued: a missing value sorts before every other one but no range operator
 * reaches past it, and comparisons are bracketed by BSON type (MongoDB manual, "Comparison/Sort
 * Order"), so an optional field would make documents fall between pages.
 */
export function keysetOrder(scope: ModelScope, sort: unknown): KeysetKey[] {
  const spec = sort === undefined ? {} : sort;
  assertSortable(scope, spec);
  const keys: KeysetKey[] = [];
  for (const [path, direction] of safeEntries(spec as Document, 'sort')) {
    if (direction !== 1 && direction !== -1) throw invalid('INPUT_SORT', `paginate on ${scope.name} sorts by values only; ${path} has ${JSON.stringify(direction)}.`, 'use 1 or -1.');
    keys.push({ path, direction, field: requiredScalar(scope, path) });
  }
  if (!keys.some((k) => k.path === '_id')) keys.push({ path: '_id', direction: keys[keys.length - 1]?.direction ?? 1, field: requiredScalar(scope, '_id') });
  return keys;
}

function requiredScalar(scope: ModelScope, path: string): FieldMetadata {
  const { chain, unresolved } = walkPath(scope.shape, path.split('.'));
  const field = chain[chain.length - 1];
  const idField: FieldMetadata = { name: '_id', isArray: false, optional: false, isId: true, bsonType: 'objectId' };
  if (path === '_id') return field ?? idField;
  const ok = field !== undefined && unresolved.length === 0 && !chain.some((f) => f.optional || f.isArray) && !field.embedded && field.bsonType !== 'object';
  if (!ok) {
    throw invalid('INPUT_PAGE_SORT', `paginate on ${scope.name} cannot order by ${path}: keyset pagination needs declared, required, single-valued fields, since a missing value, an array or a document would make documents fall between pages.`,
      `sort by required scalar fields (and ${scope.name}._id, always added as the tie-break), or page with skip/limit through find.`);
  }
  return field;
}

/**
 * A continuation token: the order it belongs to and the boundary document's values of its keys,
 * as canonical Extended JSON in base64url. The keys are plain fields (encrypted ones cannot be
 * sorted on), so a token never carries plaintext of an encrypted field. It is not signed: it is
 * validated as a value when it comes back (same order, one literal of the declared type per key)
 * and only becomes a range condition on those plain fields, which the caller could write as a
 * filter anyway.
 */
export function encodeToken(order: KeysetKey[], item: object): string {
  const values = order.map((k) => k.path.split('.').reduce<unknown>((node, seg) => (node as Document | undefined)?.[seg], item));
  const json = BSON.EJSON.stringify({ v: TOKEN_VERSION, o: order.map((k) => [k.path, k.direction]), k: values }, { relaxed: false });
  return Buffer.from(json, 'utf8').toString('base64url');
}

export function decodeToken(scope: ModelScope, order: KeysetKey[], token: unknown, option: 'after' | 'before'): unknown[] {
  const bad = (why: string) => invalid('INPUT_PAGE_TOKEN', `The ${option} token given to paginate on ${scope.name} ${why}.`, `pass page.next as after, or page.previous as before, from a page of the same query and sort.`);
  if (typeof token !== 'string' || token.length === 0 || token.length > 16_384) throw bad('is not a continuation token');
  let parsed: unknown;
  try {
    parsed = BSON.EJSON.parse(Buffer.from(token, 'base64url').toString('utf8'), { relaxed: false });
  } catch {
    throw bad('cannot be read');
  }
  if (!isPlainObject(parsed) || numberOf(parsed.v) !== TOKEN_VERSION || !Array.isArray(parsed.o) || !Array.isArray(parsed.k)) throw bad('cannot be read');
  const sameOrder = parsed.o.length === order.length && order.every((k, i) => {
    const entry = (parsed as { o: unknown[] }).o[i];
    return Array.isArray(entry) && entry[0] === k.path && numberOf(entry[1]) === k.direction;
  });
  if (!sameOrder) throw bad('belongs to another sort order');
  if (parsed.k.length !== order.length) throw bad('cannot be read');
  return order.map((key, i) => {
    const value = numberOf((parsed as { k: unknown[] }).k[i]);
    const where = `the ${option} token's value of ${scope.name}.${key.path}`;
    if (value === null || value === undefined) throw bad(`has no value for ${key.path}`);
    assertLiteral(value, where);
    // A boundary is one stored value of a plain scalar key: never a pattern, a document or a list of values.
    if (value instanceof RegExp || value instanceof BSONRegExp || Array.isArray(value) || isPlainObject(value)) throw bad(`holds a pattern, a document or an array for ${key.path}, not a value`);
    checkFilterValue(key.field, value, where);
    return value;
  });
}

/** Canonical Extended JSON reads int32 and double as wrappers; the model's reads give them as numbers (a Long stays a Long). */
function numberOf(value: unknown): unknown {
  return value instanceof Int32 || value instanceof Double ? value.valueOf() : value;
}

/**
 * The documents strictly past the boundary in the direction of reading:
 * k1 > v1, or k1 = v1 and k2 > v2, and so on (> becomes < for descending keys, and both flip
 * when reading backwards).
 */
export function boundaryFilter(order: KeysetKey[], values: unknown[], backwards: boolean): Document {
  const branches = order.map((key, i) => {
    const ascending = (key.direction === 1) !== backwards;
    const branch: Document = {};
    for (let j = 0; j < i; j++) branch[order[j].path] = { $eq: values[j] };
    branch[key.path] = { [ascending ? '$gt' : '$lt']: values[i] };
    return branch;
  });
  return branches.length === 1 ? branches[0] : { $or: branches };
}

/** The sort of the query that reads one page: the order, reversed when reading backwards. */
export function sortFor(order: KeysetKey[], backwards: boolean): Document {
  return Object.fromEntries(order.map((k) => [k.path, backwards ? -k.direction : k.direction]));
}

export interface PageRequest {
  sort?: unknown;
  limit?: unknown;
  after?: unknown;
  before?: unknown;
  projection?: unknown;
}

/**
 * A projection of paginate must load every key of the order (and `_id`): the tokens are made of
 * the first and last item's values of those keys. Rather than load fields the caller left out
 * (which the result type would not show), a projection that leaves one out is refused; the caller
 * lists the sort keys, and the result type then has them. Only plain inclusion (1, true) counts as
 * loading a key: a computed value there would not be the stored one the range condition compares.
 */
export function assertProjectionKeepsOrder(scope: ModelScope, order: KeysetKey[], projection: unknown): void {
  if (projection === undefined) return;
  if (!isPlainObject(projection)) return; // the find it is passed to names the problem
  const entries = safeEntries(projection, 'projection');
  const drops = (v: unknown) => v === 0 || v === false;
  const inclusion = entries.some(([k, v]) => k !== '_id' && !drops(v));
  const covers = (key: string, path: string) => path === key || path.startsWith(`${key}.`);
  // A sort key (or _id) computed by the projection would make the tokens of whatever it was computed from.
  const computed = order.map((k) => k.path).filter((path) => entries.some(([k, v]) => covers(k, path) && !(v === 0 || v === 1 || typeof v === 'boolean')));
  if (computed.length) {
    throw invalid('INPUT_PAGE_PROJECTION', `The projection of paginate on ${scope.name} computes ${computed.join(', ')}, which the continuation tokens are made of.`,
      `keep them as stored (${computed.map((p) => `${p}: 1`).join(', ')}) and compute other names.`);
  }
  const missing = order.map((k) => k.path).filter((path) => {
    if (path === '_id') return entries.some(([k, v]) => k === '_id' && drops(v));
    if (!inclusion) return entries.some(([k, v]) => drops(v) && covers(k, path));
    return !entries.some(([k, v]) => (v === 1 || v === true) && covers(k, path));
  });
  if (missing.length) {
    throw invalid('INPUT_PAGE_PROJECTION', `The projection of paginate on ${scope.name} leaves out ${missing.join(', ')}, which the continuation tokens are made of.`,
      `load them: add ${missing.map((p) => `${p}: 1`).join(', ')} to an inclusion projection (and keep _id), or leave them out of an exclusion.`);
  }
}

export interface PageOf<R> {
  /** The documents of the page, in the requested order. */
  items: R[];
  /** Pass as `after` for the page that follows; null when none does. */
  next: string | null;
  /** Pass as `before` for the page that precedes; null when none does (as far as this read can tell). */
  previous: string | null;
}

/** Reads one page: one query of limit + 1 documents, the extra one only telling whether more follow. */
export async function readPage<R extends object>(scope: ModelScope, filter: unknown, request: PageRequest, find: (filter: Document, sort: Document, limit: number) => Promise<R[]>): Promise<PageOf<R>> {
  const { limit, after, before } = request;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw invalid('INPUT_OPTIONS', `paginate on ${scope.name} needs limit, a whole number of documents per page (1 or more).`, 'pass { limit: 20 }.');
  if (after !== undefined && before !== undefined) throw invalid('INPUT_OPTIONS', `paginate on ${scope.name} takes after or before, not both.`, 'pass page.next as after to go forward, or page.previous as before to go back.');
  const order = keysetOrder(scope, request.sort);
  assertProjectionKeepsOrder(scope, order, request.projection);
  const backwards = before !== undefined;
  const token = backwards ? before : after;
  const bounded = token === undefined ? filter ?? {} : { $and: [filter ?? {}, boundaryFilter(order, decodeToken(scope, order, token, backwards ? 'before' : 'after'), backwards)] };
  const read = await find(bounded as Document, sortFor(order, backwards), limit + 1);
  const more = read.length > limit;
  const items = read.slice(0, limit);
  if (backwards) items.reverse();
  const first = items[0];
  const last = items[items.length - 1];
  const hasNext = backwards ? true : more;
  const hasPrevious = backwards ? more : token !== undefined;
  return {
    items,
    next: hasNext && last ? encodeToken(order, last) : null,
    previous: hasPrevious && first ? encodeToken(order, first) : null,
  };
}

import type { Document } from 'mongodb';
import type { ModelShape } from '../../metadata/types';
import { copiedFields } from '../encoding/creation';

/**
 * Fills the declared defaults of a new document: a field whose value is undefined gets its
 * `default()` (null stays null: it is the caller saying "no value"). Embedded documents present
 * in `doc` get their own defaults. Returns `doc` itself, or a copy where something was added,
 * so the caller's objects are never changed.
 */
export function withDefaults(shape: ModelShape, doc: Document): Document {
  if (!declaresDefaults(shape)) return doc;
  let out = doc;
  for (const field of shape.fields.values()) {
    let value = doc[field.name];
    if (value === undefined && field.default) value = field.default();
    if (field.embedded) value = embeddedWithDefaults(field.embedded, field.isArray, value);
    if (value !== doc[field.name]) {
      if (out === doc) out = { ...doc };
      out[field.name] = value;
    }
  }
  return out;
}

/** Whether the shape or an embedded shape below it declares a default; most do not, and their documents need no walk. */
const withDefaultsBelow = new WeakMap<ModelShape, boolean>();

function declaresDefaults(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  const known = withDefaultsBelow.get(shape);
  if (known !== undefined) return known;
  seen.add(shape);
  let found = false;
  for (const field of shape.fields.values()) {
    if (field.default || (field.embedded && !seen.has(field.embedded) && declaresDefaults(field.embedded, seen))) { found = true; break; }
  }
  // A shape inside a cycle is answered without its ancestors' defaults: only the outermost answer is kept.
  if (seen.size === 1 || found) withDefaultsBelow.set(shape, found);
  seen.delete(shape);
  return found;
}

function embeddedWithDefaults(shape: ModelShape, isArray: boolean, value: unknown): unknown {
  if (isArray) {
    if (!Array.isArray(value)) return value;
    const items = value.map((item) => embeddedWithDefaults(shape, false, item));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  // A copy keeps the embedded class's prototype, so hooks and validation still see an instance of it.
  const filled = withDefaults(shape, value as Document);
  return filled === value ? value : Object.assign(Object.create(Object.getPrototypeOf(value)), filled);
}

/**
 * An upsert may insert: the top-level defaults go into `$setOnInsert`, except for fields the
 * update writes itself or the filter may copy into the inserted document (its equalities; see
 * copiedFields). A field the filter only constrains otherwise (`$ne`, `$in` of several) gets its
 * default. Defaults inside embedded documents come with the embedded document the update writes.
 */
export function withUpsertDefaults(shape: ModelShape, update: unknown, filter: unknown): unknown {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) return update;
  const taken = new Set<string>();
  for (const spec of Object.values(update)) {
    if (spec && typeof spec === 'object' && !Array.isArray(spec)) for (const path of Object.keys(spec)) taken.add(path.split('.')[0]);
  }
  for (const field of copiedFields(filter)) taken.add(field);
  const defaults: Document = {};
  for (const field of shape.fields.values()) {
    if (field.default && !taken.has(field.name)) defaults[field.name] = field.default();
  }
  if (Object.keys(defaults).length === 0) return update;
  const given = (update as Document).$setOnInsert;
  return { ...update, $setOnInsert: { ...defaults, ...(given && typeof given === 'object' ? given : {}) } };
}

import type { Document } from 'mongodb';
import type { ModelShape } from '../../metadata/types';

/**
 * Fills the declared defaults of a new document: a field whose value is undefined gets its
 * `default()` (null stays null: it is the caller saying "no value"). Embedded documents present
 * in `doc` get their own defaults. Returns `doc` itself, or a copy where something was added,
 * so the caller's objects are never changed.
 */
export function withDefaults(shape: ModelShape, doc: Document): Document {
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

/** True when some field of the shape, or of a shape it embeds, declares a default. */
export function hasDefaults(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  seen.add(shape);
  for (const field of shape.fields.values()) {
    if (field.default) return true;
    if (field.embedded && !seen.has(field.embedded) && hasDefaults(field.embedded, seen)) return true;
  }
  return false;
}

import type { Document } from 'mongodb';
import { walkPath } from '../../metadata/paths';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { ValidationError } from '../../errors';
import { safeEntries } from './guards';

/** The one error for required fields left empty: it names every such field, never a value. */
export function missingRequired(model: string, paths: readonly string[], fix = 'give each a value, or declare the field optional (@Field({ optional: true }), @Encrypted({ …, optional: true })).'): ValidationError {
  const list = paths.map((p) => `"${p}"`).join(', ');
  return new ValidationError('INPUT_REQUIRED_MISSING',
    `${model}: the required field${paths.length > 1 ? 's' : ''} ${list} ${paths.length > 1 ? 'have' : 'has'} no value (absent, null or undefined).`,
    paths.map((path) => ({ path, rule: 'required', message: 'is required but has no value (absent, null or undefined)' })),
    fix);
}

/**
 * Checks that an update leaves every required field of the model with a value, and gives
 * null/undefined in an optional field its one meaning, "no value": `$set: { f: null }` becomes
 * `$unset: { f: '' }`; in `$setOnInsert` (and on insert) the field is left out. Refused: `$set` or
 * `$setOnInsert` of null/undefined into a required field, `$unset` of one, and `$rename` of one
 * to another name. Paths into free-form objects and array elements are not the model's to judge.
 * Returns the update to send (the input when nothing changes).
 */
export function checkUpdateKeepsRequired(model: ModelShape, update: unknown): unknown {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) return update;
  const missing: string[] = [];
  const unset: Document = {};
  const out: Document = {};
  let dropped = false;
  // Keys are checked before anything is copied: a '__proto__' key would set the copy's prototype.
  for (const [op, spec] of safeEntries(update, `${model.target.name} update`)) {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) { out[op] = spec; continue; }
    if (op === '$set' || op === '$setOnInsert') {
      const kept: Document = {};
      for (const [path, value] of safeEntries(spec, `${model.target.name} ${op}`)) {
        const field = value === null || value === undefined ? declaredAt(model, path) : undefined;
        if (!field) kept[path] = value;
        else if (!field.optional) missing.push(path);
        // $setOnInsert only shapes a new document, where leaving the field out is "no value".
        else if (op === '$set') unset[path] = '';
        if (field?.optional) dropped = true;
      }
      out[op] = kept;
    } else {
      if (op === '$unset' || op === '$rename') {
        for (const path of Object.keys(spec as Document)) if (declaredAt(model, path)?.optional === false) missing.push(path);
      }
      out[op] = spec;
    }
  }
  if (missing.length) throw missingRequired(model.target.name, missing);
  if (!dropped) return update;
  if (Object.keys(unset).length) out.$unset = { ...(out.$unset as Document | undefined), ...unset };
  // An operator emptied here would be refused by the server; with nothing left at all, the update is a no-op.
  for (const op of ['$set', '$setOnInsert']) if (out[op] && Object.keys(out[op]).length === 0) delete out[op];
  if (Object.keys(out).length === 0) out.$setOnInsert = {};
  return out;
}

/** The declared field a path names exactly (not an element of it, not a key inside a free-form object). */
function declaredAt(model: ModelShape, path: string): FieldMetadata | undefined {
  const walk = walkPath(model, path.split('.'));
  if (walk.unresolved.length > 0 || walk.endsInElement) return undefined;
  const field = walk.chain[walk.chain.length - 1];
  return field?.isId ? undefined : field;
}

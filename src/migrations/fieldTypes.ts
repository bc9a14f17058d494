import type { MetadataRegistry } from '../metadata/registry';
import { renamedFieldsOf } from '../metadata/renamedFrom';
import type { ModelShape } from '../metadata/types';

/**
 * The declared type of every plain field path, for the snapshot: a scalar's BSON type,
 * 'object' for an embedded document, 'array<T>' for arrays. Encrypted paths are left out (the
 * snapshot's encrypted entries carry their type), and so is everything inside them.
 */
export function plainFieldTypes(shape: ModelShape, prefix = ''): Record<string, string> {
  const types: Record<string, string> = {};
  for (const field of shape.fields.values()) {
    if (field.encrypted) continue;
    const path = prefix + field.name;
    if (field.embedded) {
      types[path] = field.isArray ? 'array<object>' : 'object';
      Object.assign(types, plainFieldTypes(field.embedded, `${path}.`));
    } else {
      types[path] = field.isArray ? `array<${field.itemBsonType ?? 'unknown'}>` : (field.bsonType ?? 'unknown');
    }
  }
  return types;
}

/** A rename: in `namespace`, the field at `from` is now at `to` (the same parent, a new last name). */
export interface RenameHint {
  namespace: string;
  from: string;
  to: string;
}

/**
 * The renames the models declare with @RenamedFrom, parents before their fields: a field's
 * `from` names its parent by the parent's current name, because the parent is renamed first.
 */
export function declaredRenames(registry: MetadataRegistry): RenameHint[] {
  return [...registry].flatMap((model) => renamesIn(model, model.namespace, ''));
}

function renamesIn(shape: ModelShape, namespace: string, prefix: string): RenameHint[] {
  const previous = renamedFieldsOf(shape.target);
  return [...shape.fields.values()].flatMap((field) => {
    const earlier = previous.get(field.name);
    const own = earlier ? [{ namespace, from: prefix + earlier, to: prefix + field.name }] : [];
    return [...own, ...(field.embedded && !field.encrypted ? renamesIn(field.embedded, namespace, `${prefix}${field.name}.`) : [])];
  });
}

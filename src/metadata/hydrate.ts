import { isPlainDocument } from '../bson/documents';
import { fromStoredBson, needsReadConversion } from './storedForm';
import type { ModelMetadata, ModelShape } from './types';

type Hydrator = (doc: Record<string, unknown>) => object;

const compiled = new WeakMap<ModelShape, Hydrator>();

/**
 * Turns a document as the driver returns it into an instance of the model class, embedded
 * documents into instances of theirs. Values are taken over as they are, so ObjectId,
 * Binary (a still-encrypted subtype 6 value too), Long, Date… stay real BSON/JS instances,
 * and keys the model does not declare are kept.
 *
 * Declared types whose driver form would not survive a write back are converted to the one
 * JavaScript type docs/models.md promises (long → Long, symbol → BSONSymbol, int and double →
 * number), so a read-modify-write never changes the stored type.
 *
 * Same result as class-transformer's plainToInstance with the decorators' @Type/@Transform,
 * without its per-value reflection: the mapper for a shape is built once and cached.
 *
 * Reads never invent values: the instance is made from the class's prototype without running
 * its constructor, so class field initializers (`createdAt = new Date()`) neither add a field
 * the stored document lacks nor replace one it has. Initializers are values of objects the
 * application creates with `new` (docs/entities.md).
 */
export function hydrate<T = unknown>(model: ModelShape, doc: Record<string, unknown>): T {
  // A collection holding several classes: the discriminator says which one the document is.
  const variants = (model as Partial<ModelMetadata>).variants;
  const variant = variants === undefined ? undefined : variants.byValue.get(doc[variants.field] as string);
  return hydratorFor(variant ?? model)(doc) as T;
}

function hydratorFor(shape: ModelShape): Hydrator {
  let hydrator = compiled.get(shape);
  if (!hydrator) {
    hydrator = compile(shape);
    compiled.set(shape, hydrator);
  }
  return hydrator;
}

function compile(shape: ModelShape): Hydrator {
  const prototype = shape.target.prototype as object;
  const nested = new Map<string, (value: unknown) => unknown>();
  for (const field of shape.fields.values()) {
    if (!field.embedded) {
      if (field.bsonType === 'int' || field.bsonType === 'double') {
        // A number is already what the read returns (most values of such a field): only a wrapper needs converting.
        nested.set(field.name, (value) => (typeof value === 'number' ? value : fromStoredBson(value, field)));
      } else if (needsReadConversion(field.bsonType) || (field.bsonType === 'array' && needsReadConversion(field.itemBsonType))) {
        nested.set(field.name, (value) => fromStoredBson(value, field));
      }
      continue;
    }
    const embedded = field.embedded;
    // Resolved lazily: building every nested mapper up front would recurse through the whole tree for nothing.
    // Kept once resolved, so each embedded document does not pay a WeakMap lookup.
    let resolved: Hydrator | undefined;
    const one = (value: unknown): unknown => (isPlainDocument(value) ? (resolved ??= hydratorFor(embedded))(value) : value);
    nested.set(field.name, field.isArray ? (value) => (Array.isArray(value) ? value.map(one) : one(value)) : one);
  }
  return (doc) => {
    const instance = Object.create(prototype) as Record<string, unknown>;
    for (const key of Object.keys(doc)) {
      // A '__proto__' key would swap the instance's prototype instead of setting a field.
      if (key === '__proto__') continue;
      const convert = nested.get(key);
      instance[key] = convert === undefined ? doc[key] : convert(doc[key]);
    }
    return instance;
  };
}

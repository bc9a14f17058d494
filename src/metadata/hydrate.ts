import { isPlainDocument } from '../bson/documents';
import { fromStoredBson, needsReadConversion } from './storedForm';
import type { ModelMetadata, ModelShape } from './types';

type Hydrator = (doc: Record<string, unknown>) => object;

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
  return compiledFor(shapeOf(model, doc)).copy(doc) as T;
}

/**
 * hydrate() for a document nothing else holds (one the read deserialized, and decrypted in place):
 * the document itself becomes the instance, its embedded documents instances of theirs, so a read
 * allocates no second copy of every document (about 12 µs saved per document of the ODM
 * benchmark's nested model). The result is what hydrate() returns for it (a test compares the two);
 * where the class or one of its ancestors has an accessor or a read-only property, which
 * hydrate()'s assignments would run or respect, that document is copied as hydrate() copies it.
 */
export function hydrateOwned<T = unknown>(model: ModelShape, doc: Record<string, unknown>): T {
  return compiledFor(shapeOf(model, doc)).own(doc) as T;
}

/** A collection holding several classes: the discriminator says which one the document is. */
function shapeOf(model: ModelShape, doc: Record<string, unknown>): ModelShape {
  const variants = (model as Partial<ModelMetadata>).variants;
  const variant = variants === undefined ? undefined : variants.byValue.get(doc[variants.field] as string);
  return variant ?? model;
}

interface Compiled {
  readonly copy: Hydrator;
  readonly own: Hydrator;
}

const compiled = new WeakMap<ModelShape, Compiled>();

function compiledFor(shape: ModelShape): Compiled {
  let found = compiled.get(shape);
  if (!found) {
    found = compile(shape);
    compiled.set(shape, found);
  }
  return found;
}

function compile(shape: ModelShape): Compiled {
  const prototype = shape.target.prototype as object;
  const copying = new Map<string, (value: unknown) => unknown>();
  const owning = new Map<string, (value: unknown) => unknown>();
  for (const field of shape.fields.values()) {
    if (!field.embedded) {
      let convert: ((value: unknown) => unknown) | undefined;
      if (field.bsonType === 'int' || field.bsonType === 'double') {
        // A number is already what the read returns (most values of such a field): only a wrapper needs converting.
        convert = (value) => (typeof value === 'number' ? value : fromStoredBson(value, field));
      } else if (needsReadConversion(field.bsonType) || (field.bsonType === 'array' && needsReadConversion(field.itemBsonType))) {
        convert = (value) => fromStoredBson(value, field);
      }
      if (convert) {
        copying.set(field.name, convert);
        owning.set(field.name, convert);
      }
      continue;
    }
    const embedded = field.embedded;
    // Resolved lazily: building every nested mapper up front would recurse through the whole tree for nothing.
    // Kept once resolved, so each embedded document does not pay a WeakMap lookup.
    let resolved: Compiled | undefined;
    const copyOne = (value: unknown): unknown => (isPlainDocument(value) ? (resolved ??= compiledFor(embedded)).copy(value) : value);
    const ownOne = (value: unknown): unknown => (isPlainDocument(value) ? (resolved ??= compiledFor(embedded)).own(value) : value);
    copying.set(field.name, field.isArray ? (value) => (Array.isArray(value) ? value.map(copyOne) : copyOne(value)) : copyOne);
    owning.set(field.name, field.isArray ? (value) => (Array.isArray(value) ? eachInPlace(value, ownOne) : ownOne(value)) : ownOne);
  }
  const copy: Hydrator = (doc) => {
    const instance = Object.create(prototype) as Record<string, unknown>;
    for (const key of Object.keys(doc)) {
      // A '__proto__' key would swap the instance's prototype instead of setting a field.
      if (key === '__proto__') continue;
      const convert = copying.get(key);
      instance[key] = convert === undefined ? doc[key] : convert(doc[key]);
    }
    return instance;
  };
  if (!assignsAsDefines(prototype)) return { copy, own: copy };
  const conversions = [...owning];
  const own: Hydrator = (doc) => {
    // As copy() leaves it out: an own '__proto__' key (BSON reads one as a key, not as the prototype).
    if (Object.hasOwn(doc, '__proto__')) delete doc.__proto__;
    for (let i = 0; i < conversions.length; i++) {
      const [name, convert] = conversions[i];
      if (Object.hasOwn(doc, name)) doc[name] = convert(doc[name]);
    }
    // Last: the document is a plain object while its values are replaced, so no setter of the class runs.
    return Object.setPrototypeOf(doc, prototype) as object;
  };
  return { copy, own };
}

function eachInPlace(items: unknown[], convert: (value: unknown) => unknown): unknown[] {
  for (let i = 0; i < items.length; i++) items[i] = convert(items[i]);
  return items;
}

/**
 * Whether assigning a key to an object of this prototype makes the same own data property as the
 * key already has in the document: true unless the class or an ancestor below Object.prototype
 * defines an accessor (an assignment runs its setter) or a read-only property (an assignment is
 * refused). Object.prototype's own accessor, __proto__, is never assigned (see copy()).
 */
function assignsAsDefines(prototype: object): boolean {
  for (let p: object | null = prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(p))) {
      if (descriptor.get !== undefined || descriptor.set !== undefined || descriptor.writable === false) return false;
    }
  }
  return true;
}

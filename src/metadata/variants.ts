/*
 * Single-collection inheritance: a @Model class with a `discriminator` field and @Variant
 * subclasses stored in its collection. The collection's model is the union of every variant's
 * fields, so one schema map and one validator cover them all; a path two variants declare
 * differently (another encryption, key or type) could not be described by one schema, and is a
 * definition error naming both.
 */
import { definitionError, show } from './definitionError';
import { rawClassFor, rawHierarchy } from './store';
import type { FieldMetadata, KeyRef, ModelMetadata } from './types';

/** Every class decorated with @Variant, in definition order; a @Model class finds its own among them. */
const declared: Function[] = [];

/**
 * Stores instances of this subclass of a @Model({ discriminator }) class in that class's
 * collection, with `value` in the discriminator field. On the @Model class itself it names the
 * value of documents of the base class.
 */
export function Variant(value: string): ClassDecorator {
  return (target) => {
    rawClassFor(target).variant = value;
    declared.push(target);
  };
}

/** The model of a collection with variants: the union of their fields, and each variant by value. */
export function withVariants(base: ModelMetadata, field: string, resolve: (variant: Function) => ModelMetadata): ModelMetadata {
  const site = { declaredOn: base.target, property: field };
  const tag = base.fields.get(field);
  if (!tag || tag.bsonType !== 'string' || tag.encrypted || tag.isId) {
    throw definitionError('MODEL_DISCRIMINATOR_FIELD', site,
      tag ? 'the discriminator must be a plain string field (queries filter on it, so it cannot be encrypted)' : `the discriminator names no declared field of ${base.target.name}`,
      `declare it on ${base.target.name}: @Field() ${field}!: string`);
  }
  const byValue = new Map<string, ModelMetadata>();
  const union = new Map(base.fields);
  const owners = new Map<string, Function>([...base.fields.keys()].map((name) => [name, base.target]));
  const indexes = new Map(base.indexes.map((i) => [JSON.stringify(i), i]));
  for (const target of declared.filter((c) => c === base.target || base.target.isPrototypeOf(c))) {
    if (nearestModel(target) !== base.target) continue;
    const value = rawClassFor(target).variant!;
    const variantSite = { declaredOn: target };
    if (typeof value !== 'string' || value === '') {
      throw definitionError('MODEL_VARIANT_VALUE', variantSite, `the variant value ${show(value)} is not a non-empty string`, `@Variant('${target.name.toLowerCase()}')`);
    }
    const taken = byValue.get(value);
    if (taken) {
      throw definitionError('MODEL_VARIANT_DUPLICATE', variantSite, `the value ${show(value)} already names ${taken.target.name}`, 'give each variant its own value');
    }
    const metadata = target === base.target ? base : resolve(target);
    // Every write of the collection stamps it, whichever repository it goes through: one set of stamps, the base's.
    const stamps = (m: ModelMetadata) => JSON.stringify(Object.entries(m.entity.stamps).sort());
    if (stamps(metadata) !== stamps(base)) {
      throw definitionError('MODEL_VARIANT_STAMPS', variantSite,
        `${target.name} declares other timestamps or version (@CreatedAt, @UpdatedAt, @Version) than ${base.target.name}; updates and save() through ${base.target.name}'s repository would not stamp them, and a stale save would not be caught`,
        `declare the stamps on ${base.target.name}, which every variant shares`);
    }
    for (const variantField of metadata.fields.values()) {
      const known = union.get(variantField.name);
      if (!known) {
        // Absent from documents of the other variants: optional in the collection's model, and
        // without the variant's default (which inserts apply through the variant's own model).
        const { default: _variantDefault, ...shared } = variantField;
        union.set(variantField.name, { ...shared, optional: true });
        owners.set(variantField.name, target);
      } else if (!sameDefinition(known, variantField)) {
        const other = owners.get(variantField.name)!;
        throw definitionError('MODEL_VARIANT_CONFLICT', { declaredOn: target, property: variantField.name, model: base.target },
          `${other.name}.${variantField.name} (${describe(known)}) and ${target.name}.${variantField.name} (${describe(variantField)}) share one collection, whose schema map and validator can describe the path only one way`,
          `declare ${variantField.name} the same way in both, or rename it in one of them`);
      }
    }
    for (const index of metadata.indexes) indexes.set(JSON.stringify(index), index);
    byValue.set(value, { ...metadata, variant: { base: base.target, field, value } });
  }
  const collectionIndexes = [...indexes.values()];
  for (const [value, metadata] of byValue) byValue.set(value, { ...metadata, indexes: collectionIndexes });
  return { ...base, fields: union, indexes: collectionIndexes, variants: { field, byValue } };
}

/** The metadata of one variant class, from the model of its collection. */
export function variantOf(collection: ModelMetadata, target: Function): ModelMetadata {
  const variant = [...(collection.variants?.byValue.values() ?? [])].find((v) => v.target === target);
  if (variant) return variant;
  throw definitionError('MODEL_VARIANT_WITHOUT_DISCRIMINATOR', { declaredOn: target },
    `${collection.target.name}, whose collection the variant would share, declares no discriminator`,
    `@Model({ db: '${collection.db}', collection: '${collection.collection}', discriminator: 'kind' }) on ${collection.target.name}, with @Field() kind!: string`);
}

function nearestModel(target: Function): Function | undefined {
  return rawHierarchy(target).reverse().find(({ raw }) => raw.model)?.ctor;
}

function sameDefinition(a: FieldMetadata, b: FieldMetadata): boolean {
  return describe(a) === describe(b) && a.embedded?.target === b.embedded?.target;
}

function describe(field: FieldMetadata): string {
  const type = field.embedded ? `${field.isArray ? 'array of ' : ''}${field.embedded.target.name}` : `${field.bsonType ?? 'any'}${field.itemBsonType ? ` of ${field.itemBsonType}` : ''}`;
  const spec = field.encrypted;
  return spec ? `${type}, ${spec.algorithm} under ${keyText(spec.key)}` : `${type}, not encrypted`;
}

function keyText(key: KeyRef): string {
  switch (key.kind) {
    case 'altName': return `key '${key.altName}'`;
    case 'altNameFromField': return `the key named by ${key.pointer}`;
    case 'altNameFunction': return 'a key chosen by a function';
    case 'id': return `key ${key.id.toUUID().toHexString()}`;
  }
}

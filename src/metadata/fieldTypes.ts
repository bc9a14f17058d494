import { inferBsonType, isBsonType, NUMBER_STORAGE } from './bsonTypes';
import { definitionError, show, type Site } from './definitionError';
import type { RawProperty } from './store';
import type { BsonType } from './types';

export interface ValueType {
  bsonType?: BsonType;
  itemBsonType?: BsonType;
  isArray: boolean;
}

/** The stored type of a property, from its decorators and, failing those, its TypeScript type. */
export function valueTypeOf(prop: RawProperty, site: Site): ValueType {
  if (prop.embedded) {
    const bsonType = prop.embedded.isArray ? 'array' : 'object';
    const explicit = explicitBsonType(prop, site);
    if (explicit && explicit !== bsonType) {
      throw definitionError('MODEL_BSONTYPE_CONFLICT', site, `an embedded ${bsonType === 'array' ? 'array' : 'document'} is stored as '${bsonType}', but the decorator says '${explicit}'`,
        'drop the bsonType option');
    }
    return { bsonType, isArray: prop.embedded.isArray };
  }
  const inferred = inferBsonType(prop.designType);
  if (prop.arrayField) {
    const of = checked(prop.arrayField.of, site, 'ArrayField', 'of');
    checkCompatible(inferred, 'array', site);
    return { bsonType: 'array', itemBsonType: of, isArray: true };
  }
  const explicit = explicitBsonType(prop, site);
  if (explicit) checkCompatible(inferred, explicit, site);
  const bsonType = explicit ?? inferred ?? (prop.id ? 'objectId' : undefined);
  if (bsonType === 'array' && !explicit && !prop.encrypted) {
    throw definitionError('MODEL_ARRAY_ITEMS', site, 'an array field needs to say what its elements are',
      `@ArrayField({ of: 'string' }) for scalars, or @EmbeddedArray(() => Item) for documents`);
  }
  if (bsonType === undefined && !prop.encrypted && prop.designType === undefined) {
    // TypeScript writes design:type for every decorated property when emitDecoratorMetadata is on;
    // none at all means the code was not compiled by tsc with that option.
    throw definitionError('MODEL_DECORATOR_METADATA_MISSING', site,
      'the class carries no decorator metadata (design:type), so the BSON type cannot be inferred. The likely cause is a runner that drops it (tsx, esbuild, esbuild-register, jiti, Vite) or emitDecoratorMetadata off in tsconfig.json',
      `compile with tsc (or swc with decoratorMetadata) with "experimentalDecorators": true and "emitDecoratorMetadata": true and run the emitted JavaScript, or give the type explicitly: @Field({ bsonType: 'string' })`);
  }
  if (bsonType === undefined && !prop.encrypted) {
    throw definitionError('MODEL_BSONTYPE_MISSING', site,
      `the BSON type cannot be inferred from the property type (design:type is ${describeDesignType(prop.designType)})`,
      `@Field({ bsonType: 'string' }) with the stored type, or @Embedded(() => Class) for a document`);
  }
  return { bsonType, isArray: bsonType === 'array' };
}

function explicitBsonType(prop: RawProperty, site: Site): BsonType | undefined {
  const given: Array<[string, BsonType]> = [];
  if (prop.id?.bsonType !== undefined) given.push(['Id', checked(prop.id.bsonType, site, 'Id', 'bsonType')]);
  if (prop.field?.bsonType !== undefined) given.push(['Field', checked(prop.field.bsonType, site, 'Field', 'bsonType')]);
  const encryptedType = prop.encrypted?.bsonType;
  if (encryptedType !== undefined) {
    const single = Array.isArray(encryptedType) && encryptedType.length === 1 ? encryptedType[0] : encryptedType;
    // Several types, or none in an array, are the encryption rules' concern; they report it with context.
    if (!Array.isArray(single)) given.push(['Encrypted', checked(single, site, 'Encrypted', 'bsonType')]);
  }
  const distinct = new Set(given.map(([, type]) => type));
  if (distinct.size > 1) {
    throw definitionError('MODEL_BSONTYPE_CONFLICT', site,
      `the decorators disagree on the BSON type (${given.map(([d, t]) => `@${d}: '${t}'`).join(', ')})`,
      'give bsonType once, on one decorator');
  }
  return given[0]?.[1];
}

/** Types no written value could keep: js-bson cannot write and read them back as themselves, or null means "absent". */
const UNREPRESENTABLE: Partial<Record<BsonType, string>> = {
  dbPointer: 'js-bson reads a stored dbPointer as a DBRef and writes that back as an embedded document, so a value never survives a read-modify-write',
  null: 'Strongbox reads null as "no value" (the field is left out, or refused when required), so a field that can only hold null could never be written',
  undefined: 'js-bson reads the BSON undefined as null and never writes it (it drops or nulls JavaScript undefined), so no value of this type can be written',
};

/** Refuses a declared type (of the field or of its elements) that no written value could keep. */
export function checkRepresentable(valueType: ValueType, site: Site): void {
  for (const type of [valueType.bsonType, valueType.itemBsonType]) {
    const why = type === undefined ? undefined : UNREPRESENTABLE[type];
    if (!why) continue;
    throw definitionError('MODEL_BSONTYPE_UNREPRESENTABLE', site, `'${type}' cannot be declared: ${why}`,
      type === 'dbPointer' ? `store the reference as a DBRef-shaped @Field({ bsonType: 'object' }) or as the target's ObjectId` : 'leave the field out (declare it optional) instead of storing a value of this type');
  }
}

function checked(value: unknown, site: Site, decorator: string, option: string): BsonType {
  if (isBsonType(value)) return value;
  throw definitionError('MODEL_BSONTYPE_UNKNOWN', site, `${show(value)} is not a BSON type`,
    `@${decorator}({ ${option}: … }) with one of 'string', 'int', 'long', 'double', 'decimal', 'bool', 'date', 'objectId', 'binData', 'object', 'array', 'timestamp', 'regex'`);
}

function checkCompatible(inferred: BsonType | undefined, declared: BsonType, site: Site): void {
  if (inferred === undefined || inferred === declared) return;
  if (inferred === 'double' && NUMBER_STORAGE.has(declared)) return;
  throw definitionError('MODEL_BSONTYPE_CONFLICT', site,
    `the property's TypeScript type stores as '${inferred}', but the decorator says '${declared}'`,
    `make the property type match '${declared}', or drop the bsonType option`);
}

function describeDesignType(designType: unknown): string {
  return typeof designType === 'function' && designType.name ? designType.name : 'unknown';
}

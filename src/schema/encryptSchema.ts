import type { Binary } from 'mongodb';
import { ALGORITHM_NAMES } from '../crypto/blob';
import { definitionError } from '../metadata/definitionError';
import type { BsonType, EncryptionSpec, FieldMetadata, ModelMetadata, ModelShape } from '../metadata/types';
import { schemaKeyId, type KeyAltNameResolver } from './keyIds';

export { ALGORITHM_NAMES } from '../crypto/blob';

export interface EncryptKeyword {
  keyId?: Binary[] | string;
  algorithm: string;
  bsonType?: BsonType;
}

export interface EncryptRule {
  encrypt: EncryptKeyword;
}

export interface ObjectRule {
  bsonType: 'object';
  encryptMetadata?: { keyId: Binary[] | string };
  properties: Record<string, SchemaRule>;
}

export interface ArrayRule {
  bsonType: 'array';
  items: ObjectRule;
}

export type SchemaRule = EncryptRule | ObjectRule | ArrayRule;

/** Where the two consumers of encryption rules differ. */
interface Dialect {
  /**
   * Automatic encryption (mongocryptd / crypt_shared) refuses `encrypt` under `items`; a
   * server validator accepts it and then enforces every element.
   */
  encryptInArrays: boolean;
  /** Keys chosen by a function have no keyId; a validator can still demand encryption without naming the key. */
  functionKeys: 'refuse' | 'omitKeyId';
}

/** The object rule for a model: encrypted fields, and embedded documents that contain any. */
export function modelRule(model: ModelMetadata, resolver: KeyAltNameResolver | undefined, dialect: Dialect): ObjectRule {
  const walk = new RuleWalk(model, resolver, dialect);
  const properties = walk.properties(model, []);
  const rule: ObjectRule = { bsonType: 'object', properties };
  if (!walk.usesModelKey || !model.defaultKey || model.defaultKey.kind === 'altNameFunction') return rule;
  // Key order follows MongoDB's documentation: bsonType, encryptMetadata, properties.
  return { bsonType: 'object', encryptMetadata: { keyId: schemaKeyId(model.defaultKey, resolver) }, properties };
}

class RuleWalk {
  usesModelKey = false;

  constructor(
    private readonly model: ModelMetadata,
    private readonly resolver: KeyAltNameResolver | undefined,
    private readonly dialect: Dialect,
  ) {}

  properties(shape: ModelShape, path: string[]): Record<string, SchemaRule> {
    const properties: Record<string, SchemaRule> = {};
    for (const field of shape.fields.values()) {
      const rule = this.fieldRule(shape, field, [...path, field.name]);
      if (rule) properties[field.name] = rule;
    }
    return properties;
  }

  private fieldRule(shape: ModelShape, field: FieldMetadata, path: string[]): SchemaRule | undefined {
    if (field.encrypted) return { encrypt: this.encryptKeyword(shape, field.encrypted, path) };
    if (!field.embedded) return undefined;
    const properties = this.properties(field.embedded, path);
    if (Object.keys(properties).length === 0) return undefined;
    const object: ObjectRule = { bsonType: 'object', properties };
    if (!field.isArray) return object;
    if (!this.dialect.encryptInArrays) {
      throw definitionError('SCHEMA_ENCRYPT_IN_ARRAY', site(this.model, shape, path),
        `the array's documents have encrypted fields (${Object.keys(properties).map((name) => [...path, name].join('.')).join(', ')}), but automatic encryption cannot encrypt inside array elements (MongoDB refuses \`encrypt\` under \`items\`), so this model has no schema-map form`,
        'use explicit encryption for this model, or encrypt the whole array with @Encrypted({ algorithm: \'Random\' })');
    }
    return { bsonType: 'array', items: object };
  }

  private encryptKeyword(shape: ModelShape, spec: EncryptionSpec, path: string[]): EncryptKeyword {
    const keyword: EncryptKeyword = { algorithm: ALGORITHM_NAMES[spec.algorithm] };
    if (spec.bsonType !== undefined) keyword.bsonType = spec.bsonType;
    if (spec.inheritsModelKey && spec.key.kind !== 'altNameFunction') {
      this.usesModelKey = true;
      return keyword;
    }
    if (spec.key.kind === 'altNameFunction') {
      if (this.dialect.functionKeys === 'omitKeyId') return keyword;
      throw definitionError('SCHEMA_FUNCTION_KEY', site(this.model, shape, path),
        'the data key is chosen by a function, which has no schema-map form (automatic encryption only takes key ids or a JSON pointer)',
        'use explicit encryption for this model, or name the key with keyAltName: \'name\', a JSON pointer such as \'/tenantKey\', or keyId');
    }
    // Key order follows the examples of the MongoDB manual's CSFLE pages: keyId, algorithm, bsonType.
    return { keyId: schemaKeyId(spec.key, this.resolver), ...keyword };
  }
}

function site(model: ModelMetadata, shape: ModelShape, path: string[]) {
  return { declaredOn: shape.target, property: path[path.length - 1], model: model.target, path: path.join('.') };
}

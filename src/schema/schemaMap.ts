import { MetadataRegistry } from '../metadata/registry';
import type { ModelMetadata } from '../metadata/types';
import { modelRule, type ObjectRule } from './encryptSchema';
import type { KeyAltNameResolver } from './keyIds';

/** The `schemaMap` of the driver's `autoEncryption` options, keyed by 'db.collection'. */
export type SchemaMap = Record<string, ObjectRule>;

/**
 * Automatic-encryption rules for every model, including models without encrypted fields:
 * a local entry stops an automatic client from trusting whatever schema the server offers.
 * Throws for models automatic encryption cannot express (fields inside array elements, keys
 * chosen by a function).
 */
export function buildSchemaMap(models: MetadataRegistry | Iterable<ModelMetadata>, resolver?: KeyAltNameResolver): SchemaMap {
  const map: SchemaMap = {};
  for (const model of models) {
    map[model.namespace] = modelRule(model, resolver, { encryptInArrays: false, functionKeys: 'refuse' });
  }
  return map;
}

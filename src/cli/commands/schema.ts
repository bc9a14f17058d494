import { BSON } from 'mongodb';
import { MetadataRegistry } from '../../metadata/registry';
import { buildEncryptionPlan } from '../../schema/encryptionPlan';
import type { KeyAltNameResolver } from '../../schema/keyIds';
import { buildSchemaMap } from '../../schema/schemaMap';
import { buildValidator, type EncryptionValidator } from '../../schema/validator';

export interface SchemaCommandOptions {
  /** Data key ids for the key alt names the models use. */
  resolver?: KeyAltNameResolver;
}

/**
 * `strongbox schema`: the schema map for automatic encryption and the validators for
 * server-side enforcement, from one set of models, as canonical Extended JSON (key ids as
 * `{"$binary": …, "subType": "04"}`, readable by mongosh and every driver). Validators are
 * listed only for collections with encrypted fields: applying an empty one with collMod
 * would just remove whatever validator the collection had.
 */
export function schemaCommand(models: MetadataRegistry | Function[], options: SchemaCommandOptions = {}): string {
  const registry = models instanceof MetadataRegistry ? models : new MetadataRegistry(models);
  const validators: Record<string, EncryptionValidator> = {};
  for (const model of registry) {
    if (buildEncryptionPlan(model).paths.length > 0) validators[model.namespace] = buildValidator(model, options.resolver);
  }
  const output = { schemaMap: buildSchemaMap(registry, options.resolver), validators };
  return BSON.EJSON.stringify(output, undefined, 2, { relaxed: false });
}

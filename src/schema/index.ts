export { buildSchemaMap, type SchemaMap } from './schemaMap';
export { buildValidator, type EncryptionValidator } from './validator';
export { buildEncryptionPlan, type EncryptionPlan, type EncryptedPath, type PathLookup } from './encryptionPlan';
export { collectKeyAltNames, type KeyAltNameResolver } from './keyIds';
export {
  ALGORITHM_NAMES, type EncryptKeyword, type EncryptRule, type ObjectRule, type ArrayRule, type SchemaRule,
} from './encryptSchema';

export { Model, Id, Field, Embedded, EmbeddedArray, ArrayField, Encrypted, Index, CompoundIndex } from './decorators';
export type { Deterministic, Random, EncryptionKind } from './brands';
export type {
  ModelOptions, IdOptions, FieldOptions, EmbeddedOptions, ArrayFieldOptions, EncryptedOptions, IndexOptions,
  CompoundIndexOptions, KeyOptions, KeyAltNameOption,
} from './options';
export type {
  Algorithm, BsonType, KeyRef, EncryptionSpec, FieldMetadata, ModelShape, ModelMetadata, IndexSpec, IndexDirection,
} from './types';
export { MetadataRegistry } from './registry';
export { Ref, type RefOptions } from './ref';
export { hydrate } from './hydrate';
export { RenamedFrom, renamedFieldsOf } from './renamedFrom';

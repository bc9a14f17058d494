export { Model, Id, Field, Embedded, EmbeddedArray, ArrayField, Encrypted, Index, CompoundIndex } from './decorators';
export { CreatedAt, UpdatedAt, Version, BeforeInsert, AfterInsert, BeforeUpdate, AfterUpdate, BeforeDelete, AfterDelete, AfterLoad } from './entityDecorators';
export type { Deterministic, Random, EncryptionKind } from './brands';
export type {
  ModelOptions, IdOptions, FieldOptions, EmbeddedOptions, ArrayFieldOptions, EncryptedOptions, IndexOptions,
  CompoundIndexOptions, KeyOptions, KeyAltNameOption, DefaultOption,
} from './options';
export type {
  Algorithm, BsonType, KeyRef, EncryptionSpec, FieldMetadata, ModelShape, ModelMetadata, IndexSpec, IndexDirection,
  EntityMetadata, HookEvent, StampKind,
} from './types';
export { MetadataRegistry } from './registry';
export { Variant } from './variants';
export { Ref, type RefOptions } from './ref';
export { hydrate } from './hydrate';
export { RenamedFrom, renamedFieldsOf } from './renamedFrom';

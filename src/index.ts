/**
 * Strongbox: a TypeScript data mapper for MongoDB with model-driven client-side field level
 * encryption. This is the API an application uses; operations tooling has its own entry points
 * (`strongbox/migrations`, `strongbox/keys`, `strongbox/audit`, `strongbox/testing`), and
 * everything else is internal.
 */
import 'reflect-metadata';

export { createClient } from './client/createClient';
// Type-only: applications get a client from createClient and repositories from client.repository().
export type { StrongboxClient } from './client/strongboxClient';
export type { Transaction } from './client/transaction';
export type { SyncIndexesOptions, IndexSyncReport, IndexChange } from './client/indexSync';
export type {
  StrongboxConfig, KmsConfig, KeyVaultConfig, MasterKeyDescription, Environment, EncryptionMode, KmsProviderName,
  AwsKmsOptions, AzureKmsOptions, GcpKmsOptions, KmipKmsOptions, StrongboxDriverOption,
} from './config/strongboxConfig';
export type { MigrationsConfig, BackfillWrite } from './config/migrations';
export type { LocalKmsOptions } from './crypto/masterKey';
export type { TlsOptions, KmsTlsOptions } from './tls/options';

export { Model, Id, Field, Embedded, EmbeddedArray, ArrayField, Encrypted, Index, CompoundIndex, Ref, RenamedFrom } from './metadata';
export type { RefOptions } from './metadata';
export { Variant, CreatedAt, UpdatedAt, Version, BeforeInsert, AfterInsert, BeforeUpdate, AfterUpdate, BeforeDelete, AfterDelete, AfterLoad } from './metadata';
export type { Deterministic, Random, ModelOptions, FieldOptions, EncryptedOptions, IndexOptions, Algorithm, BsonType } from './metadata';
export { validate } from './repository/entity/validation';

export type { Repository, RepositoryOptions, FindOptions, UpdateOptions, BulkOperation, PageOptions, Page, WatchOptions, AggregateOptions } from './repository/repository';
export type { StrongboxCursor } from './repository/cursor';
export type { StrongboxChangeStream } from './repository/changeStream';
export { lookup } from './repository/lookup';
export type { PipelineResult, LookupStage } from './repository/aggregateTypes';
export type {
  Filter, UpdateFilter, ArrayFilter, IdOf, Sort, SortDirection, Projection, Projected, ReadResult, KeysetSort, DistinctPath, DistinctValue, RefKeys, RefPaths, Populated, InsertDoc, Replacement, Plain, Paths, PathValue,
  ChangeEvent, InsertEvent, UpdateEvent, ReplaceEvent, DeleteEvent, CollectionEvent, UpdateDescription, UpdatedFields, ResumeToken, ChangeStreamStage, ChangeEventDocument,
} from './repository/types';
export { UndecryptableValue } from './stored/undecryptable';

// What a migration file and its code steps name; running migrations is `strongbox/migrations`.
export type {
  Migration, Operation, KeySpec, IndexDefinition, ValidatorJson, Safety, RunOperation, CodeStepContext, EachBatchOptions, EachBatchResult,
} from './migrations';

export {
  StrongboxError, SetupError, ConfigError, TlsError, ModelDefinitionError, EncryptedQueryError, InvalidInputError,
  KeyError, DecryptionError, EncryptionError, MigrationError, UnsupportedByServerError,
  ValidationError, ConcurrencyError, HookError, type ValidationIssue,
} from './errors';
/** The codes each error class carries (docs/errors.md): `err.code` narrows after `instanceof`. */
export type { StrongboxErrorCode, CodeOf, ErrorClassName } from './errorCatalogue';

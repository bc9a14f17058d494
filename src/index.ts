/**
 * Strongbox: a TypeScript data mapper for MongoDB with model-driven client-side field level
 * encryption. This is the whole public API; everything else is internal.
 */
import 'reflect-metadata';

export { createClient } from './client/createClient';
export { StrongboxClient } from './client/strongboxClient';
export type { Transaction } from './client/transaction';
export type { SyncIndexesOptions, IndexSyncReport, IndexChange } from './client/indexSync';
export type {
  StrongboxConfig, KmsConfig, KeyVaultConfig, MasterKeyDescription, Environment, EncryptionMode, KmsProviderName,
  AwsKmsOptions, AzureKmsOptions, GcpKmsOptions, KmipKmsOptions,
} from './config/strongboxConfig';
export type { LocalKmsOptions } from './crypto/masterKey';
export { inspectEncryptedBlob, type EncryptedBlobInfo } from './crypto/blob';

export { Model, Id, Field, Embedded, EmbeddedArray, ArrayField, Encrypted, Index, CompoundIndex, MetadataRegistry, Ref, RenamedFrom } from './metadata';
export type { RefOptions } from './metadata';
export { Variant, CreatedAt, UpdatedAt, Version, BeforeInsert, AfterInsert, BeforeUpdate, AfterUpdate, BeforeDelete, AfterDelete, AfterLoad } from './metadata';
export type { Deterministic, Random, ModelOptions, FieldOptions, EncryptedOptions, IndexOptions, Algorithm, BsonType } from './metadata';
export { validate } from './repository/entity/validation';
export { buildSchemaMap, buildValidator } from './schema';

export { Repository, type RepositoryOptions, type FindOptions, type UpdateOptions, type BulkOperation, type PageOptions, type Page } from './repository/repository';
export { StrongboxCursor } from './repository/cursor';
export type {
  Filter, UpdateFilter, ArrayFilter, IdOf, Sort, SortDirection, Projection, Projected, ReadResult, KeysetSort, DistinctPath, DistinctValue, RefKeys, Populated, InsertDoc, Replacement, Plain, Paths, PathValue, FieldKind, MaxPathDepth,
} from './repository/types';
export { UndecryptableValue } from './repository/reader';

export type { TlsOptions, KmsTlsOptions } from './tls/options';

export { MigrationRunner, createMigration, streamProgress, defineLoadedMigration, loadMigrations } from './migrations';
export type {
  Migration, Operation, KeySpec, IndexDefinition, ValidatorJson, Safety, MigrationsConfig, RunOptions, RunnerOptions, RunReport,
  MigrationStatus, MigrationState, LoadedMigration, ProgressFactory, CreateMigrationOptions, CreatedMigration,
  RunOperation, CodeStepContext, EachBatchOptions, EachBatchResult,
} from './migrations';
export { ensureModelKeys, listKeys, createKey, getKey, addKeyAltName, removeKeyAltName, rewrapKeys, rotateLocalMasterKey, deleteKey, keyDeletionImpact } from './keys';
export type { EnsuredKey, KeyDescription, KeySelector, CreateKeyOptions, RotationResult, KeyDeletionImpact } from './keys';
export { auditModel, formatAudit } from './audit';
export { repairPlan } from './migrations/repair';
export type { AuditReport, PathAudit, KeyUsage, AuditOptions } from './audit';

export {
  StrongboxError, SetupError, ConfigError, TlsError, ModelDefinitionError, EncryptedQueryError, InvalidInputError,
  KeyError, DecryptionError, EncryptionError, MigrationError, UnsupportedByServerError,
  ValidationError, ConcurrencyError, HookError, type ValidationIssue,
} from './errors';
/** The codes each error class carries (docs/errors.md): `err.code` narrows after `instanceof`. */
export type { StrongboxErrorCode, CodeOf, ErrorClassName } from './errorCatalogue';

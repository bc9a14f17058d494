export type {
  Migration, Operation, OperationKind, KeySpec, IndexDefinition, ValidatorJson, Json, Safety, LoadedMigration,
  CreateCollectionOperation, DropCollectionOperation, CreateIndexOperation, DropIndexOperation, SetValidatorOperation,
  EncryptFieldOperation, DecryptFieldOperation, DeleteKeyOperation, RunOperation,
} from './types';
export type { CodeStepContext } from './codeSteps/context';
export type { EachBatchOptions, EachBatchResult } from './codeSteps/eachBatch';
export { MigrationRunner, type RunnerOptions, type RunOptions, type RunReport, type MigrationStatus, type MigrationState } from './runner';
export { createMigration, type CreateMigrationOptions, type CreatedMigration } from './generator';
export { takeSnapshot, readSnapshot, SNAPSHOT_FILE, type ModelSnapshot, type CollectionSnapshot } from './snapshot';
export { diffSnapshots } from './differ';
export type { MigrationPlan, PlannedStep } from './plan';
export { renderMigration } from './render';
export { loadMigrations, defineLoadedMigration } from './loader';
export type { MigrationsConfig, BackfillWrite } from '../config/migrations';
export { migrationSettings, type MigrationSettings } from './settings';
export { streamProgress, silentProgress, type Progress, type ProgressFactory } from './progress';
export { MigrationLock } from './lock';
export { safetyOf } from './operations/safety';

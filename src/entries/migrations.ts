/**
 * `strongbox/migrations`: running, generating and loading migrations from code (the CLI's
 * `strongbox migration` does the same). The types a migration file imports stay in the main
 * entry point, so a compiled migration needs nothing from here.
 */
export { MigrationRunner, type RunnerOptions, type RunOptions, type RunReport, type MigrationStatus, type MigrationState } from '../migrations/runner';
export { createMigration, type CreateMigrationOptions, type CreatedMigration } from '../migrations/generator';
export { loadMigrations, defineLoadedMigration } from '../migrations/loader';
export type { LoadedMigration } from '../migrations/types';
export { streamProgress, type Progress, type ProgressFactory } from '../migrations/progress';

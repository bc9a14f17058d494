/**
 * `strongbox/migrations`: loading and running migrations from code (the CLI's `strongbox
 * migration` does the same; `strongbox migration create` writes them). The types a migration file
 * imports stay in the main entry point, so a compiled migration needs nothing from here.
 */
export { MigrationRunner, type RunnerOptions, type RunOptions, type RunReport, type MigrationStatus, type MigrationState } from '../migrations/runner';
export { loadMigrations, defineLoadedMigration } from '../migrations/loader';
export type { LoadedMigration } from '../migrations/types';
export { streamProgress, type Progress, type ProgressFactory } from '../migrations/progress';

import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { BackfillWrite, MigrationsConfig } from '../config/migrations';
import { ConfigError } from '../errors';

export interface MigrationSettings {
  folder: string;
  compiledFolder: string;
  importFrom: string;
  database: string;
  batchSize: number;
  lockTtlMs: number;
  backfillWrite: BackfillWrite;
}

const SETTINGS_DEFAULTS = { folder: 'migrations', importFrom: 'strongbox', database: 'strongbox', batchSize: 1000, lockTtlMs: 60_000, backfillWrite: 'auto' } as const;

/** Resolves the configuration section against the working directory. */
export function migrationSettings(config: MigrationsConfig | undefined, cwd = process.cwd()): MigrationSettings {
  const section = config ?? {};
  const folder = resolve(cwd, section.folder ?? SETTINGS_DEFAULTS.folder);
  const batchSize = section.batchSize ?? SETTINGS_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new ConfigError('CONFIG_MIGRATIONS_BATCH_SIZE', `migrations.batchSize ${String(batchSize)} is not an integer between 1 and 100000.`, { fix: 'use for example 1000.' });
  }
  const lockTtlMs = section.lockTtlMs ?? SETTINGS_DEFAULTS.lockTtlMs;
  if (!Number.isFinite(lockTtlMs) || lockTtlMs < 500) {
    throw new ConfigError('CONFIG_MIGRATIONS_LOCK_TTL', `migrations.lockTtlMs ${String(lockTtlMs)} is too short to renew the lock reliably.`, { fix: 'use at least 500 ms (default 60000).' });
  }
  const backfillWrite = section.backfillWrite ?? SETTINGS_DEFAULTS.backfillWrite;
  if (!['auto', 'update', 'replace'].includes(backfillWrite)) {
    throw new ConfigError('CONFIG_MIGRATIONS_BACKFILL_WRITE', `migrations.backfillWrite "${String(backfillWrite)}" is not 'auto', 'update' or 'replace'.`, { fix: "leave it out ('auto') unless you know the server's update cost." });
  }
  return {
    folder,
    compiledFolder: section.compiledFolder ? resolve(cwd, section.compiledFolder) : defaultCompiledFolder(folder, cwd, section.folder ?? SETTINGS_DEFAULTS.folder),
    importFrom: section.importFrom ?? SETTINGS_DEFAULTS.importFrom,
    database: section.database ?? SETTINGS_DEFAULTS.database,
    batchSize,
    lockTtlMs,
    backfillWrite,
  };
}

function defaultCompiledFolder(folder: string, cwd: string, relative: string): string {
  const holdsJs = existsSync(folder) && readdirSync(folder).some((f) => f.endsWith('.js'));
  return holdsJs || isAbsolute(relative) ? folder : join(resolve(cwd, 'dist'), relative);
}

import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MigrationError } from '../errors';
import { migrationChecksum } from './checksum';
import { validateOperation } from './operations';
import type { LoadedMigration, Migration } from './types';

/** A migration's id is its file name: a sortable timestamp, then the name given to `migration create`. */
export const MIGRATION_ID = /^\d{8}T\d{6}_[A-Za-z0-9_]+$/;

/** Checks the shape of a migration (from a file or from code) and gives it its id and checksum. */
export function defineLoadedMigration(id: string, migration: unknown, file?: string): LoadedMigration {
  const where = file ?? `migration ${id}`;
  const m = migration as Partial<Migration> | undefined;
  if (!m || !Array.isArray(m.up) || !Array.isArray(m.down)) {
    throw new MigrationError('MIGRATION_FILE_SHAPE', `${where} does not export a migration ({ up: [...], down: [...] }) as default.`, {
      fix: 'export default an object with up and down arrays of operations (as `strongbox migration create` writes them).',
    });
  }
  m.up.forEach((op, i) => validateOperation(op, `${where}, up[${i}]`));
  m.down.forEach((op, i) => validateOperation(op, `${where}, down[${i}]`));
  return { id, migration: m as Migration, checksum: migrationChecksum(m as Migration), ...(file ? { file } : {}) };
}

/**
 * The compiled migrations (.js) of a folder, in id order. TypeScript projects compile their
 * migrations with tsc like the rest of the code; the runner loads the output.
 */
export function loadMigrations(folder: string): LoadedMigration[] {
  if (!existsSync(folder)) return [];
  const files = readdirSync(folder).filter((f) => f.endsWith('.js') && MIGRATION_ID.test(basename(f, '.js'))).sort();
  return files.map((f) => {
    const file = join(folder, f);
    let loaded: { default?: unknown };
    try {
      // Always the file as it is now: a long-running process must see an edited migration.
      delete require.cache[require.resolve(file)];
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(file);
    } catch (err) {
      throw new MigrationError('MIGRATION_FILE_LOAD', `Loading ${file} failed: ${(err as Error).message}`, { fix: 'run it with node to see the full error; recompile the migrations with tsc.', cause: err });
    }
    return defineLoadedMigration(basename(f, '.js'), loaded.default ?? loaded, file);
  });
}

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigrationError } from '../errors';
import type { MetadataRegistry } from '../metadata/registry';
import { diffSnapshots } from './differ';
import type { MigrationPlan } from './plan';
import { MIGRATION_ID } from './loader';
import { renderMigration } from './render';
import { declaredRenames, type RenameHint } from './fieldTypes';
import { resolveRenames, type RenameRequest } from './renameHints';
import { readSnapshot, SNAPSHOT_FILE, takeSnapshot, writeSnapshot, type ModelSnapshot } from './snapshot';

export interface CreateMigrationOptions {
  registry: MetadataRegistry;
  /** Folder of the migration sources and the snapshot. */
  folder: string;
  /** Module the generated file imports the Migration type from (default 'strongbox'). */
  importFrom?: string;
  name: string;
  /** Write a migration even when the models did not change, for hand-written steps. */
  empty?: boolean;
  /** Renames the models do not declare with @RenamedFrom (the CLI's --rename). */
  renames?: RenameRequest[];
  now?: Date;
}

/** What planning the changes needs: the models, the folder of the snapshot, the renames given. */
type PlanChangesOptions = Pick<CreateMigrationOptions, 'registry' | 'folder' | 'renames'>;

export interface CreatedMigration {
  id: string;
  file: string;
  plan: MigrationPlan;
}

/**
 * `strongbox migration create <name>`: compares the models with the last snapshot, writes the
 * migration for the difference and then the new snapshot. Returns undefined (and writes
 * nothing) when nothing changed, unless `empty` asks for a file anyway.
 */
export function createMigration(options: CreateMigrationOptions): CreatedMigration | undefined {
  const { plan, next, snapshotFile } = planChanges(options);
  if (plan.up.length === 0 && plan.down.length === 0 && plan.notes.length === 0 && !options.empty) return undefined;
  const created = writeMigrationFile({ ...options, plan, command: `strongbox migration create ${options.name}` });
  writeSnapshot(snapshotFile, next);
  return created;
}

/**
 * What changed between the last snapshot and the models, renames (given and declared) included:
 * the plan `migration create` writes and `migration check` lists. Nothing is written.
 */
export function planChanges(options: PlanChangesOptions): { plan: MigrationPlan; next: ModelSnapshot; snapshotFile: string } {
  const snapshotFile = join(options.folder, SNAPSHOT_FILE);
  const next = takeSnapshot(options.registry);
  const previous = readSnapshot(snapshotFile);
  return { plan: diffSnapshots(previous, next, renamesFor(options, previous, next)), next, snapshotFile };
}

/**
 * The renames from the command line and those the models declare. A declared rename stays in
 * the model after its migration: it counts only while the snapshot still has the old name.
 */
function renamesFor(options: PlanChangesOptions, previous: ModelSnapshot, next: ModelSnapshot): RenameHint[] {
  const given = resolveRenames(options.renames ?? [], previous, next);
  const declared = declaredRenames(options.registry).filter((r) => previous.collections[r.namespace]?.fields.includes(r.from)
    && !given.some((g) => g.namespace === r.namespace && g.to === r.to));
  return [...given, ...declared];
}

export interface WriteMigrationOptions {
  folder: string;
  name: string;
  plan: MigrationPlan;
  /** The command quoted in the file's header. */
  command: string;
  importFrom?: string;
  now?: Date;
}

/** Writes a planned migration as `<folder>/<timestamp>_<name>.ts` (never over an existing file). */
export function writeMigrationFile(options: WriteMigrationOptions): CreatedMigration {
  const name = options.name.trim().replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!name) throw new MigrationError('MIGRATION_NAME', `"${options.name}" has no letters or digits to name a migration by.`, { fix: 'strongbox migration create encrypt_ssn' });
  mkdirSync(options.folder, { recursive: true });
  const id = `${timestamp(nextTime(options.folder, options.now ?? new Date()))}_${name}`;
  const file = join(options.folder, `${id}.ts`);
  writeFileSync(file, renderMigration(options.plan, { id, command: options.command, importFrom: options.importFrom ?? 'strongbox' }), { flag: 'wx' });
  return { id, file, plan: options.plan };
}

/**
 * Migrations run in id order, so a new one must sort after every existing one: its time is now,
 * or one second after the latest existing migration when that is not earlier (two migrations
 * created within a second, or a clock behind the author's colleague's).
 */
function nextTime(folder: string, now: Date): Date {
  const latest = readdirSync(folder).map((f) => f.replace(/\.(ts|js)$/, '')).filter((f) => MIGRATION_ID.test(f)).sort().pop();
  if (!latest) return now;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})_/.exec(latest)!;
  const after = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + 1000;
  return now.getTime() >= after ? now : new Date(after);
}

/** UTC, to the second: 20250102T030405. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, '');
}

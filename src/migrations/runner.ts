import type { Db } from 'mongodb';
import type { StrongboxClient } from '../client/strongboxClient';
import type { MigrationsConfig } from '../config/migrations';
import { MigrationError, StrongboxError, UnsupportedByServerError, withMessage } from '../errors';
import { BackfillState } from './backfill/state';
import { join } from 'node:path';
import { recordBaseline, type BaselineReport } from './baseline';
import { Changelog, type AppliedMigration } from './changelog';
import { SNAPSHOT_FILE } from './snapshot';
import { CodeStepRuns } from './codeSteps/runs';
import { loadMigrations } from './loader';
import { MigrationLock } from './lock';
import { handlerFor } from './operations';
import type { StepContext } from './operations/context';
import { safetyOf } from './operations/safety';
import { silentProgress, type ProgressFactory } from './progress';
import { FEATURE_NAMES, probeServer, type ServerInfo } from './server';
import { migrationSettings, type MigrationSettings } from './settings';
import type { LoadedMigration, Operation } from './types';

/** Options of a MigrationRunner. */
export interface RunnerOptions {
  /** The configuration's `migrations` section (folder, database, batch size, lock lifetime, …). */
  settings?: MigrationsConfig;
  /** The migrations to run; default: the compiled files of the configured folder. */
  migrations?: LoadedMigration[];
  /** Where progress lines go (default: nowhere). */
  out?: (line: string) => void;
  progress?: ProgressFactory;
  /** How long to wait for another runner's lock before failing (default 0). */
  lockWaitMs?: number;
}

/** Options of one `up` or `down` run. */
export interface RunOptions {
  /** up: apply up to and including this id; down: revert every migration after it (it stays applied). */
  to?: string;
  /** Print every command that would be sent; send only reads (no lock, no writes, no keys created). */
  dryRun?: boolean;
  /** Allow destructive steps (decrypting, dropping an index or a collection, deleting a key). */
  allowDestructive?: boolean;
  /** Stop with an error where the server lacks a feature, instead of skipping that step with a warning. */
  strict?: boolean;
}

/** Where a migration stands, comparing its file with the changelog. */
export type MigrationState = 'applied' | 'pending' | 'modified' | 'missing';

/** One migration in `status()`: its id, its state and when it was applied. */
export interface MigrationStatus {
  id: string;
  /** modified: applied, but the file's operations changed since; missing: applied, but no file. */
  state: MigrationState;
  appliedAt?: Date;
  /** Steps skipped when it was applied because the server lacked a feature. */
  skipped?: string[];
}

/** What an `up` or `down` run did (or, dry, would do). */
export interface RunReport {
  direction: 'up' | 'down';
  dryRun: boolean;
  /** Ids applied or reverted (or that would be, in a dry run). */
  migrations: string[];
  /** Steps skipped because the server lacks a feature. */
  skipped: string[];
}

/**
 * Applies and reverts migrations: one runner at a time (an atomic lock in the database), each
 * migration recorded in a changelog with the checksum of its operations, every step checked
 * before (already done? then skipped, which makes re-running after a failure safe) and after.
 */
export class MigrationRunner {
  readonly settings: MigrationSettings;
  private readonly out: (line: string) => void;
  private readonly progress: ProgressFactory;
  private migrationsCache?: LoadedMigration[];
  private serverInfo?: Promise<ServerInfo>;

  constructor(private readonly client: StrongboxClient, private readonly options: RunnerOptions = {}) {
    this.settings = migrationSettings(options.settings);
    this.out = options.out ?? (() => undefined);
    this.progress = options.progress ?? silentProgress;
    this.migrationsCache = options.migrations;
  }

  private get db(): Db {
    return this.client.dataClient.db(this.settings.database);
  }

  private migrations(): LoadedMigration[] {
    this.migrationsCache ??= loadMigrations(this.settings.compiledFolder);
    const seen = new Set<string>();
    for (const m of this.migrationsCache) {
      if (seen.has(m.id)) throw new MigrationError('MIGRATION_DUPLICATE_ID', `Two migrations have the id ${m.id}.`, { fix: 'rename one of the files.' });
      seen.add(m.id);
    }
    return [...this.migrationsCache].sort((a, b) => a.id.localeCompare(b.id));
  }

  private server(): Promise<ServerInfo> {
    this.serverInfo ??= probeServer(this.client.dataClient);
    return this.serverInfo;
  }

  /** The runner holding the migration lock now, if any. */
  lockHolder(): Promise<string | undefined> {
    return MigrationLock.holder(this.db);
  }

  async status(): Promise<MigrationStatus[]> {
    const applied = new Map((await new Changelog(this.db).applied()).map((a) => [a._id, a]));
    const files = new Map(this.migrations().map((m) => [m.id, m]));
    const ids = [...new Set([...files.keys(), ...applied.keys()])].sort();
    return ids.map((id) => {
      const record = applied.get(id);
      const file = files.get(id);
      if (!record) return { id, state: 'pending' };
      const state: MigrationState = !file ? 'missing' : file.checksum !== record.checksum ? 'modified' : 'applied';
      return { id, state, appliedAt: record.appliedAt, ...(record.skipped?.length ? { skipped: record.skipped } : {}) };
    });
  }

  async up(options: RunOptions = {}): Promise<RunReport> {
    return this.run('up', options, (migrations, applied) => {
      if (options.to !== undefined && !migrations.some((m) => m.id === options.to)) throw unknownTarget(options.to);
      return migrations.filter((m) => !applied.has(m.id) && (options.to === undefined || m.id <= options.to));
    });
  }

  async down(options: RunOptions = {}): Promise<RunReport> {
    return this.run('down', options, (migrations, applied) => {
      const appliedIds = [...applied.keys()].sort().reverse();
      if (options.to !== undefined && !appliedIds.includes(options.to) && !migrations.some((m) => m.id === options.to)) throw unknownTarget(options.to);
      const targets = options.to === undefined ? appliedIds.slice(0, 1) : appliedIds.filter((id) => id > options.to!);
      const byId = new Map(migrations.map((m) => [m.id, m]));
      const missing = targets.filter((id) => !byId.has(id));
      if (missing.length) {
        throw new MigrationError('MIGRATION_FILE_MISSING', `Cannot revert ${missing.join(', ')}: applied, but no migration file has that id, so its down steps are unknown.`, {
          fix: `restore the file(s) into ${this.settings.compiledFolder} (compiled), then run down again.`,
        });
      }
      return targets.map((id) => byId.get(id)!);
    });
  }

  /** The changelog, after refusing to go on when an applied migration's file was edited. */
  private async appliedChecked(migrations: LoadedMigration[]): Promise<Map<string, AppliedMigration>> {
    const applied = new Map((await new Changelog(this.db).applied()).map((a) => [a._id, a]));
    const modified = migrations.filter((m) => applied.has(m.id) && applied.get(m.id)!.checksum !== m.checksum);
    if (modified.length) {
      throw new MigrationError('MIGRATION_CHECKSUM_MISMATCH', `Applied migration(s) changed since they were applied: ${modified.map((m) => m.file ?? m.id).join(', ')}. Their operations no longer match the checksum in the changelog, so the database may not be what the files describe.`, {
        fix: 'revert the edit (version control), and put further changes in a new migration (strongbox migration create).',
      });
    }
    return applied;
  }

  /**
   * Selects the migrations, checks permissions, then (unless a dry run) takes the lock and
   * selects again: another runner may have applied or reverted some while this one waited.
   */
  private async run(direction: 'up' | 'down', options: RunOptions, select: Selection): Promise<RunReport> {
    const migrations = this.migrations();
    let applied = await this.appliedChecked(migrations);
    let selected = select(migrations, applied);
    if (options.dryRun) {
      if (selected.length) await this.preview(direction, selected, !options.allowDestructive && destructiveSteps(direction, selected).length > 0);
      else this.out(nothingTo(direction));
      return { direction, dryRun: true, migrations: selected.map((m) => m.id), skipped: [] };
    }
    this.refuseDestructive(direction, selected, options);
    if (direction === 'down') refuseIrreversible(selected);
    if (selected.length === 0) {
      this.out(nothingTo(direction));
      return { direction, dryRun: false, migrations: [], skipped: [] };
    }
    const lock = new MigrationLock(this.db, { ttlMs: this.settings.lockTtlMs, waitMs: this.options.lockWaitMs });
    const note = await lock.acquire();
    if (note) this.out(`Lock: ${note}.`);
    const report: RunReport = { direction, dryRun: false, migrations: [], skipped: [] };
    try {
      applied = await this.appliedChecked(migrations);
      selected = select(migrations, applied);
      this.refuseDestructive(direction, selected, options);
      if (direction === 'down') refuseIrreversible(selected);
      if (selected.length === 0) this.out(nothingTo(direction));
      const outOfOrder = direction === 'up' ? selected.filter((m) => [...applied.keys()].some((id) => id > m.id)).map((m) => m.id) : [];
      if (outOfOrder.length) this.out(`Note: ${outOfOrder.join(', ')} sort(s) before migrations already applied (merged from another branch?); applying them now.`);
      for (const migration of selected) {
        report.skipped.push(...await this.apply(direction, migration, lock, options));
        report.migrations.push(migration.id);
      }
    } finally {
      await lock.release().catch(() => undefined);
    }
    return report;
  }

  private refuseDestructive(direction: 'up' | 'down', selected: LoadedMigration[], options: RunOptions): void {
    const destructive = destructiveSteps(direction, selected);
    if (destructive.length && !options.allowDestructive) {
      throw new MigrationError('MIGRATION_DESTRUCTIVE', `Refusing to run destructive step(s) without permission:\n  - ${destructive.join('\n  - ')}\nNothing was changed.`, {
        fix: 'review them (--dry-run shows every command), then pass --allow-destructive (API: allowDestructive: true).',
      });
    }
  }

  private async apply(direction: 'up' | 'down', migration: LoadedMigration, lock: MigrationLock, options: RunOptions): Promise<string[]> {
    const started = Date.now();
    const steps = stepsOf(migration, direction);
    const skipped: string[] = [];
    const server = await this.server();
    this.out(`${direction === 'up' ? 'Applying' : 'Reverting'} ${migration.id} (${steps.length} step${steps.length === 1 ? '' : 's'})`);
    for (let i = 0; i < steps.length; i++) {
      lock.assertHeld();
      const op = steps[i];
      const handler = handlerFor(op);
      const ctx = this.context(server, `${migration.id}:${direction}:${i}`, lock);
      this.out(`  ${i + 1}. ${handler.describe(op)} [${safetyOf(op)}]`);
      try {
        const check = await handler.check(op, ctx);
        if (check.done) {
          this.out(`     already done${check.note ? ` (${check.note})` : ''}: skipped`);
          continue;
        }
        const note = await handler.execute(op, ctx);
        await handler.verify(op, ctx);
        this.out(`     done${note ? `: ${note}` : ''}`);
      } catch (err) {
        if (err instanceof UnsupportedByServerError) {
          if (options.strict) {
            throw new UnsupportedByServerError(err.code, `Migration ${migration.id}, step ${i + 1} (${handler.describe(op)}): ${err.message} Stopped because of --strict; without it this step is skipped with a warning and the rest runs.`, { cause: err });
          }
          const feature = handler.feature?.(op);
          const lacks = `${server.description} lacks ${feature ? FEATURE_NAMES[feature] : 'a feature this step needs'}`;
          this.out(`     SKIPPED: ${lacks}; continuing with the rest (--strict stops here instead)`);
          skipped.push(`${migration.id}: ${handler.describe(op)}: ${lacks}`);
          continue;
        }
        throw stepFailure(migration, i, handler.describe(op), err);
      }
    }
    const changelog = new Changelog(this.db);
    if (direction === 'up') await changelog.record({ _id: migration.id, checksum: migration.checksum, appliedAt: new Date(), durationMs: Date.now() - started, skipped });
    else await changelog.remove(migration.id);
    await new CodeStepRuns(this.db).clearMigration(migration.id);
    this.out(`${direction === 'up' ? 'Applied' : 'Reverted'} ${migration.id} in ${((Date.now() - started) / 1000).toFixed(1)} s${skipped.length ? ` (${skipped.length} step(s) skipped)` : ''}`);
    return skipped;
  }

  /**
   * Records every migration as applied, and the snapshot as the current models, after an audit
   * confirms the stored data matches them; runs nothing. Under the migration lock.
   */
  async baseline(): Promise<BaselineReport> {
    const lock = new MigrationLock(this.db, { ttlMs: this.settings.lockTtlMs, waitMs: this.options.lockWaitMs });
    const note = await lock.acquire();
    if (note) this.out(`Lock: ${note}.`);
    try {
      return await recordBaseline(this.client, this.db, lock, this.migrations(), join(this.settings.folder, SNAPSHOT_FILE));
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * Lets a code step that says it is not resumable run again after an interruption, once
   * someone has checked the data it touches. `step` is "<migration id>:<up|down>:<index>".
   */
  async releaseCodeStep(step: string): Promise<void> {
    if (!(await new CodeStepRuns(this.db).release(step))) {
      throw new MigrationError('MIGRATION_CODE_STEP_UNKNOWN', `No interrupted code step is recorded as ${step}.`, {
        fix: 'use the step named in the error of the interrupted run ("<migration id>:<up|down>:<index>").',
      });
    }
  }

  private context(server: ServerInfo, step: string, lock: { assertHeld(): void }): StepContext {
    return {
      client: this.client, server, settings: this.settings, state: new BackfillState(this.db), step,
      out: this.out, progress: this.progress, assertLockHeld: () => lock.assertHeld(),
    };
  }

  /** --dry-run: reads only. Prints each step's commands, or why it would be skipped. */
  private async preview(direction: 'up' | 'down', selected: LoadedMigration[], wouldRefuse: boolean): Promise<void> {
    const server = await this.server();
    const { database } = this.settings;
    this.out(`Dry run against ${server.description}: nothing below is sent; only reads were made to prepare it.`);
    this.out(`  take the lock: db.getSiblingDB('${database}').runCommand({"insert":"lock","documents":[{"_id":"<latest lease + 1>","owner":"<this runner>","expiresAt":"<now + ${this.settings.lockTtlMs} ms>"}]})`);
    for (const migration of selected) {
      const steps = stepsOf(migration, direction);
      this.out(`${direction === 'up' ? 'Would apply' : 'Would revert'} ${migration.id} (${steps.length} step${steps.length === 1 ? '' : 's'})`);
      for (let i = 0; i < steps.length; i++) {
        const op = steps[i];
        const handler = handlerFor(op);
        const ctx = this.context(server, `${migration.id}:${direction}:${i}`, { assertHeld() {} });
        const safety = safetyOf(op);
        this.out(`  ${i + 1}. ${handler.describe(op)} [${safety}${safety === 'destructive' ? ', needs --allow-destructive' : ''}]`);
        const check = await handler.check(op, ctx);
        if (check.done) {
          this.out(`     already done${check.note ? ` (${check.note})` : ''}: would be skipped`);
          continue;
        }
        const feature = handler.feature?.(op);
        if (feature && server.knownGaps.has(feature)) this.out(`     the server lacks ${FEATURE_NAMES[feature]}: skipped with a warning (or, with --strict, the run stops here)`);
        for (const line of await handler.preview(op, ctx)) this.out(`     ${line}`);
      }
      this.out(direction === 'up'
        ? `  record: db.getSiblingDB('${database}').runCommand({"update":"changelog","updates":[{"q":{"_id":"${migration.id}"},"u":{"_id":"${migration.id}","checksum":"${migration.checksum}","appliedAt":"<now>"},"upsert":true}]})`
        : `  record: db.getSiblingDB('${database}').runCommand({"delete":"changelog","deletes":[{"q":{"_id":"${migration.id}"},"limit":1}]})`);
    }
    this.out(`  release the lock: db.getSiblingDB('${database}').runCommand({"update":"lock","updates":[{"q":{"_id":"<this lease>","owner":"<this runner>"},"u":{"$set":{"releasedAt":"<now>","expiresAt":"<now>"}}}]})`);
    if (wouldRefuse) this.out('Without --allow-destructive the real run refuses to start: it has destructive steps.');
  }
}

type Selection = (migrations: LoadedMigration[], applied: Map<string, AppliedMigration>) => LoadedMigration[];

function stepsOf(migration: LoadedMigration, direction: 'up' | 'down'): Operation[] {
  return direction === 'up' ? migration.migration.up : migration.migration.down;
}

function destructiveSteps(direction: 'up' | 'down', selected: LoadedMigration[]): string[] {
  return selected.flatMap((m) => stepsOf(m, direction).filter((op) => safetyOf(op) === 'destructive').map((op) => `${m.id}: ${handlerFor(op).describe(op)}`));
}

function refuseIrreversible(selected: LoadedMigration[]): void {
  const irreversible = selected.flatMap((m) => m.migration.down.filter((op) => op.op === 'run' && typeof op.down !== 'function').map((op) => `${m.id}: code step "${(op as { name: string }).name}"`));
  if (irreversible.length) {
    throw new MigrationError('MIGRATION_CODE_STEP_IRREVERSIBLE', `Cannot revert: these code steps have no down function:\n  - ${irreversible.join('\n  - ')}\nNothing was changed.`, {
      fix: 'add a down function to each step, or revert their effect by hand and write a new migration.',
    });
  }
}

function nothingTo(direction: 'up' | 'down'): string {
  return direction === 'up' ? 'Nothing to apply: every migration is applied.' : 'Nothing to revert.';
}

function unknownTarget(id: string): MigrationError {
  return new MigrationError('MIGRATION_UNKNOWN_TARGET', `No migration has the id ${id}.`, { fix: 'use an id listed by `strongbox migration status`.' });
}

function stepFailure(migration: LoadedMigration, index: number, description: string, err: unknown): Error {
  const prefix = `Migration ${migration.id}, step ${index + 1} (${description}) failed: `;
  const resume = ' The migration is not recorded as applied; fix the cause and run it again: completed steps are skipped, backfills resume where they stopped.';
  // A KeyError stays a KeyError with its KEY_* code: callers branch on class and code alike.
  if (err instanceof StrongboxError) return withMessage(err, prefix + err.message + resume);
  return new MigrationError('MIGRATION_STEP_FAILED', prefix + String((err as Error)?.message ?? err) + resume, { cause: err });
}

/**
 * `strongbox migration create | check | up | down | status | unlock | release | baseline`.
 */
import { createClient } from '../../client/createClient';
import type { MigrationsConfig } from '../../config/migrations';
import type { StrongboxConfig } from '../../config/strongboxConfig';
import { ConfigError } from '../../errors';
import { MetadataRegistry } from '../../metadata/registry';
import { createMigration, planChanges } from '../../migrations/generator';
import { parseRenameFlag, type RenameRequest } from '../../migrations/renameHints';
import { MigrationLock } from '../../migrations/lock';
import { streamProgress } from '../../migrations/progress';
import { MigrationRunner, type RunOptions } from '../../migrations/runner';
import { migrationSettings } from '../../migrations/settings';
import { assertMigrationsCompiled, assertModelsCompiled } from '../compiledSources';
import { numberFlag, stringFlag, switchFlag } from './flags';
import type { Command, CommandContext } from './command';

/** The `migrations` section of the configuration. */
export function migrationsSection(config: StrongboxConfig): MigrationsConfig | undefined {
  return config.migrations;
}

const HELP = `Usage:
  strongbox migration create <name> [--empty] [--rename old=new[,…]]
      Compares the models with the last snapshot (<folder>/strongbox-snapshot.json) and writes
      <folder>/<timestamp>_<name>.ts with up and down steps, then the new snapshot. --empty
      writes a migration with no steps (for hand-written ones) when nothing changed. --rename
      says a field was renamed (nested: address.zip=address.postcode; with several models:
      hr.employees:ssn=taxId), so its values move instead of being left behind; the model can
      say it instead with @RenamedFrom('old').
  strongbox migration check [--rename old=new[,…]]
      Exit code 1 when the models differ from the last snapshot, i.e. changed without a
      migration (for CI, after the build); 0 when they match. Lists the changes create would
      write; --rename as for create (a hint that does not fit is refused as create refuses it).
  strongbox migration up [--to ID] [--dry-run] [--allow-destructive] [--strict] [--wait-lock SECONDS]
      Applies pending migrations (up to and including --to).
  strongbox migration down [--to ID] [--dry-run] [--allow-destructive] [--strict]
      Reverts the last applied migration, or every one after --to.
  strongbox migration status [--json]
  strongbox migration unlock
      Removes the migration lock of a runner that died (it also expires by itself).
  strongbox migration baseline
      For a database that existed before Strongbox: audits every model's collection and, when the
      stored data matches the models, records every migration as applied and the snapshot as the
      current models, without running anything. Otherwise lists what differs and records nothing.
  strongbox migration release <migration id>:<up|down>:<index>
      Lets a code step that says it is not resumable run again after an interruption, once
      you have checked and repaired the data it touches (its error names the step).

  --dry-run            print every command that would be sent; send only reads
  --allow-destructive  allow decrypting fields, dropping indexes or collections, deleting keys
  --strict             stop where the server lacks a feature (e.g. collMod on FerretDB) instead of
                       skipping that step with a warning

The CLI loads compiled JavaScript (models need tsc's decorator metadata): compile the project
first. Every subcommand refuses, naming the files, when compiled models or migrations are older
than their TypeScript sources or a migration is not compiled at all.
Configuration (strongbox.config): migrations: { folder: 'migrations', compiledFolder:
'dist/migrations', database: 'strongbox', batchSize: 1000, lockTtlMs: 60000 }.`;

export const migrationCommand: Command = {
  summary: 'generate, apply, revert and list migrations (backfills encryption in batches)',
  help: HELP,
  async run(context) {
    const [sub, ...rest] = context.args.positional;
    context.args.positional = rest;
    switch (sub) {
      case 'create': return create(context);
      case 'check': return check(context);
      case 'up': case 'down': return run(context, sub);
      case 'status': return status(context);
      case 'unlock': return unlock(context);
      case 'release': return release(context);
      case 'baseline': return baseline(context);
      default:
        context.err(sub ? `strongbox migration: unknown subcommand "${sub}".\n\n${HELP}` : HELP);
        return 2;
    }
  },
};

/** `--rename old=new[,…]`, as create and check both take it; `flag` repeats it for a suggested command. */
function renameFlag(context: CommandContext): { renames?: RenameRequest[]; flag: string } {
  const rename = stringFlag(context, 'rename');
  return rename ? { renames: parseRenameFlag(rename), flag: ` --rename ${rename}` } : { flag: '' };
}

async function create(context: CommandContext): Promise<number> {
  const empty = switchFlag(context, 'empty');
  const { renames } = renameFlag(context);
  const name = context.args.positional.join('_');
  if (!name) throw new ConfigError('CLI_MIGRATION_NAME', 'migration create needs a name.', { fix: 'strongbox migration create encrypt_ssn' });
  const config = await context.config();
  assertModelsCompiled(context.configPath()!, 'strongbox migration create');
  const settings = migrationSettings(migrationsSection(config));
  const created = createMigration({ registry: new MetadataRegistry(config.models), folder: settings.folder, importFrom: settings.importFrom, name, empty, renames });
  if (!created) {
    context.out('The models match the last snapshot: no migration written (use --empty for a hand-written one).');
    return 0;
  }
  context.out(`Wrote ${created.file} (${created.plan.up.length} up step(s), ${created.plan.down.length} down step(s)) and updated the snapshot.`);
  for (const note of created.plan.notes) context.out(`  note: ${note}`);
  context.out('Review it, compile it (tsc), then run `strongbox migration up --dry-run` and `strongbox migration up`.');
  return 0;
}

async function check(context: CommandContext): Promise<number> {
  const { renames, flag } = renameFlag(context);
  const config = await context.config();
  assertModelsCompiled(context.configPath()!, 'strongbox migration check');
  const settings = migrationSettings(migrationsSection(config));
  const { plan } = planChanges({ registry: new MetadataRegistry(config.models), folder: settings.folder, renames });
  const changes = [...plan.up.map((step) => step.comment ?? describeOperation(step.operation)), ...plan.notes];
  if (changes.length === 0) {
    context.out('The models match the last snapshot: no migration is missing.');
    return 0;
  }
  context.out(`The models changed since the last migration (${changes.length} change(s)):`);
  for (const change of changes) context.out(`  - ${change}`);
  context.out(`Fix: run \`strongbox migration create <name>${flag}\`, review and commit the migration it writes.`);
  return 1;
}

function describeOperation(operation: { op: string; namespace?: string; path?: string }): string {
  return [operation.op, operation.namespace, operation.path].filter(Boolean).join(' ');
}

async function withRunner<T>(context: CommandContext, command: string, work: (runner: MigrationRunner) => Promise<T>, lockWaitMs?: number): Promise<T> {
  const config = await context.config();
  const settings = migrationSettings(migrationsSection(config));
  assertMigrationsCompiled(settings.folder, settings.compiledFolder, command);
  const client = await createClient(config);
  try {
    const runner = new MigrationRunner(client, {
      settings: migrationsSection(config),
      out: context.out,
      progress: streamProgress(process.stderr),
      ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
    });
    return await work(runner);
  } finally {
    await client.close();
  }
}

async function run(context: CommandContext, direction: 'up' | 'down'): Promise<number> {
  const options: RunOptions = {
    to: stringFlag(context, 'to'),
    dryRun: switchFlag(context, 'dry-run'),
    allowDestructive: switchFlag(context, 'allow-destructive'),
    strict: switchFlag(context, 'strict'),
  };
  const wait = numberFlag(context, 'wait-lock');
  const report = await withRunner(context, `strongbox migration ${direction}`, (runner) => (direction === 'up' ? runner.up(options) : runner.down(options)), wait === undefined ? undefined : wait * 1000);
  if (report.skipped.length) {
    context.out(`${report.skipped.length} step(s) were skipped because the server lacks a feature:`);
    for (const s of report.skipped) context.out(`  - ${s}`);
  }
  return 0;
}

async function status(context: CommandContext): Promise<number> {
  const json = switchFlag(context, 'json');
  const [list, holder] = await withRunner(context, 'strongbox migration status', (runner) => Promise.all([runner.status(), runner.lockHolder()]));
  if (holder && !json) context.out(`A migration runner is active: ${holder}.`);
  if (json) {
    context.out(JSON.stringify(list, null, 2));
  } else if (list.length === 0) {
    context.out('No migrations (none compiled in the configured folder, none applied).');
  } else {
    const label = { applied: 'applied ', pending: 'pending ', modified: 'MODIFIED', missing: 'MISSING ' } as const;
    for (const s of list) {
      const when = s.appliedAt ? s.appliedAt.toISOString().replace('T', ' ').slice(0, 19) : ''.padEnd(19);
      context.out(`  ${label[s.state]}  ${when}  ${s.id}${s.skipped ? `  (${s.skipped.length} step(s) skipped: server lacked a feature)` : ''}`);
    }
    if (list.some((s) => s.state === 'modified')) context.out('MODIFIED: the file\'s operations changed after it was applied; revert the edit and put changes in a new migration.');
    if (list.some((s) => s.state === 'missing')) context.out('MISSING: applied, but no compiled file has that id (not compiled, or deleted).');
  }
  return list.some((s) => s.state === 'modified' || s.state === 'missing') ? 1 : 0;
}

async function unlock(context: CommandContext): Promise<number> {
  const config = await context.config();
  const client = await createClient(config);
  try {
    const removed = await MigrationLock.forceRelease(client.dataClient.db(migrationSettings(migrationsSection(config)).database));
    context.out(removed ? `Released the lock of ${removed}.` : 'No migration lock was held.');
    return 0;
  } finally {
    await client.close();
  }
}

async function release(context: CommandContext): Promise<number> {
  const [step] = context.args.positional;
  if (!step) throw new ConfigError('CLI_MIGRATION_STEP', 'migration release needs the step the interrupted run named.', { fix: 'strongbox migration release 20250301T000000_split_name:up:1' });
  await withRunner(context, 'strongbox migration release', (runner) => runner.releaseCodeStep(step));
  context.out(`Released ${step}: the next run starts it again from the beginning.`);
  return 0;
}

async function baseline(context: CommandContext): Promise<number> {
  const report = await withRunner(context, 'strongbox migration baseline', (runner) => runner.baseline());
  for (const [namespace, documents] of Object.entries(report.audited)) context.out(`  ${namespace}: ${documents} document(s) audited, all as the model says`);
  context.out(`Recorded ${report.recorded.length} migration(s) as applied without running them${report.recorded.length ? ` (${report.recorded.join(', ')})` : ''}; wrote ${report.snapshot}.`);
  return 0;
}

import type { Db } from 'mongodb';
import { auditCollection } from '../audit/audit';
import { formatAudit } from '../audit/format';
import type { StrongboxClient } from '../client/strongboxClient';
import { MigrationError } from '../errors';
import { Changelog } from './changelog';
import type { MigrationLock } from './lock';
import { takeSnapshot, writeSnapshot } from './snapshot';
import type { LoadedMigration } from './types';

export interface BaselineReport {
  /** Migration ids recorded as applied without running. */
  recorded: string[];
  /** Documents audited per collection. */
  audited: Record<string, number>;
  /** The snapshot file written. */
  snapshot: string;
}

/**
 * `strongbox migration baseline`: for a database that existed before Strongbox. An audit of every
 * configured model first: any plaintext at an encrypted path, ciphertext of another algorithm
 * or key, or ciphertext where the model declares none stops it, listing what differs. Then,
 * without running anything, every migration file is recorded as applied and the snapshot is
 * set to the current models, so the next `migration create` starts from here.
 */
export async function recordBaseline(client: StrongboxClient, db: Db, lock: MigrationLock, migrations: LoadedMigration[], snapshotFile: string): Promise<BaselineReport> {
  const changelog = new Changelog(db);
  const applied = await changelog.applied();
  if (applied.length) {
    throw new MigrationError('MIGRATION_BASELINE_APPLIED', `The changelog already records ${applied.length} applied migration(s) (${applied[0]._id}…): this database is managed by migrations, a baseline would hide what they did.`, {
      fix: 'use `strongbox migration up` (a baseline is only for a database that never had Strongbox migrations).',
    });
  }
  const audited: Record<string, number> = {};
  const differences: string[] = [];
  for (const model of client.registry) {
    lock.assertHeld();
    const report = await auditCollection(client, model);
    audited[model.namespace] = report.documents;
    if (!report.consistent) differences.push(...formatAudit(report));
  }
  if (differences.length) {
    throw new MigrationError('MIGRATION_BASELINE_MISMATCH', `The stored data does not match the models, so it cannot be recorded as migrated:\n${differences.join('\n')}\nNothing was recorded.`, {
      fix: 'bring the data to the models first (`strongbox audit --repair-migration NAME` writes the migration that does it), apply it with `strongbox migration up`, then run the baseline again.',
    });
  }
  const now = new Date();
  for (const migration of migrations) {
    lock.assertHeld();
    await changelog.record({ _id: migration.id, checksum: migration.checksum, appliedAt: now, durationMs: 0, skipped: [], baseline: true });
  }
  writeSnapshot(snapshotFile, takeSnapshot(client.registry));
  return { recorded: migrations.map((m) => m.id), audited, snapshot: snapshotFile };
}

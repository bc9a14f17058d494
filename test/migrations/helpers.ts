import { BSON, type Document } from 'mongodb';
import type { MigrationPlan } from '../../src/migrations/differ';
import { defineLoadedMigration } from '../../src/migrations/loader';
import type { LoadedMigration } from '../../src/migrations/types';

/** A planned migration as the runner takes it (what loading the generated file gives). */
export function loaded(id: string, plan: MigrationPlan): LoadedMigration {
  return defineLoadedMigration(id, { up: plan.up.map((s) => s.operation), down: plan.down.map((s) => s.operation) });
}

/** Collects output lines. */
export function lines(): { out: (line: string) => void; text: () => string; all: string[] } {
  const all: string[] = [];
  return { out: (line) => all.push(line), text: () => all.join('\n'), all };
}

/** Documents in _id order as exact BSON (hex), to compare stored data byte for byte. */
export function exactBson(docs: Document[]): string[] {
  return docs.map((d) => Buffer.from(BSON.serialize(d)).toString('hex')).sort();
}

/**
 * The lock lease of the runners in the kill tests: short, so the re-run takes over the killed
 * child's lock within seconds, yet long enough that a runner renews it in time on a loaded
 * machine (with 1 s, renewals every 333 ms were seen to miss under a load of 15 on two cores:
 * the child stopped by itself with MIGRATION_LOCK_LOST before it was killed).
 */
export const CRASH_TEST_LOCK_TTL_MS = 3000;

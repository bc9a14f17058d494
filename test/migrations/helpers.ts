import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BSON, type Document } from 'mongodb';
import type { MigrationPlan } from '../../src/migrations/plan';
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

/** A migration run in a child process (one of this folder's *Child.js scripts), to be killed with SIGKILL mid-way. */
export class ChildRun {
  private readonly child: ChildProcess;
  private text = '';
  private readonly ended: Promise<NodeJS.Signals | null>;

  constructor(script: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [join(__dirname, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => { this.text += d.toString(); });
    this.child.stderr!.on('data', (d: Buffer) => { this.text += d.toString(); });
    this.ended = new Promise((resolve) => this.child.once('exit', (_code, signal) => resolve(signal)));
  }

  /** Everything the child wrote so far, stdout and stderr. */
  output(): string {
    return this.text;
  }

  /**
   * Polls `progress` (a checkpoint read by the test) until it reaches `atLeast` and returns the
   * last reading. Fails if the child ends first, and kills it if that takes over a minute.
   */
  async progressReaches(atLeast: number, progress: () => Promise<number>): Promise<number> {
    const deadline = Date.now() + 60_000;
    for (let reached = 0; ;) {
      if (reached >= atLeast) return reached;
      if (this.child.exitCode !== null) throw new Error(`the child ended before it was killed:\n${this.text}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`the child reached ${reached} of ${atLeast} within 60 s:\n${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 10));
      reached = await progress();
    }
  }

  /** Kills the child with SIGKILL; resolves to the signal that ended it. */
  kill(): Promise<NodeJS.Signals | null> {
    this.child.kill('SIGKILL');
    return this.ended;
  }
}

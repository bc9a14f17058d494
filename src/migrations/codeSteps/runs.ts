import type { Collection, Db } from 'mongodb';

/**
 * What the runner knows of one code step across runs: started and not finished (interrupted,
 * or failed with the error it threw), or finished while the rest of its migration had not.
 * Kept next to the changelog until the migration is recorded applied or reverted.
 */
export interface CodeStepRun {
  /** The step: "<migration id>:<up|down>:<index>". */
  _id: string;
  name: string;
  /** Of the step's source: a record left by an edited step is not reused. */
  fingerprint: string;
  state: 'running' | 'done';
  startedAt: Date;
  finishedAt?: Date;
  /** The message of the error the step threw, when it did. */
  error?: string;
  /** Documents its batch loops had recorded as done when it stopped. */
  processed?: number;
}

const RUNS_COLLECTION = 'code_step_runs';

export class CodeStepRuns {
  private readonly collection: Collection<CodeStepRun>;

  constructor(db: Db) {
    this.collection = db.collection<CodeStepRun>(RUNS_COLLECTION);
  }

  find(step: string): Promise<CodeStepRun | null> {
    return this.collection.findOne({ _id: step });
  }

  async start(step: string, name: string, fingerprint: string): Promise<void> {
    await this.collection.replaceOne({ _id: step }, { name, fingerprint, state: 'running', startedAt: new Date() }, { upsert: true });
  }

  async fail(step: string, error: string, processed: number): Promise<void> {
    await this.collection.updateOne({ _id: step }, { $set: { error, processed } });
  }

  async finish(step: string): Promise<void> {
    await this.collection.updateOne({ _id: step }, { $set: { state: 'done', finishedAt: new Date() }, $unset: { error: '' } });
  }

  /** Forgets the records of a migration once the changelog says it is applied or reverted. */
  async clearMigration(migrationId: string): Promise<void> {
    await this.collection.deleteMany({ _id: { $regex: `^${escapeRegex(migrationId)}:` } });
  }

  /** Releases a step that is not resumable after someone checked the data by hand. */
  async release(step: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: step })).deletedCount === 1;
  }
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import type { Collection, Db, Document } from 'mongodb';

export interface Checkpoint {
  /** The step: "<migration id>:<up|down>:<index>". */
  _id: string;
  namespace: string;
  /** Of the operation, so that a checkpoint is not reused after the pending migration was edited. */
  fingerprint: string;
  /** The _id of the last document of the last batch written. */
  lastId: unknown;
  processed: number;
  changed: number;
  /** Outcome counts of a step that reports them (conversions), so a resumed run reports the whole step. */
  tally?: TallyRecord;
  updatedAt: Date;
}

/** Counts by outcome, and a few _ids of each. */
export interface TallyRecord {
  counts: Record<string, number>;
  examples: Record<string, unknown[]>;
}

/** A rewritten document of a batch that was being replaced, kept until the batch is fully written. */
export interface JournalEntry {
  namespace: string;
  step: string;
  doc: Document;
}

const PROGRESS_COLLECTION = 'backfill_progress';
const JOURNAL_COLLECTION = 'backfill_journal';

/** Where backfills keep what lets them resume after a crash: a checkpoint per step, and the replace journal. */
export class BackfillState {
  readonly progress: Collection<Checkpoint>;
  readonly journal: Collection<JournalEntry>;

  constructor(db: Db) {
    this.progress = db.collection<Checkpoint>(PROGRESS_COLLECTION);
    this.journal = db.collection<JournalEntry>(JOURNAL_COLLECTION);
  }

  checkpoint(step: string): Promise<Checkpoint | null> {
    // Exact BSON types: the _id of the last document is compared with $gt when resuming.
    return this.progress.findOne({ _id: step }, { promoteValues: false, promoteLongs: false }) as Promise<Checkpoint | null>;
  }

  async save(checkpoint: Omit<Checkpoint, 'updatedAt'>): Promise<void> {
    const { _id, ...rest } = checkpoint;
    await this.progress.updateOne({ _id }, { $set: { ...rest, updatedAt: new Date() } }, { upsert: true });
  }

  async clear(step: string): Promise<void> {
    await this.progress.deleteOne({ _id: step });
  }
}

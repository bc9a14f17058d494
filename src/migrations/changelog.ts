import type { Collection, Db } from 'mongodb';

/** One applied migration, as the changelog collection records it. */
export interface AppliedMigration {
  _id: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  /** Steps skipped because the server lacks a feature (recorded so `status` can show them). */
  skipped: string[];
  /** Recorded by `migration baseline`: the data already matched, nothing was run. */
  baseline?: boolean;
}

const CHANGELOG_COLLECTION = 'changelog';

/** The changelog: which migrations are applied, with the checksum of what was applied. */
export class Changelog {
  private readonly collection: Collection<AppliedMigration>;

  constructor(db: Db) {
    this.collection = db.collection<AppliedMigration>(CHANGELOG_COLLECTION);
  }

  async applied(): Promise<AppliedMigration[]> {
    return this.collection.find({}).sort({ _id: 1 }).toArray();
  }

  async record(entry: AppliedMigration): Promise<void> {
    // A replace with upsert: re-applying after a manual changelog repair must not fail on the _id.
    await this.collection.replaceOne({ _id: entry._id }, entry, { upsert: true });
  }

  async remove(id: string): Promise<void> {
    await this.collection.deleteOne({ _id: id });
  }
}

import { MongoBulkWriteError, type Collection, type Document } from 'mongodb';
import { bsonTypeNumber } from '../../stored/values';
import type { JournalEntry } from './state';

/** One document whose top-level field `top` is rewritten (the field holds the changed values). */
export interface DocumentChange {
  /** The document as read (promoteValues: false). */
  doc: Document;
  top: string;
  after: unknown;
}

export interface WriteResult {
  written: number;
  /** Documents changed by someone else since they were read; left alone, picked up by the next pass. */
  conflicts: number;
}

export interface BatchWriter {
  /** Finishes whatever an interrupted run left half-written; returns how many documents it touched. */
  recover(): Promise<number>;
  write(changes: DocumentChange[]): Promise<WriteResult>;
  /** The commands a batch sends, for --dry-run. */
  describe(namespace: string, top: string): string[];
}

/**
 * Per document, `$set` of the rewritten field on condition that the field still holds what was
 * read. Each update is atomic, so a crash leaves every document either before or after, and
 * concurrent writers are never overwritten. The right choice wherever an update by _id is cheap.
 */
export class UpdateWriter implements BatchWriter {
  constructor(private readonly collection: Collection) {}

  async recover(): Promise<number> {
    return 0;
  }

  async write(changes: DocumentChange[]): Promise<WriteResult> {
    if (changes.length === 0) return { written: 0, conflicts: 0 };
    const result = await this.collection.bulkWrite(changes.map((c) => ({
      updateOne: { filter: { _id: c.doc._id, [c.top]: { $eq: c.doc[c.top] } }, update: { $set: { [c.top]: c.after } } },
    })), { ordered: false });
    return { written: result.matchedCount, conflicts: changes.length - result.matchedCount };
  }

  describe(namespace: string, top: string): string[] {
    return [`bulkWrite on ${namespace}, one per document to change: { updateOne: { filter: { _id: <id>, ${top}: { $eq: <value as read> } }, update: { $set: { ${top}: <rewritten value> } } } }`];
  }
}

/**
 * For servers where each update statement scans the whole collection (FerretDB v1: a
 * 20,000-document backfill would take minutes per thousand documents), a batch is rewritten
 * as one delete and one insert. To survive a crash between the two, the new documents are
 * first written to a journal; a later run replays the journal (delete those _ids, insert the
 * journaled documents), which is idempotent at every point of interruption. The documents
 * are briefly absent between delete and insert, and a concurrent write to them can be lost:
 * stop writers to the collection while such a backfill runs.
 */
export class ReplaceWriter implements BatchWriter {
  constructor(
    private readonly collection: Collection,
    private readonly journal: Collection<JournalEntry>,
    private readonly namespace: string,
    private readonly step: string,
  ) {}

  async recover(): Promise<number> {
    const entries = await this.journal.find({ namespace: this.namespace }, { promoteValues: false, promoteLongs: false }).toArray();
    if (entries.length === 0) return 0;
    await this.replace(entries.map((e) => e.doc), false);
    await this.journal.deleteMany({ namespace: this.namespace });
    return entries.length;
  }

  async write(changes: DocumentChange[]): Promise<WriteResult> {
    if (changes.length === 0) return { written: 0, conflicts: 0 };
    const docs = changes.map((c) => withField(c.doc, c.top, c.after));
    await this.journal.insertMany(docs.map((doc) => ({ namespace: this.namespace, step: this.step, doc })), { ordered: false });
    const inserted = await this.replace(docs, true);
    await this.journal.deleteMany({ namespace: this.namespace, step: this.step });
    return { written: inserted, conflicts: docs.length - inserted };
  }

  /** Returns how many documents were inserted (an _id inserted meanwhile by a writer wins). */
  private async replace(docs: Document[], sortedById: boolean): Promise<number> {
    const ids = docs.map((d) => d._id);
    // FerretDB evaluates the filter on every document; a range on sorted _ids of one type lets
    // it skip the $in for most of them (measured: half the time). The $in alone decides what goes.
    const first = ids[0];
    const last = ids[ids.length - 1];
    const range = sortedById && bsonTypeNumber(first) === bsonTypeNumber(last) ? { $gte: first, $lte: last } : {};
    await this.collection.deleteMany({ _id: { ...range, $in: ids } });
    try {
      return (await this.collection.insertMany(docs, { ordered: false })).insertedCount;
    } catch (err) {
      const duplicatesOnly = err instanceof MongoBulkWriteError && [err.writeErrors].flat().every((e) => e.code === 11000);
      if (!duplicatesOnly) throw err;
      return err.insertedCount;
    }
  }

  describe(namespace: string, top: string): string[] {
    return [
      `insert into the journal: the rewritten documents of the batch (${top} changed)`,
      `delete from ${namespace}: { _id: { $in: [<ids of the batch>] } }`,
      `insert into ${namespace}: the rewritten documents`,
      'delete the batch from the journal',
    ];
  }
}

/** The document with one top-level field replaced, keeping the field order. */
function withField(doc: Document, top: string, value: unknown): Document {
  const out: Document = {};
  for (const [key, v] of Object.entries(doc)) out[key] = key === top ? value : v;
  return out;
}

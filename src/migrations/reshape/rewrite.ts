import { BSON, type Collection, type Document } from 'mongodb';
import { MigrationError } from '../../errors';
import { afterIdFilter } from '../backfill/afterId';
import type { BackfillState, TallyRecord } from '../backfill/state';
import type { ProgressFactory } from '../progress';

/**
 * What a reshaping step does to one document: values to set and fields to remove, by dotted path
 * with array positions ('contacts.1.fax'). Leaf paths, not whole embedded documents: a server
 * that compares embedded documents by their values alone (FerretDB 1.x does) would otherwise
 * take a renamed document for an unchanged one and skip the write.
 */
export interface DocumentReshape {
  set: Record<string, unknown>;
  unset: string[];
}

/** How many _ids a tally keeps to name in the report. */
const EXAMPLES = 5;

/** Outcome tallies, by name (converted, already, unconvertible, …), with a few _ids per tally for the report. */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, unknown[]>();

  /** The tallies a checkpoint kept, so that a run resumed after a crash reports the whole step. */
  static restored(saved: TallyRecord | undefined): Tally {
    const tally = new Tally();
    for (const [what, n] of Object.entries(saved?.counts ?? {})) tally.counts.set(what, Number(n));
    for (const [what, ids] of Object.entries(saved?.examples ?? {})) tally.examples.set(what, [...ids]);
    return tally;
  }

  add(what: string, id: unknown, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
    const examples = this.examples.get(what) ?? [];
    if (examples.length < EXAMPLES) examples.push(id);
    this.examples.set(what, examples);
  }

  /** Adds what one document's visit counted. */
  merge(other: Tally): void {
    for (const [what, n] of other.counts) {
      this.counts.set(what, (this.counts.get(what) ?? 0) + n);
      this.examples.set(what, [...(this.examples.get(what) ?? []), ...(other.examples.get(what) ?? [])].slice(0, EXAMPLES));
    }
  }

  get(what: string): number {
    return this.counts.get(what) ?? 0;
  }

  record(): TallyRecord {
    return { counts: Object.fromEntries(this.counts), examples: Object.fromEntries(this.examples) };
  }
}

export interface ReshapeRun {
  collection: Collection;
  /** Names the checkpoint: "<migration id>:<up|down>:<index>". */
  step: string;
  fingerprint: string;
  state: BackfillState;
  batchSize: number;
  progress: ProgressFactory;
  label: string;
  out: (line: string) => void;
  assertLockHeld: () => void;
  /** Returns the change for a document, or undefined to leave it. */
  reshape: (doc: Document, tally: Tally) => Promise<DocumentReshape | undefined>;
}

const MAX_PASSES = 3;

/**
 * Rewrites documents in batches in _id order with a checkpoint after each batch. Each write is
 * conditioned on the replaced fields still holding what was read, so a document changed in
 * between is not overwritten (it is picked up by another pass), and a document already
 * rewritten by an interrupted run is recognised by the step itself (its `reshape` returns
 * nothing for it): a re-run after a crash does nothing twice.
 *
 * The report counts every value once. What a visit of a document counts joins the step's tallies
 * when the visit settles it: its write done, or nothing to write. A document whose write lost to
 * another writer is counted by the later pass that settles it, and a later pass (which reads
 * every document again, to catch values written meanwhile) counts only those and the documents
 * it writes. The checkpoint keeps the tallies, so a run resumed after a crash reports the whole step.
 */
export async function reshapeDocuments(run: ReshapeRun): Promise<Tally> {
  const saved = await run.state.checkpoint(run.step);
  const resumed = saved?.fingerprint === run.fingerprint ? saved : undefined;
  const tally = Tally.restored(resumed?.tally);
  let lastId = resumed ? resumed.lastId : undefined;
  if (resumed) run.out(`     resuming after ${tally.get('written')} document(s) rewritten by an interrupted run`);
  // Exact _id text (canonical Extended JSON keeps 1, 1.0 and "1" apart) of documents whose write conflicted.
  let unsettled = new Set<string>();
  for (let pass = 1; ; pass++) {
    const conflicted = new Set<string>();
    const progress = run.progress(`${run.collection.namespace} ${run.label}${pass > 1 ? ` (pass ${pass})` : ''}`, await run.collection.estimatedDocumentCount());
    for (;;) {
      run.assertLockHeld();
      const docs = await run.collection.find(lastId === undefined ? {} : afterIdFilter(lastId), { sort: { _id: 1 }, limit: run.batchSize, promoteValues: false, promoteLongs: false }).toArray();
      if (docs.length === 0) break;
      for (const doc of docs) {
        const visit = new Tally();
        const change = await run.reshape(doc, visit);
        const idKey = BSON.EJSON.stringify(doc._id, { relaxed: false });
        if (!change) {
          if (pass === 1 || unsettled.has(idKey)) tally.merge(visit);
          continue;
        }
        const condition: Document = { _id: doc._id };
        for (const top of new Set([...Object.keys(change.set), ...change.unset].map((path) => path.split('.')[0]))) condition[top] = doc[top] === undefined ? { $exists: false } : doc[top];
        const update: Document = {};
        if (Object.keys(change.set).length) update.$set = change.set;
        if (change.unset.length) update.$unset = Object.fromEntries(change.unset.map((f) => [f, '']));
        const result = await run.collection.updateOne(condition, update);
        if (result.matchedCount === 0) {
          conflicted.add(idKey);
          continue;
        }
        tally.merge(visit);
        tally.add('written', doc._id);
      }
      lastId = docs[docs.length - 1]._id;
      await run.state.save({ _id: run.step, namespace: run.collection.namespace, fingerprint: run.fingerprint, lastId, processed: tally.get('written'), changed: tally.get('written'), tally: tally.record() });
      progress.advance(docs.length);
    }
    progress.finish();
    if (conflicted.size === 0) break;
    if (pass === MAX_PASSES) {
      throw new MigrationError('MIGRATION_BACKFILL_CONFLICTS', `${conflicted.size} document(s) of ${run.collection.namespace} changed while being rewritten (${run.label}), ${MAX_PASSES} passes in a row.`, {
        fix: 'pause the writers to this collection and run the migration again; it only touches what is left.',
      });
    }
    lastId = undefined;
    unsettled = conflicted;
  }
  await run.state.clear(run.step);
  return tally;
}

/** "3 converted, 2 left as they were (unconvertible: _id 'a', 'b')". */
export function describeTally(tally: Tally, labels: Record<string, string>): string {
  return Object.entries(labels).filter(([what]) => tally.get(what) > 0)
    .map(([what, label]) => `${tally.get(what)} ${label}`).join(', ');
}

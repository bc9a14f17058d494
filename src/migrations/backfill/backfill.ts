import { BSON, type Collection, type Document } from 'mongodb';
import type { StrongboxClient } from '../../client/strongboxClient';
import { slotsAt } from '../../stored/values';
import { MigrationError } from '../../errors';
import type { ProgressFactory } from '../progress';
import { afterIdFilter } from './afterId';
import type { FieldRewrite, PendingDocument } from './fieldRewrite';
import type { BackfillState } from './state';
import type { BatchWriter, DocumentChange } from './writers';

export interface BackfillRun {
  client: StrongboxClient;
  collection: Collection;
  namespace: string;
  /** Identifies the step across runs, for its checkpoint. */
  step: string;
  /** Of the step's operation: a checkpoint left by a different operation is ignored. */
  fingerprint: string;
  rewrite: FieldRewrite;
  writer: BatchWriter;
  state: BackfillState;
  batchSize: number;
  progress: ProgressFactory;
  /** Throws when the runner lost its lock; checked before every batch. */
  assertLockHeld: () => void;
  out: (line: string) => void;
}

export interface BackfillResult {
  /** Documents read (in the last pass). */
  processed: number;
  /** Documents rewritten, over all passes and earlier interrupted runs. */
  changed: number;
  /** Documents an interrupted run had left half-written, finished before starting. */
  recovered: number;
}

/** Passes over the collection before giving up on documents that keep changing under the backfill. */
const MAX_PASSES = 3;

/**
 * Rewrites the values at one path of every document, in batches in _id order. Idempotent:
 * values already in the target form are recognised (from the ciphertext header) and skipped,
 * so a second run, or a run after a crash, changes only what is left. A checkpoint after each
 * written batch lets an interrupted run continue where it stopped instead of re-reading
 * everything.
 */
export async function runBackfill(run: BackfillRun): Promise<BackfillResult> {
  const recovered = await run.writer.recover();
  if (recovered > 0) run.out(`  finished ${recovered} document(s) of a batch an interrupted run had left half-written`);
  const saved = await run.state.checkpoint(run.step);
  const checkpoint = saved?.fingerprint === run.fingerprint ? saved : null;
  if (saved && !checkpoint) run.out('  the checkpoint of an interrupted run belongs to an operation since edited; starting from the beginning');
  let resumeAfter = checkpoint ? checkpoint.lastId : undefined;
  let processed = checkpoint ? Number(checkpoint.processed) : 0;
  let changed = checkpoint ? Number(checkpoint.changed) : 0;
  if (checkpoint) run.out(`  resuming after ${processed} document(s) already processed by an interrupted run`);

  for (let pass = 1; ; pass++) {
    const total = await run.collection.estimatedDocumentCount();
    const progress = run.progress(`${run.namespace}.${run.rewrite.path}${pass > 1 ? ` (pass ${pass})` : ''}`, total, processed);
    let conflicts = 0;
    // One cursor in _id order: the server sorts once (an index scan on MongoDB) and hands out
    // batches; rewriting a document never changes its _id, so none is seen twice or missed.
    const cursor = run.collection.find(resumeAfter === undefined ? {} : afterIdFilter(resumeAfter), {
      sort: { _id: 1 }, batchSize: run.batchSize, promoteValues: false, promoteLongs: false,
    });
    const handle = async (docs: Document[]) => {
      run.assertLockHeld();
      const batch = await rewriteBatch(run, docs);
      const written = await run.writer.write(batch.changes);
      conflicts += batch.conflicts + written.conflicts;
      changed += written.written;
      processed += docs.length;
      await run.state.save({ _id: run.step, namespace: run.namespace, fingerprint: run.fingerprint, lastId: docs[docs.length - 1]._id, processed, changed });
      progress.advance(docs.length);
    };
    try {
      let docs: Document[] = [];
      for await (const doc of cursor) {
        docs.push(doc);
        if (docs.length === run.batchSize) { await handle(docs); docs = []; }
      }
      if (docs.length) await handle(docs);
    } finally {
      await cursor.close();
    }
    progress.finish();
    if (conflicts === 0) break;
    if (pass === MAX_PASSES) {
      throw new MigrationError('MIGRATION_BACKFILL_CONFLICTS', `${conflicts} document(s) of ${run.namespace} changed while the backfill of ${run.rewrite.path} rewrote them, ${MAX_PASSES} passes in a row.`, {
        fix: 'pause the writers to this collection and run the migration again; it only touches what is left.',
      });
    }
    run.out(`  ${conflicts} document(s) changed while being rewritten; another pass picks them up`);
    resumeAfter = undefined;
    processed = 0;
  }
  await run.state.clear(run.step);
  return { processed, changed, recovered };
}

async function rewriteBatch(run: BackfillRun, docs: Document[]): Promise<{ changes: DocumentChange[]; conflicts: number }> {
  const pending: PendingDocument[] = [];
  for (const doc of docs) {
    const found = await run.rewrite.inspect(doc);
    if (found) pending.push(found);
  }
  const plaintext = await readDecrypted(run, pending.filter((p) => run.rewrite.needsPlaintext(p)).map((p) => p.doc._id));
  const changes: DocumentChange[] = [];
  let conflicts = 0;
  // The documents of a batch are rewritten together, so their values are encrypted in one libmongocrypt pass.
  const outcomes = await Promise.allSettled(pending.map((p) => {
    const twin = plaintext.get(idKey(p.doc._id));
    return run.rewrite.rewrite(p, twin ? slotsAt(twin, run.rewrite.segments) : undefined);
  }));
  for (let i = 0; i < pending.length; i++) {
    const outcome = outcomes[i];
    // The first failing document in the batch's order is the one reported.
    if (outcome.status === 'rejected') throw outcome.reason;
    if (outcome.value) changes.push({ doc: pending[i].doc, top: pending[i].top, after: pending[i].holder[pending[i].top] });
    else conflicts++;
  }
  return { changes, conflicts };
}

/**
 * The documents read through a client that decrypts server replies, with promoteValues off:
 * the plaintext comes back with its exact BSON types (a double stays a double, also inside
 * a decrypted embedded document), so a decrypting backfill restores the data exactly.
 */
async function readDecrypted(run: BackfillRun, ids: unknown[]): Promise<Map<string, Document>> {
  const out = new Map<string, Document>();
  if (ids.length === 0) return out;
  const client = await run.client.decryptingClient();
  let docs: Document[];
  try {
    docs = await client.db(run.collection.dbName).collection(run.collection.collectionName)
      .find({ _id: { $in: ids as never[] } }, { promoteValues: false, promoteLongs: false }).toArray();
  } catch (err) {
    throw new MigrationError('MIGRATION_BACKFILL_DECRYPT', `Values at ${run.namespace}.${run.rewrite.path} could not be decrypted for rewriting: ${(err as Error).message}`, {
      fix: 'run `strongbox audit` to see which keys the values name; a deleted key cannot be recovered (remove or unset those values first).',
      cause: err,
    });
  }
  for (const doc of docs) out.set(idKey(doc._id), doc);
  return out;
}

function idKey(id: unknown): string {
  return BSON.EJSON.stringify({ id }, { relaxed: false });
}

import type { Collection, Document, Filter } from 'mongodb';
import { Repository } from '../../repository/repository';
import { afterIdFilter } from '../backfill/afterId';
import type { BackfillState } from '../backfill/state';
import type { ProgressFactory } from '../progress';
import { escapeRegex } from './runs';

/** Options of a code step's `eachBatch` loop over a collection. */
export interface EachBatchOptions<T> {
  /**
   * Which documents to visit. For a repository it is a repository filter (checked and encrypted
   * like any query); for a raw collection it is sent as written, against the stored form.
   */
  filter?: Filter<T>;
  /** Documents per batch (default: the migration batch size). */
  batchSize?: number;
  /** Names the loop's checkpoint when a step has several loops (default: its position in the step). */
  label?: string;
}

/** What an `eachBatch` loop went through. */
export interface EachBatchResult {
  /** Documents handed to the callback, this run and earlier interrupted ones together. */
  processed: number;
  /** Whether the loop continued after the checkpoint of an interrupted run. */
  resumed: boolean;
}

export interface BatchLoopScope {
  /** "<migration id>:<up|down>:<index>" */
  step: string;
  fingerprint: string;
  state: BackfillState;
  batchSize: number;
  progress: ProgressFactory;
  assertLockHeld: () => void;
  /** Counts the documents of every loop of the step, for the run record. */
  onBatch: (documents: number) => void;
}

/**
 * Visits documents in batches in _id order and records a checkpoint after each batch the
 * callback finished, so a re-run after a crash continues after the last recorded batch.
 * At most the batch that was in flight is handed over again: the callback's writes must be
 * idempotent per document (set values, or update with a filter that no longer matches a
 * document already done), which is what makes "nothing done twice" hold.
 */
export async function eachBatch<T extends Document>(
  scope: BatchLoopScope, loopIndex: number, source: Repository<T> | Collection<T>, handle: (docs: T[]) => Promise<void>, options: EachBatchOptions<T> = {},
): Promise<EachBatchResult> {
  const checkpointId = `${scope.step}#${options.label ?? `loop ${loopIndex}`}`;
  const raw: Collection<Document> = source instanceof Repository ? source.collection : (source as unknown as Collection<Document>);
  const saved = await scope.state.checkpoint(checkpointId);
  const checkpoint = saved?.fingerprint === scope.fingerprint ? saved : null;
  let lastId = checkpoint?.lastId;
  let processed = checkpoint ? Number(checkpoint.processed) : 0;
  const batchSize = options.batchSize ?? scope.batchSize;
  const rawFilter = source instanceof Repository ? {} : (options.filter ?? {}) as Document;
  const progress = scope.progress(`${raw.namespace} (${options.label ?? `loop ${loopIndex}`})`, await raw.estimatedDocumentCount(), processed);
  for (;;) {
    scope.assertLockHeld();
    const page = lastId === undefined ? rawFilter : { $and: [rawFilter, afterIdFilter(lastId)] };
    // Ids first, in the stored form (exact BSON types for the resume filter), then the documents.
    const ids = (await raw.find(page, { projection: { _id: 1 }, sort: { _id: 1 }, limit: batchSize, promoteValues: false, promoteLongs: false }).toArray()).map((d) => d._id);
    if (ids.length === 0) break;
    const docs = source instanceof Repository
      ? await source.find({ $and: [{ _id: { $in: ids } }, options.filter ?? {}] } as never, { sort: { _id: 1 } } as never).toArray() as T[]
      : await (source as Collection<T>).find({ _id: { $in: ids } } as Filter<T>, { sort: { _id: 1 } }).toArray() as T[];
    await handle(docs);
    lastId = ids[ids.length - 1];
    processed += docs.length;
    await scope.state.save({ _id: checkpointId, namespace: raw.namespace, fingerprint: scope.fingerprint, lastId, processed, changed: 0 });
    scope.onBatch(docs.length);
    progress.advance(docs.length);
  }
  progress.finish();
  return { processed, resumed: checkpoint !== null };
}

/** Forgets the loop checkpoints of a step once it has finished. */
export async function clearLoopCheckpoints(state: BackfillState, step: string): Promise<void> {
  await state.progress.deleteMany({ _id: { $regex: `^${escapeRegex(step)}#` } });
}

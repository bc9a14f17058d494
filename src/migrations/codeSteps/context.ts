import type { ClientSession, Collection, Document } from 'mongodb';
import type { Repository } from '../../repository/repository';
import type { Progress } from '../progress';
import type { EachBatchOptions, EachBatchResult } from './eachBatch';

/** What a code step (`{ op: 'run', … }`) is given when it runs. */
export interface CodeStepContext {
  /** The migration's id, e.g. 20250102T030405_split_name. */
  readonly migration: string;
  /** The step's name. */
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** An earlier run of this step was interrupted or failed; batch loops continue where it stopped. */
  readonly resumed: boolean;
  /**
   * The repository of a configured model, exactly as the application uses it: values of
   * encrypted fields are encrypted on the way in and decrypted on the way out.
   */
  repository<T extends object>(model: new (...args: never[]) => T): Repository<T>;
  /** A collection as stored ("database.collection"): encrypted fields are ciphertext (BinData subtype 6). */
  collection<T extends Document = Document>(namespace: string): Collection<T>;
  /** A session of the data client, ended when the step ends; pass it to calls that should share it. */
  readonly session: ClientSession;
  /** A progress reporter, shown like the built-in backfills'. */
  progress(label: string, total: number): Progress;
  /** A line in the runner's output. Never log values of encrypted fields. */
  log(line: string): void;
  /**
   * Visits the documents of a repository (decrypted) or a raw collection in batches in _id
   * order, recording a checkpoint after each batch: after a crash the step resumes after the
   * last recorded batch. Writes in `handle` must be idempotent per document.
   */
  eachBatch<T extends Document>(source: Repository<T> | Collection<T>, handle: (docs: T[]) => Promise<void>, options?: EachBatchOptions<T>): Promise<EachBatchResult>;
}

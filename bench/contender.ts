import type { Document, ObjectId } from 'mongodb';
import type { DocKind } from './models/plan';

/**
 * One implementation under test (raw driver, Mongoose, Strongbox, or their encrypted variants),
 * reduced to the operations the benchmark tasks are made of. Each method is written the way
 * that implementation's users would write it; the tasks (tasks.ts) are shared, so every
 * implementation does the same work around these calls.
 */
export interface Contender {
  /** Short key used in reports and JSON ("raw", "mongoose", "strongbox", …). */
  readonly key: string;
  readonly label: string;
  /**
   * A new ObjectId from this implementation's own BSON library: Mongoose brings its own driver
   * and bson major version, whose serializer refuses ObjectIds of another version.
   */
  newId(): ObjectId;
  /** The dataset document in this implementation's own BSON types (set-up, once per task). */
  adopt(source: Document): Document;
  /** Drops the collection of the kind (the "before"/"after" phases). */
  drop(kind: DocKind): Promise<void>;
  /** Timed in the creation tasks: build a model from the plain document and save it. */
  create(kind: DocKind, doc: Document): Promise<void>;
  /** Untimed set-up: store many documents (carrying their `_id`) the way this implementation bulk-inserts. */
  seed(kind: DocKind, docs: Document[]): Promise<void>;
  /** Untimed set-up: an index on a path, as an application would declare for a filter it runs. */
  createIndex(kind: DocKind, path: string): Promise<void>;
  /** Untimed set-up of the update tasks: the saved instances as this implementation hands them out. */
  load(kind: DocKind): Promise<unknown[]>;
  /** Timed in the update tasks: set one (possibly nested) field of a loaded instance and save it. */
  update(kind: DocKind, instance: unknown, path: string, value: string): Promise<void>;
  /** Timed in the find tasks; returns the found model or null. */
  findById(kind: DocKind, id: ObjectId): Promise<unknown>;
  findOne(kind: DocKind, filter: Document): Promise<unknown>;
  close(): Promise<void>;
}

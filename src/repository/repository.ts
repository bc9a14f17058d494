import { inspect } from 'node:util';
import { BSON, ObjectId, type AnyBulkWriteOperation, type BulkWriteResult, type ClientSession, type CollationOptions, type Collection, type DeleteResult, type Document, type MongoClient, type UpdateResult } from 'mongodb';
import type { CryptoEngine } from '../crypto/engine';
import type { KeyVault } from '../crypto/keyVault';
import { ConcurrencyError, EncryptedQueryError, InvalidInputError, StrongboxError } from '../errors';
import { hydrate } from '../metadata/hydrate';
import type { FieldMetadata, ModelMetadata, ModelShape } from '../metadata/types';
import { followChangeStream, readChangeEvent, StrongboxChangeStream, watchOptions, type EventReading } from './changeStream';
import { StrongboxCursor } from './cursor';
import { distinctKey, readDistinct } from './distinct';
import { readPage, type PageOf } from './pagination';
import { populateRefs } from './populate';
import { copiedEqualityValues, copiedFields, creationGuards } from './encoding/creation';
import { encodeDocument, walkDocumentNow } from './encoding/documentEncoder';
import { FieldEncryptor } from './encoding/fieldEncryptor';
import { analyzeFilter, keyFieldPaths, type Analysis } from './encoding/filterEncoder';
import { assertLiteral, invalid, isPlainObject, queryCopy, safeEntries, snapshot, topLevelEquality, writtenValues } from './encoding/guards';
import { encryptMarked, Markings } from './encoding/markings';
import { checkOptions, type OptionsEntry } from './encoding/options';
import { analyzeProjection, assertSortable, followPipeline, isTextSearch } from './encoding/pipelineEncoder';
import { checkUpdateKeepsRequired } from './encoding/requiredFields';
import { DerivedScope, isTainted, ModelScope } from './encoding/scope';
import { analyzeArrayFilters, analyzeUpdate, pinnedKeyRoot, setPath, unpinnedKeyPaths, writesUnderDocumentKeys } from './encoding/updateEncoder';
import { changesBetween, isEmpty, sameValue } from './entity/changes';
import { withUpsertDefaults } from './entity/defaults';
import { hasHooks } from './entity/hooks';
import { assertEntity, hooks, prepareNew, prepareReplacement } from './entity/lifecycle';
import { stampUpdate } from './entity/stamps';
import { endInsert, forget, keepWritten, snapshotOf, startInsert, trackRead, trackWritten, type KeptWrite } from './entity/tracking';
import { hasRules, refuseIssues, updateIssues } from './entity/validation';
import { DocumentReader, type ResultShape, type UndecryptablePolicy } from './reader';
import type { CheckedPipeline, NamedResult, PipelineResult } from './aggregateTypes';
import type { ArrayFilter, ChangeEvent, ChangeStreamStage, IdOf, DistinctPath, DistinctValue, Filter, InsertDoc, KeysetSort, Populated, RefPaths, Projection, ReadResult, Replacement, Sort, UpdateFilter } from './types';

export interface RepositoryContext {
  dataClient: MongoClient;
  engine: CryptoEngine;
  keyVault: KeyVault;
  /** The repository of another configured model (populate reads referenced documents through it). */
  repositoryFor?: (model: Function) => Repository<object>;
}

/** Options of `client.repository(Model, options)`. */
export interface RepositoryOptions {
  /** What a read does with a value it cannot decrypt: raise a DecryptionError (default) or put an UndecryptableValue in its place. */
  onUndecryptable?: UndecryptablePolicy;
}

export interface SessionOption { session?: ClientSession; }
/** Options of aggregate, as the policy table allows them (the run time checks each again). */
export interface AggregateOptions extends SessionOption {
  /** Documents per server round trip; each batch is decrypted in one pass. */
  batchSize?: number;
  allowDiskUse?: boolean;
  comment?: string;
  collation?: CollationOptions;
  hint?: string | Document;
  /** Constants the pipeline reads as `$$name` (no field paths); typed pipelines do not take variables, so use them in a `Document[]` pipeline. */
  let?: Document;
  maxTimeMS?: number;
}
/** Options of find, findOne, findById and cursors: a projection (the result type follows it), sort, skip, limit and batch size. */
export interface FindOptions<T, P extends Projection<T> | undefined = Projection<T> | undefined> extends SessionOption {
  /** Fields to load; the result type follows it (see ReadResult). */
  projection?: P;
  sort?: Sort<T>;
  skip?: number;
  limit?: number;
  /** Documents per server round trip; each batch is decrypted in one pass. */
  batchSize?: number;
}
/** Options of `paginate`: the keyset order, the page size, a continuation token and an optional projection. */
export interface PageOptions<T, P extends Projection<T> | undefined = Projection<T> | undefined> extends SessionOption {
  /** Required plain fields; `_id` is added as the tie-break. Default: `_id` ascending. */
  sort?: KeysetSort<T>;
  /** Documents per page. */
  limit: number;
  /** `page.next` of the page before: reads the page that follows it. */
  after?: string;
  /** `page.previous` of the page after: reads the page that precedes it. */
  before?: string;
  /** Fields to load, as in find; it must load the sort keys and `_id`, which the tokens are made of. */
  projection?: P;
  comment?: string;
  maxTimeMS?: number;
}

/** Options of watch (MongoDB manual, "Change Streams"); anything else is refused. */
export interface WatchOptions extends SessionOption {
  /** Whether update events carry the current document (`updateLookup`) or a post-image. Default: only inserts and replaces carry one. */
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required';
  /** Whether events carry the document as it was before the change (the collection must keep pre-images). */
  fullDocumentBeforeChange?: 'off' | 'whenAvailable' | 'required';
  /** Start after the event with this resume token (an event's `_id`, or `stream.resumeToken`). */
  resumeAfter?: Readonly<Record<string, unknown>>;
  /** Like resumeAfter, also after an invalidate event. */
  startAfter?: Readonly<Record<string, unknown>>;
  startAtOperationTime?: import('mongodb').Timestamp;
  batchSize?: number;
  /** How long the server waits for new events before answering an empty batch. */
  maxAwaitTimeMS?: number;
}

/** One page of a keyset pagination, with the opaque tokens that continue it (see docs/queries.md). */
export type Page<T> = PageOf<T>;

/** Options of updateOne and updateMany: upsert and typed arrayFilters. */
export interface UpdateOptions<T = any> extends SessionOption { upsert?: boolean; arrayFilters?: ReadonlyArray<ArrayFilter<T>>; }
export interface FindOneAndOptions<T, P extends Projection<T> | undefined = Projection<T> | undefined> extends SessionOption { upsert?: boolean; sort?: Sort<T>; projection?: P; returnDocument?: 'before' | 'after'; arrayFilters?: ReadonlyArray<ArrayFilter<T>>; }

/** One operation of `bulkWrite`, in the driver's shape, with typed filters, updates and documents. */
export type BulkOperation<T> =
  | { insertOne: { document: InsertDoc<T> } }
  | { updateOne: { filter: Filter<T>; update: UpdateFilter<T>; upsert?: boolean; arrayFilters?: ReadonlyArray<ArrayFilter<T>> } }
  | { updateMany: { filter: Filter<T>; update: UpdateFilter<T>; upsert?: boolean; arrayFilters?: ReadonlyArray<ArrayFilter<T>> } }
  | { replaceOne: { filter: Filter<T>; replacement: Replacement<T>; upsert?: boolean } }
  | { deleteOne: { filter: Filter<T> } }
  | { deleteMany: { filter: Filter<T> } };

/**
 * The everyday API for one model: values of encrypted fields are encrypted before anything is
 * sent, results are decrypted and returned as instances of the model class. Operations that
 * cannot work on ciphertext are refused before they reach the server.
 */
export class Repository<T extends object> {
  /** The driver collection (stored form: encrypted fields are BinData subtype 6). */
  readonly collection: Collection<Document>;
  private readonly encryptor: FieldEncryptor;
  private readonly reader: DocumentReader<T>;
  private readonly scope: ModelScope;
  private readonly dataClient: MongoClient;
  /** Whether the model (or one of its variants) has @AfterLoad hooks; reads of models without pay nothing. */
  private readonly loadHooks: boolean;
  /** The fields a document written here may have, the model's and its variants': what copyDocument reads of one. */
  private readonly writtenShape: ModelShape;

  constructor(readonly model: ModelMetadata, private readonly context: RepositoryContext, options: RepositoryOptions = {}) {
    this.dataClient = context.dataClient;
    this.collection = context.dataClient.db(model.db).collection(model.collection);
    this.encryptor = new FieldEncryptor(model, context.engine, context.keyVault);
    this.scope = new ModelScope(model);
    this.reader = new DocumentReader<T>(model, context.engine, options.onUndecryptable ?? 'throw');
    const shapes = [model, ...(model.variants?.byValue.values() ?? [])];
    this.loadHooks = shapes.some((m) => m.entity.hooks.afterLoad.length > 0);
    const fields = new Map<string, FieldMetadata>();
    for (const shape of shapes) for (const [name, field] of shape.fields) if (!fields.has(name)) fields.set(name, field);
    this.writtenShape = { ...model, fields };
  }

  /** A summary for console.log: the driver objects inside hold connection secrets (the TLS key passphrase). */
  [inspect.custom](): string {
    return `Repository<${this.model.target.name}> { namespace: '${this.model.namespace}' }`;
  }

  toJSON(): object {
    return { model: this.model.target.name, namespace: this.model.namespace };
  }

  async insertOne(document: InsertDoc<T>, rawOptions: SessionOption = {}): Promise<T> {
    const options = this.options('insert', rawOptions);
    const { plain, stored, model } = await this.prepareInsert(document);
    const kept = keepWritten(model, plain);
    await this.collection.insertOne(stored, options);
    return (await this.inserted([plain], [kept]))[0];
  }

  async insertMany(documents: ReadonlyArray<InsertDoc<T>>, rawOptions: SessionOption = {}): Promise<T[]> {
    const options = this.options('insert', rawOptions);
    if (!Array.isArray(documents)) throw invalid('INPUT_NOT_ARRAY', `insertMany on ${this.model.target.name} needs an array of documents.`, 'pass an array.');
    const now = new Date();
    const ready = await Promise.all(documents.map((d) => this.prepareNewDocument(d, now)));
    // Every document is checked before any is encrypted: one bad document leaves nothing encrypted.
    const encrypt = ready.map(([plain, model]) => sanitizedSync('insert', this.model, () => walkDocumentNow(this.encryptor, model, plain, plain)));
    const stored = await sanitized('insert', this.model, () => Promise.all(encrypt.map((run) => run())));
    const plain = ready.map(([doc]) => doc);
    const kept = ready.map(([doc, model]) => keepWritten(model, doc));
    if (stored.length) await this.collection.insertMany(stored, { ...options, ordered: true });
    return this.inserted(plain, kept);
  }

  /** The entities of written plaintext documents: tracked for save(), after-insert hooks run. */
  private async inserted(plain: Document[], kept: KeptWrite[]): Promise<T[]> {
    const entities = plain.map((doc) => hydrate<T>(this.model, doc));
    entities.forEach((entity, i) => trackWritten(entity, kept[i]));
    for (const entity of entities) {
      const model = this.entityModel(entity);
      // Most models have no after-insert hooks: their inserts wait for nothing more.
      if (hasHooks(model, 'afterInsert')) await hooks(model, 'afterInsert', [entity]);
    }
    return entities;
  }

  /**
   * Writes an entity: one Strongbox has not read or written is inserted (defaults, timestamps,
   * version, hooks, validation as for insertOne, and the entity gets its _id and stamps); a loaded
   * one is updated with only what changed since it was loaded or last saved — a `$set` of each
   * changed field and an `$unset` of each emptied one, so an unchanged encrypted value is neither
   * re-encrypted nor sent. With @Version the update applies only if the stored version is still
   * the loaded one, else a ConcurrencyError and nothing changes. Returns the entity.
   */
  async save(entity: T, rawOptions: SessionOption = {}): Promise<T> {
    const options = this.options('save', rawOptions);
    assertEntity(this.model, entity, 'save');
    const tracked = snapshotOf(entity);
    if (tracked === 'partial') {
      throw invalid('INPUT_ENTITY_PARTIAL', `save on ${this.model.target.name} got an entity read with a projection; saving it would remove the fields the projection left out.`,
        'read the entity without a projection before changing and saving it, or use updateOne with $set.');
    }
    return tracked ? this.saveLoaded(entity, tracked, options) : this.saveNew(entity, options);
  }

  private async saveNew(entity: T & Record<string, unknown>, options: SessionOption): Promise<T> {
    if (!startInsert(entity)) {
      throw invalid('INPUT_ENTITY_SAVE_IN_FLIGHT', `save on ${this.model.target.name}: this entity is being inserted by a save() that has not finished; saving it again now would insert a second document.`,
        'await the first save() before saving the entity again.');
    }
    try {
      return await this.insertEntity(entity, options);
    } finally {
      endInsert(entity);
    }
  }

  private async insertEntity(entity: T & Record<string, unknown>, options: SessionOption): Promise<T> {
    const read = writtenValues(this.writtenShape, entity);
    const { plain, stored, model, changed } = await this.prepareInsert(read);
    const target = entity as Record<string, unknown>;
    for (const key of changed.filled) assertWritable(this.model, target, key, 'the insert fills it in');
    const kept = keepWritten(model, plain);
    await this.collection.insertOne(stored, { session: options.session });
    trackWritten(entity, kept);
    // What the insert filled or changed (_id, discriminator, defaults, stamps, before-insert hooks)
    // goes onto the entity. Every other field keeps the entity's own value: a change the
    // application made while the insert was in flight differs from the snapshot, so the next
    // save() sends it. So does a field the application replaced while the insert was in flight.
    // An entity frozen while in flight keeps what it had: the snapshot already says what is stored.
    for (const key of changed.filled) if (target[key] === read[key]) Reflect.set(target, key, plain[key]);
    for (const key of changed.removed) if (target[key] === read[key]) Reflect.deleteProperty(target, key);
    await hooks(this.entityModel(entity), 'afterInsert', [entity]);
    return entity;
  }

  private async saveLoaded(entity: T & Record<string, unknown>, tracked: Document, options: SessionOption): Promise<T> {
    await hooks(this.entityModel(entity), 'beforeUpdate', [entity]);
    // The snapshot is decrypted (and its ciphertext checked like any read) only now, at save time.
    const before = (await this.reader.read([tracked]))[0] as unknown as Document;
    // A copy, taken before anything is sent: the update is built from it and it becomes the
    // snapshot, so a change made to the entity while the update is in flight is sent by the next save.
    const after = this.copyDocument('save', entity) as Document;
    const savedAs = this.savedAs(before, after);
    const changes = changesBetween(savedAs, before, after);
    const { updatedAt, version } = this.model.entity.stamps;
    if (version !== undefined) { delete changes.$set[version]; delete changes.$unset[version]; }
    if (isEmpty(changes)) return entity;
    for (const stamp of [updatedAt, version]) if (stamp !== undefined) assertWritable(this.model, entity, stamp, 'save() stamps it');
    const now = new Date();
    if (updatedAt !== undefined) { changes.$set[updatedAt] = now; delete changes.$unset[updatedAt]; }
    const update: Document = { ...(Object.keys(changes.$set).length ? { $set: changes.$set } : {}), ...(Object.keys(changes.$unset).length ? { $unset: changes.$unset } : {}) };
    if (version !== undefined) update.$inc = { [version]: 1 };
    // The snapshot is what the stored document becomes, stamps included, taken before the update is sent.
    if (updatedAt !== undefined) after[updatedAt] = now;
    if (version !== undefined) after[version] = (before[version] as number) + 1;
    // A value BSON cannot write makes the snapshot fall back to serializing (an own __proto__ key beside a
    // NUL key): refused here, as the update would refuse it, its message withheld.
    const kept = sanitizedSync('save', this.model, () => keepWritten(savedAs, after));
    const result = await this.update('updateOne', this.entityFilter(before), update, { session: options.session });
    if (result.matchedCount === 0) throw this.stale('save', before);
    trackWritten(entity, kept);
    // An entity frozen while the update was in flight keeps its stamps: the snapshot already has the stored ones.
    if (updatedAt !== undefined) Reflect.set(entity, updatedAt, now);
    if (version !== undefined) Reflect.set(entity, version, after[version]);
    await hooks(this.entityModel(entity), 'afterUpdate', [entity]);
    return entity;
  }

  /**
   * Deletes the entity's document (by _id; with @Version only while the stored version is the
   * loaded one). A document already gone or changed is a ConcurrencyError.
   */
  async remove(entity: T, rawOptions: SessionOption = {}): Promise<void> {
    const options = this.options('remove', rawOptions);
    assertEntity(this.model, entity, 'remove');
    const tracked = snapshotOf(entity);
    const known: Document = tracked && tracked !== 'partial' ? tracked : { _id: entity._id, ...this.versionOf(entity) };
    if (known._id === undefined || known._id === null) {
      throw invalid('INPUT_ID_MISSING', `remove on ${this.model.target.name} got an entity without _id.`, 'pass an entity read from or saved through the repository.');
    }
    await hooks(this.entityModel(entity), 'beforeDelete', [entity]);
    const { version } = this.model.entity.stamps;
    const filter: Document = { _id: { $eq: known._id }, ...(version !== undefined && known[version] !== undefined ? { [version]: { $eq: known[version] } } : {}) };
    const result = await this.collection.deleteOne(await this.filter('remove', filter), { session: options.session });
    if (result.deletedCount === 0) throw this.stale('remove', known);
    forget(entity);
    await hooks(this.entityModel(entity), 'afterDelete', [entity]);
  }

  private versionOf(entity: Record<string, unknown>): Document {
    const { version } = this.model.entity.stamps;
    return version === undefined ? {} : { [version]: entity[version] };
  }

  /**
   * The loaded document, by _id, its version, the fields that choose per-document keys (so the
   * update runs as one command) and, in a collection with variants, the variant it was read as.
   */
  private entityFilter(before: Document): Filter<T> {
    const { version } = this.model.entity.stamps;
    const pins: Document = { _id: { $eq: before._id } };
    if (version !== undefined) pins[version] = { $eq: before[version] };
    const discriminator = this.model.variants?.field;
    if (discriminator !== undefined && typeof before[discriminator] === 'string') pins[discriminator] = { $eq: before[discriminator] };
    for (const keyPath of keyFieldPaths(this.scope)) {
      const value = valueAt(before, keyPath);
      if (value !== undefined) pins[keyPath] = { $eq: value };
    }
    return pins as Filter<T>;
  }

  private stale(what: string, known: Document): ConcurrencyError {
    const { version } = this.model.entity.stamps;
    const id = known._id instanceof ObjectId ? known._id.toHexString() : String(known._id);
    return version !== undefined && known[version] !== undefined
      ? new ConcurrencyError('CONCURRENCY_STALE_VERSION', `${what} of ${this.model.target.name} _id ${id}: the stored document is no longer at version ${known[version]} (another write changed or deleted it since it was loaded); nothing was written.`,
        { fix: 'read the document again, apply the change to the fresh entity and save that.' })
      : new ConcurrencyError('CONCURRENCY_DOCUMENT_GONE', `${what} of ${this.model.target.name} _id ${id}: no stored document has this _id any more; nothing was written.`,
        { fix: 'read the document again (it was deleted), or insert the entity anew with insertOne.' });
  }

  async findOne<const P extends Projection<T> | undefined = undefined>(filter: Filter<T> = {} as Filter<T>, options: Omit<FindOptions<T, P>, 'limit' | 'batchSize'> = {}): Promise<ReadResult<T, P> | null> {
    // One batch and no server cursor left open, as the driver's own findOne asks for.
    const [first] = await this.openCursor<P>(filter, { ...options, limit: 1 }, true).toArray();
    return first ?? null;
  }

  findById<const P extends Projection<T> | undefined = undefined>(id: IdOf<T>, options: Omit<FindOptions<T, P>, 'limit' | 'batchSize'> = {}): Promise<ReadResult<T, P> | null> {
    // The driver drops undefined from filters: { _id: undefined } would match any document.
    if (id === undefined || id === null) {
      return Promise.reject(invalid('INPUT_ID_MISSING', `findById on ${this.model.target.name} got ${id === null ? 'null' : 'undefined'} instead of an id.`, 'pass the _id of the document to read.'));
    }
    let value: unknown;
    try {
      value = queryCopy(id, `findById on ${this.model.target.name}`);
      // An id is a value: an operator object ({ $ne: x }) would match some other document.
      assertLiteral(value, `findById on ${this.model.target.name}`);
    } catch (err) {
      return Promise.reject(sanitize(err, 'findById', this.model.target.name));
    }
    // Implicit equality (the value was just checked to be a value): FerretDB v1 uses its _id index for this form only.
    return this.findOne<P>({ _id: value } as unknown as Filter<T>, options);
  }

  find<const P extends Projection<T> | undefined = undefined>(filter: Filter<T> = {} as Filter<T>, options: FindOptions<T, P> = {}): StrongboxCursor<ReadResult<T, P>> {
    return this.openCursor<P>(filter, options, false);
  }

  private openCursor<P extends Projection<T> | undefined>(rawFilter: Filter<T>, rawOptions: FindOptions<T, P>, singleBatch: boolean): StrongboxCursor<ReadResult<T, P>> {
    // Read once, then checked and forwarded as read: an option or filter that changes on a second read cannot slip past.
    let copied: { filter: unknown; options: FindOptions<T, P> & Document } | undefined;
    let failure: unknown;
    try {
      const options = this.options('find', rawOptions) as FindOptions<T, P> & Document;
      copied = { filter: this.copyQuery('find', rawFilter), options };
    } catch (err) {
      failure = err;
    }
    const forwarded: Document = { raw: true };
    if (copied) for (const name of CURSOR_OPTIONS) if (copied.options[name] !== undefined) forwarded[name] = copied.options[name];
    if (singleBatch) forwarded.singleBatch = true;
    // raw: the driver hands out each document's BSON, which goes to libmongocrypt untouched and is deserialized once.
    const cursor = this.collection.find({}, forwarded);
    // Errors of the analysis and the encryption surface on the first read of the cursor (find itself never throws).
    // A query that encrypts nothing is attached at once: the cursor then has nothing to wait for.
    let ready: Promise<void> | undefined;
    try {
      if (!copied) throw failure;
      const { filter, options } = copied;
      const analyzed = this.analyzeNow('find', (analysis) => {
        if (options.sort !== undefined) assertSortable(this.scope, options.sort, isTextSearch(filter));
        return { filter: analyzeFilter(analysis, this.scope, this.scoped(filter)), projection: analyzeProjection(analysis, this.scope, options.projection, isTextSearch(filter)) };
      });
      const attach = ({ filter: f, projection }: { filter: Document; projection: Document | undefined }): void => {
        if (options.sort !== undefined) cursor.sort(options.sort as Document);
        if (projection) cursor.project(projection);
        cursor.filter(f);
      };
      if (analyzed instanceof Promise) ready = analyzed.then(attach);
      else attach(analyzed);
    } catch (err) {
      ready = Promise.reject(err);
    }
    const partial = copied?.options.projection !== undefined;
    return new StrongboxCursor<ReadResult<T, P>>(cursor, (docs) => {
      // Each document copied out of the server's reply, which the driver hands out as views into
      // it (about 0.5 MB per 1,000 documents): an entity kept from a streamed batch, through its
      // snapshot or a Binary value, would otherwise keep the whole reply alive.
      const own = (docs as unknown as Uint8Array[]).map((bytes) => new Uint8Array(bytes));
      const read = this.reader.readRaw(own);
      return (read instanceof Promise ? read.then((entities) => this.loaded(entities, own, partial)) : this.loaded(read, own, partial)) as ReadResult<T, P>[] | Promise<ReadResult<T, P>[]>;
    }, ready);
  }

  /**
   * Entities as read: remembered for save() (the stored bytes they were read from), after-load
   * hooks run. Without such hooks nothing is awaited, so a read that decrypts nothing stays synchronous.
   */
  private loaded(entities: T[], stored: Uint8Array[], partial: boolean): T[] | Promise<T[]> {
    trackRead(entities, stored, partial);
    return this.loadHooks ? this.afterLoad(entities) : entities;
  }

  private async afterLoad(entities: T[]): Promise<T[]> {
    for (const entity of entities) await hooks(this.entityModel(entity as object), 'afterLoad', [entity as object]);
    return entities;
  }

  /**
   * Keyset pagination: pages in a stable order (the sort, then `_id`), continued by opaque
   * tokens rather than skip, so each page costs one indexed range query however deep it is.
   */
  async paginate<const P extends Projection<T> | undefined = undefined>(rawFilter: Filter<T>, rawOptions: PageOptions<T, P>): Promise<Page<ReadResult<T, P>>> {
    const options = this.options('paginate', rawOptions);
    const filter = this.copyQuery('paginate', rawFilter);
    const { session, comment, maxTimeMS, hint, projection } = options as PageOptions<T, P> & { hint?: unknown };
    return sanitized('paginate', this.model, () => readPage<ReadResult<T, P> & object>(this.scope, filter, options, (bounded, sort, limit) =>
      this.find(bounded as Filter<T>, { session, comment, maxTimeMS, hint, sort, limit, projection } as unknown as FindOptions<T, P>).toArray() as Promise<(ReadResult<T, P> & object)[]>));
  }

  /**
   * Loads the documents the @Ref fields `keys` of `items` point to: one `$in` query per relation
   * for the whole array, through the referenced model's repository (its encrypted fields
   * decrypted). A key may be a path through plain embedded documents and arrays of them
   * (`'lines.product'`). Returns copies of the items; a reference to a missing document becomes null.
   */
  populate<const K extends RefPaths<T>>(items: readonly T[], keys: readonly K[], rawOptions: SessionOption = {}): Promise<Populated<T, K>[]> {
    return (async () => {
      const options = this.options('populate', rawOptions);
      const repositoryFor = this.context.repositoryFor;
      if (!repositoryFor) throw invalid('INPUT_NOT_A_REF', `populate on ${this.model.target.name} needs a repository from StrongboxClient.repository().`, 'get the repository from the client.');
      return populateRefs<Populated<T, K>>(this.model, items, keys as readonly string[], options.session, (target, ids, session) =>
        repositoryFor(target).find({ _id: { $in: ids } } as Filter<object>, session ? { session } : {}).toArray());
    })();
  }

  async count(filter: Filter<T> = {} as Filter<T>, rawOptions: SessionOption & { limit?: number } = {}): Promise<number> {
    const options = this.options('count', rawOptions);
    return this.collection.countDocuments(await this.filter('count', filter), options);
  }

  /**
   * The distinct values of a plain or Deterministic field among the documents the filter
   * matches, decrypted and of the declared type; Random fields are refused (see docs/queries.md).
   */
  async distinct<const K extends DistinctPath<T>>(key: K, rawFilter: Filter<T> = {} as Filter<T>, rawOptions: SessionOption & { comment?: string; maxTimeMS?: number } = {}): Promise<DistinctValue<T, K>[]> {
    const options = this.options('distinct', rawOptions);
    const filter = this.copyQuery('distinct', rawFilter);
    const [target, f] = await this.analyze('distinct', (analysis) => [distinctKey(this.scope, key), analyzeFilter(analysis, this.scope, this.scoped(filter))] as const);
    const values = await this.collection.distinct(target.path, f, options);
    return (await sanitized('distinct', this.model, () => readDistinct(this.reader, target, values))) as DistinctValue<T, K>[];
  }

  /** The document count the collection's metadata holds: no filter, no scan (MongoDB manual, "db.collection.estimatedDocumentCount()"). */
  async estimatedCount(rawOptions: { comment?: string; maxTimeMS?: number } = {}): Promise<number> {
    const options = this.options('estimatedCount', rawOptions);
    // The metadata counts every document of the collection: in a variant's repository, also the other variants'.
    if (this.model.variant) {
      throw invalid('INPUT_NOT_FOR_VARIANT', `estimatedCount on ${this.model.target.name} would count every document of the collection, the other variants' too: the collection's metadata cannot be limited to one variant.`,
        `use count(), which matches only ${this.model.target.name} documents, or estimatedCount() of the collection's base repository for the whole collection.`);
    }
    return this.collection.estimatedDocumentCount(options);
  }

  async exists(filter: Filter<T>, rawOptions: SessionOption = {}): Promise<boolean> {
    const options = this.options('count', rawOptions);
    return (await this.collection.findOne(await this.filter('exists', filter), { ...options, projection: { _id: 1 } })) !== null;
  }

  async updateOne(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions<T> = {}): Promise<UpdateResult> {
    return this.update('updateOne', filter, update, options);
  }

  async updateMany(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions<T> = {}): Promise<UpdateResult> {
    return this.update('updateMany', filter, update, options);
  }

  /** updateOne with upsert: inserts (with $setOnInsert values) when nothing matches. */
  upsert(filter: Filter<T>, update: UpdateFilter<T>, options: SessionOption = {}): Promise<UpdateResult> {
    return this.updateOne(filter, update, { ...options, upsert: true });
  }

  async replaceOne(filter: Filter<T>, rawReplacement: Replacement<T>, rawOptions: SessionOption & { upsert?: boolean } = {}): Promise<UpdateResult> {
    const options = this.options('replace', rawOptions);
    const replacement = this.copyDocument('replaceOne', rawReplacement);
    const [f, r] = await Promise.all([this.writeFilter('replaceOne', filter), this.encodeReplacement(replacement)]);
    return this.collection.replaceOne(this.bindReplacementKeys(f, replacement, options), r, options) as Promise<UpdateResult>;
  }

  async findOneAndUpdate<const P extends Projection<T> | undefined = undefined>(filter: Filter<T>, update: UpdateFilter<T>, rawOptions: FindOneAndOptions<T, P> = {}): Promise<ReadResult<T, P> | null> {
    const options = this.options('findOneAnd', rawOptions) as FindOneAndOptions<T, P>;
    const keyed = await this.keyedUpdate('findOneAndUpdate', filter, update, options);
    if (!keyed) return null;
    const [f, u, arrayFilters] = keyed;
    return this.readOne<ReadResult<T, P>>(await this.collection.findOneAndUpdate(f, u, { ...(await this.findOneAndOptions(options, f)), ...(arrayFilters ? { arrayFilters } : {}), includeResultMetadata: false }), options.projection !== undefined);
  }

  async findOneAndReplace<const P extends Projection<T> | undefined = undefined>(filter: Filter<T>, rawReplacement: Replacement<T>, rawOptions: FindOneAndOptions<T, P> = {}): Promise<ReadResult<T, P> | null> {
    const options = this.options('findOneAnd', rawOptions) as FindOneAndOptions<T, P>;
    const replacement = this.copyDocument('findOneAndReplace', rawReplacement);
    const [f, r] = await Promise.all([this.writeFilter('findOneAndReplace', filter), this.encodeReplacement(replacement)]);
    return this.readOne<ReadResult<T, P>>(await this.collection.findOneAndReplace(this.bindReplacementKeys(f, replacement, options), r, { ...(await this.findOneAndOptions(options, f)), includeResultMetadata: false }), options.projection !== undefined);
  }

  async findOneAndDelete<const P extends Projection<T> | undefined = undefined>(filter: Filter<T>, rawOptions: Omit<FindOneAndOptions<T, P>, 'upsert' | 'returnDocument'> = {}): Promise<ReadResult<T, P> | null> {
    const options = this.options('findOneAnd', rawOptions) as Omit<FindOneAndOptions<T, P>, 'upsert' | 'returnDocument'>;
    const f = await this.writeFilter('findOneAndDelete', filter);
    const { projection, sort } = await this.findOneAndOptions(options, f);
    return this.readOne<ReadResult<T, P>>(await this.collection.findOneAndDelete(f, { session: options.session, sort, projection, includeResultMetadata: false }), options.projection !== undefined);
  }

  async deleteOne(filter: Filter<T>, rawOptions: SessionOption = {}): Promise<DeleteResult> {
    const options = this.options('delete', rawOptions);
    return this.collection.deleteOne(await this.writeFilter('deleteOne', filter), options);
  }

  async deleteMany(filter: Filter<T>, rawOptions: SessionOption = {}): Promise<DeleteResult> {
    const options = this.options('delete', rawOptions);
    return this.collection.deleteMany(await this.writeFilter('deleteMany', filter), options);
  }

  /**
   * Runs a pipeline, analyzed stage by stage against the shape of the documents (see
   * docs/queries.md). Results keep the pipeline's shape, so they are decrypted but not hydrated.
   *
   * This form names the result type (`aggregate<R>(pipeline)`) and skips the compile-time check
   * of the stages; the run time still checks every stage.
   */
  aggregate<R extends Document = never>(pipeline: readonly Document[] & NamedResult<R>, options?: AggregateOptions): StrongboxCursor<R>;
  /**
   * Runs a pipeline written inline: the common stages are checked at compile time against the
   * documents each receives, and the result type follows them (PipelineResult, plain decrypted
   * objects); a `Document[]` pipeline gives `Document`. The run time checks every stage as well.
   */
  aggregate<const S extends readonly unknown[]>(pipeline: CheckedPipeline<T, S>, options?: AggregateOptions): StrongboxCursor<PipelineResult<T, S>>;
  aggregate(rawPipeline: readonly unknown[], rawOptions: AggregateOptions = {}): StrongboxCursor<Document> {
    let copied: { pipeline: unknown; options: Document } | undefined;
    let failure: unknown;
    try {
      copied = { options: this.options('aggregate', rawOptions), pipeline: this.copyQuery('aggregate', rawPipeline) };
    } catch (err) {
      failure = err;
    }
    const cursor = this.collection.aggregate([], copied ? this.safeOptions(copied.options) : {});
    let resultShape: ResultShape | undefined;
    const ready = (async () => {
      if (!copied) throw failure;
      const { pipeline, options } = copied;
      const variables = new Set(options.let ? Object.keys(options.let) : []);
      const variant = this.model.variant;
      const scopedPipeline = variant && Array.isArray(pipeline) ? [{ $match: { [variant.field]: { $eq: variant.value } } }, ...pipeline] : pipeline;
      const stages = await this.analyze('aggregate', (analysis) => {
        const followed = followPipeline(analysis, this.model, scopedPipeline, this.scope, variables);
        // Results are decrypted along the shape the analysis followed, never by guessing from a ciphertext's header alone.
        if (followed.result instanceof DerivedScope) resultShape = { shape: followed.result.shape, loose: isTainted, openLoose: followed.result.openTainted };
        return followed.stages;
      });
      for (const stage of stages) cursor.addStage(stage);
    })();
    return new StrongboxCursor<Document>(cursor, (docs) => this.reader.decrypt(docs, resultShape), ready);
  }

  /**
   * A change stream of the collection: each event's `fullDocument` (and pre-image) is read like a
   * document of the model, updated values are decrypted path by path, and the pipeline is analyzed
   * against the shape of a change event (a `$match` on `fullDocument.<field>` is encrypted like a
   * filter on the field). Needs a replica set or sharded cluster (see docs/queries.md).
   */
  watch<E extends object = ChangeEvent<T>>(rawPipeline: ReadonlyArray<ChangeStreamStage<T>> = [], rawOptions: WatchOptions = {}): StrongboxChangeStream<E> {
    const opened = (async () => {
      const options = this.options('watch', rawOptions);
      const pipeline = this.copyQuery('watch', rawPipeline);
      const checked = sanitizedSync('watch', this.model, () => watchOptions(this.scope, options));
      let reading: EventReading | undefined;
      const stages = await this.analyze('watch', (analysis) => {
        const followed = followChangeStream(analysis, this.model, pipeline);
        reading = followed.reading;
        return followed.stages;
      });
      const stream = this.collection.watch(stages, checked);
      const loaded = (images: object[], stored: Uint8Array[], partial: boolean) => this.loaded(images as T[], stored, partial);
      const read = (event: Document) => sanitized('watch', this.model, () => readChangeEvent(this.reader, event, reading!, loaded)) as Promise<E>;
      return { stream, read };
    })();
    return new StrongboxChangeStream<E>(opened);
  }

  async bulkWrite(rawOperations: ReadonlyArray<BulkOperation<T>>, rawOptions: SessionOption & { ordered?: boolean } = {}): Promise<BulkWriteResult> {
    const options = this.options('bulkWrite', rawOptions);
    const operations = this.copy('bulkWrite', rawOperations);
    if (!Array.isArray(operations)) throw invalid('INPUT_NOT_ARRAY', `bulkWrite on ${this.model.target.name} needs an array of operations.`, 'pass [{ insertOne: { document } }, …].');
    const encoded = await Promise.all(operations.map((op) => this.encodeBulkOperation(op)));
    return this.collection.bulkWrite(encoded, options);
  }

  private async encodeBulkOperation(op: BulkOperation<T>): Promise<AnyBulkWriteOperation<Document>> {
    const entries = op && typeof op === 'object' ? safeEntries(op, 'bulkWrite operation') : [];
    if (entries.length !== 1) throw invalid('INPUT_BULK_OPERATION', 'Each bulkWrite operation must have exactly one of insertOne, updateOne, updateMany, replaceOne, deleteOne, deleteMany.', 'write { insertOne: { document } } and so on.');
    const [kind, spec] = entries[0] as [string, Document];
    const fields = (allowed: string[]) => {
      if (spec === null || typeof spec !== 'object') throw invalid('INPUT_BULK_OPERATION', `bulkWrite ${kind} needs an object.`, `write { ${kind}: { … } }.`);
      const extra = Object.keys(spec).filter((k) => !allowed.includes(k));
      if (extra.length) throw invalid('INPUT_UNKNOWN_OPTION', `bulkWrite ${kind} does not take ${extra.join(', ')}.`, `use ${allowed.join(', ')}.`);
    };
    switch (kind) {
      case 'insertOne':
        fields(['document']);
        return { insertOne: { document: (await this.prepareInsert(spec.document)).stored } };
      case 'updateOne': case 'updateMany': {
        fields(['filter', 'update', 'upsert', 'arrayFilters']);
        if (spec.upsert !== undefined && typeof spec.upsert !== 'boolean') throw invalid('INPUT_OPTIONS', `upsert of bulkWrite ${kind} must be true or false.`, 'pass true or false.');
        const given = this.copyQuery(`bulkWrite ${kind}`, requireFilter(this.model, `bulkWrite ${kind}`, spec.filter));
        const normalized = this.normalizeUpdate(`bulkWrite ${kind}`, spec.update, given, spec.upsert === true);
        const root = pinnedKeyRoot(this.scope, given);
        this.requirePinnedKeys(normalized, root, `bulkWrite ${kind}`);
        const [filter, update, arrayFilters] = await this.prepareUpdate(`bulkWrite ${kind}`, given, normalized, this.copyQuery(`bulkWrite ${kind}`, spec.arrayFilters), root, spec.upsert);
        return { [kind]: { filter, update, upsert: spec.upsert, ...(arrayFilters ? { arrayFilters } : {}) } } as AnyBulkWriteOperation<Document>;
      }
      case 'replaceOne': {
        fields(['filter', 'replacement', 'upsert']);
        if (spec.upsert !== undefined && typeof spec.upsert !== 'boolean') throw invalid('INPUT_OPTIONS', 'upsert of bulkWrite replaceOne must be true or false.', 'pass true or false.');
        const copied = this.copyDocument('bulkWrite replaceOne', spec.replacement);
        const [filter, replacement] = await Promise.all([this.writeFilter('bulkWrite replaceOne', spec.filter), this.encodeReplacement(copied)]);
        return { replaceOne: { filter: this.bindReplacementKeys(filter, copied, {}), replacement, upsert: spec.upsert } };
      }
      case 'deleteOne': case 'deleteMany':
        fields(['filter']);
        return { [kind]: { filter: await this.writeFilter(`bulkWrite ${kind}`, spec.filter) } } as AnyBulkWriteOperation<Document>;
      default:
        throw invalid('INPUT_BULK_OPERATION', `bulkWrite does not know the operation "${kind}".`, 'use insertOne, updateOne, updateMany, replaceOne, deleteOne or deleteMany.');
    }
  }

  /** A document to insert, prepared (see prepareNewDocument) and encoded: `plain` as the entity gets it, `stored` as the server does. */
  private async prepareInsert(document: unknown, now = new Date()): Promise<{ plain: Document; stored: Document; model: ModelMetadata; changed: Changed }> {
    const [plain, model, changed] = await this.prepareNewDocument(document, now);
    return { plain, stored: await sanitized('insert', this.model, () => encodeDocument(this.encryptor, model, plain, plain)), model, changed };
  }

  /**
   * A document to insert with its _id, defaults, stamps and before-insert hooks applied, the model
   * it is stored as, and the top-level fields Strongbox filled or changed (the new _id included).
   */
  private async prepareNewDocument(document: unknown, now: Date): Promise<[Document, ModelMetadata, Changed]> {
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw invalid('INPUT_NOT_A_DOCUMENT', `A ${this.model.target.name} to insert must be an object.`, 'pass an object with the model\'s fields.');
    }
    const copied = this.copyDocument('insert', document) as Document;
    const idField = this.model.fields.get('_id');
    const newId = copied._id === undefined && (!idField || idField.bsonType === undefined || idField.bsonType === 'objectId');
    // The copy stays as read: what the insert fills in (_id, discriminator, defaults, stamps, hooks) goes into `start`.
    const start: Document = { ...copied };
    if (newId) start._id = new ObjectId();
    const model = this.storedAs(start, 'insert');
    const hooked = hasHooks(model, 'beforeInsert');
    // Hooks change values in place: they run on a copy of their own, so `copied` still shows what the application wrote.
    const prepared = await prepareNew(model, hooked ? this.copy('insert', start) : start, now);
    const changes: Changed = { filled: [], removed: [] };
    for (const key of Object.keys(prepared)) {
      if (hooked ? !sameValue(prepared[key], copied[key]) : prepared[key] !== copied[key]) changes.filled.push(key);
    }
    if (hooked) for (const key of Object.keys(copied)) if (!(key in prepared)) changes.removed.push(key);
    // A default or a before-insert hook may hand over a value the application still holds: copied like the input, field by field.
    // After a hook every field is: the hook ran on `prepared` itself, and may keep it (`this`) with every value in it.
    const handed = hooked ? Object.keys(prepared) : changes.filled.filter((key) => !(newId && key === '_id'));
    if (handed.length) {
      const filled = this.copy('insert', Object.fromEntries(handed.map((key) => [key, prepared[key]])), model);
      for (const key of handed) prepared[key] = filled[key];
    }
    return [prepared, model, changes];
  }

  private async encodeReplacement(replacement: unknown): Promise<Document> {
    if (replacement && typeof replacement === 'object' && Object.keys(replacement).some((k) => k.startsWith('$'))) {
      throw invalid('INPUT_REPLACEMENT_OPERATORS', `A replacement ${this.model.target.name} cannot contain update operators.`, 'use updateOne for $set/$unset, or pass a whole document.');
    }
    // Not an object: left as it is for the encoder, which names the problem.
    if (replacement === null || typeof replacement !== 'object' || Array.isArray(replacement)) {
      return sanitized('replace', this.model, () => encodeDocument(this.encryptor, this.model, replacement, {}));
    }
    const copy = writtenValues(this.model, replacement);
    const model = this.storedAs(copy, 'replace');
    const doc = prepareReplacement(model, copy, new Date());
    return sanitized('replace', this.model, () => encodeDocument(this.encryptor, model, doc, doc));
  }

  /**
   * A replacement carries its own key fields: it may only replace a stored document that already
   * has the same ones, or values encrypted under one customer's key would land in another's document.
   */
  private bindReplacementKeys(filter: Document, replacement: unknown, options: object): Document {
    const pins: Document[] = [];
    for (const keyPath of keyFieldPaths(this.scope)) {
      const value = valueAt(replacement, keyPath);
      if (value !== undefined) pins.push({ [keyPath]: { $eq: value } });
    }
    if (pins.length) this.refuseCollationOnKeys('a replacement', options);
    return pins.length ? { $and: [filter, ...pins] } : filter;
  }

  /**
   * A key field is pinned by an equality the server evaluates; under a collation ('Alice' equal to
   * 'alice' at strength 2, punctuation ignored with alternate: 'shifted') it would also match other
   * customers' documents, each under a key of its own.
   */
  private refuseCollationOnKeys(what: string, options: object): void {
    const collation = (options as { collation?: { locale?: unknown } }).collation;
    if (collation === undefined || collation.locale === 'simple') return;
    throw new EncryptedQueryError('QUERY_COLLATION_ON_KEY_FIELD', `${what} on ${this.model.target.name} writes values under per-document keys, and a collation would let the equality pinning the key field match other customers' documents.`, {
      fix: "leave out the collation (or use { locale: 'simple' }) for writes of models with per-document keys.",
    });
  }

  /** Runs a synchronous analysis, then encrypts what it marked; errors that are not Strongbox's own never echo input. */
  private analyze<R>(what: string, analyze: (analysis: Analysis) => R): Promise<R> {
    try {
      return Promise.resolve(this.analyzeNow(what, analyze));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** analyze(), with the result itself when nothing was marked (most commands: no encryption pass, no promise); throws what analyze() rejects with. */
  private analyzeNow<R>(what: string, analyze: (analysis: Analysis) => R): R | Promise<R> {
    const analysis: Analysis = { encryptor: this.encryptor, markings: new Markings() };
    let analyzed: R;
    try {
      analyzed = analyze(analysis);
    } catch (err) {
      throw sanitize(err, what, this.model.target.name);
    }
    if (analysis.markings.count === 0) return analyzed;
    return sanitized(what, this.model, () => encryptMarked(this.encryptor, analyzed, analysis.markings));
  }

  /** The filter of a write or delete, analyzed; undefined is refused (see requireFilter). */
  private writeFilter(what: string, filter: unknown): Promise<Document> {
    return this.filter(what, requireFilter(this.model, what, filter));
  }

  private filter(what: string, filter: unknown): Promise<Document> {
    const copied = this.copyQuery(what, filter);
    return this.analyze(what, (analysis) => analyzeFilter(analysis, this.scope, this.scoped(copied)));
  }

  /**
   * In a variant's repository, the filter also says the discriminator: as a top-level key where
   * the filter has none (an upsert copies a top-level equality into the document it inserts on
   * every server; one inside $and only on some), else beside it in $and.
   */
  private scoped(filter: unknown): unknown {
    const variant = this.model.variant;
    if (!variant) return filter;
    const pin = { [variant.field]: { $eq: variant.value } };
    if (filter === undefined) return pin;
    if (!isPlainObject(filter)) return { $and: [filter, pin] };
    if (!Object.prototype.hasOwnProperty.call(filter, variant.field)) return { ...filter, ...pin };
    // The caller's own equality on this variant's value already says it, at the top level.
    return topLevelEquality(filter, variant.field) === variant.value ? filter : { $and: [filter, pin] };
  }

  /**
   * The model of the document an upsert inserts when nothing matches: this one, or in the
   * repository of a collection with variants the variant its filter pins by a top-level equality
   * on the discriminator (the document is checked against that variant's required fields).
   */
  private upsertedAs(what: string, filter: unknown): ModelShape {
    const { variants } = this.model;
    if (!variants) return this.model;
    const chosen = this.pinnedVariant(filter);
    if (chosen) return chosen;
    throw invalid('INPUT_VARIANT_UNKNOWN', `${what} on ${this.model.target.name} is an upsert: its filter must pin ${variants.field} to one of its variants (${[...variants.byValue.keys()].map((v) => `'${v}'`).join(', ')}) with an equality at its top level, which the inserted document takes.`,
      `add ${variants.field}: '<variant>' to the filter, or upsert through the variant's own repository.`);
  }

  /** In the repository of a collection with variants: the variant a filter pins by a top-level equality on the discriminator. */
  private pinnedVariant(filter: unknown): ModelMetadata | undefined {
    const { variants } = this.model;
    if (!variants) return undefined;
    const value = topLevelEquality(filter, variants.field);
    return typeof value === 'string' ? variants.byValue.get(value) : undefined;
  }

  /**
   * Through the repository of a collection with variants, an update writes only fields of the
   * documents it may reach: of the variant its filter pins, or, pinning none, fields every variant
   * declares. A field of one variant written into another's document is what insertOne refuses
   * as unknown (and the variant's reads would not expect it).
   */
  private refuseOtherVariantsFields(what: string, filter: unknown, update: unknown, upsert: boolean | undefined): void {
    const { variants } = this.model;
    if (!variants || !isPlainObject(update)) return;
    const pinned = this.pinnedVariant(filter);
    const reached = pinned ? [pinned] : [...variants.byValue.values()];
    const refuse = (path: string, by: string) => {
      const top = path.split('.')[0];
      const lacking = reached.filter((variant) => !variant.fields.has(top));
      if (lacking.length === 0) return;
      throw invalid('INPUT_UNKNOWN_FIELD', `${what} on ${this.model.target.name} writes ${top} (${by}), which ${lacking.map((v) => v.target.name).join(', ')} ${lacking.length > 1 ? 'do' : 'does'} not declare, into documents ${pinned ? `of ${pinned.target.name}` : 'of any variant (the filter pins none)'}.`,
        `write it through the repository of the variant that declares it, or pin ${variants.field} to that variant in the filter.`);
    };
    for (const [op, spec] of Object.entries(update)) {
      if (!isPlainObject(spec) || op === '$unset' || op === '$pull' || op === '$pullAll' || op === '$pop') continue;
      for (const [path, value] of Object.entries(spec)) refuse(op === '$rename' && typeof value === 'string' ? value : path, op);
    }
    // An upsert also writes its filter's copied equalities into the document it inserts.
    if (upsert) for (const field of copiedFields(filter)) refuse(field, 'the upsert filter');
  }

  /**
   * The model a written document is stored as. In a variant's repository the discriminator is
   * filled in (or must already say this variant); in the repository of a collection with
   * variants it must name one of them, whose fields the document is then checked against.
   */
  private storedAs(doc: Document, what: string): ModelMetadata {
    const { variant, variants } = this.model;
    if (variant) {
      if (doc[variant.field] === undefined || doc[variant.field] === null) doc[variant.field] = variant.value;
      else if (doc[variant.field] !== variant.value) {
        throw invalid('INPUT_VARIANT_MISMATCH', `${what} on ${this.model.target.name}: ${variant.field} must be '${variant.value}' in the repository of this variant.`,
          `leave ${variant.field} out (it is filled in), or write through the repository of the variant the document is.`);
      }
      return this.model;
    }
    if (!variants) return this.model;
    const chosen = variants.byValue.get(doc[variants.field] as string);
    if (chosen) return chosen;
    throw invalid('INPUT_VARIANT_UNKNOWN', `${what} on ${this.model.target.name}: ${variants.field} must name one of its variants (${[...variants.byValue.keys()].map((v) => `'${v}'`).join(', ')}).`,
      `set ${variants.field}, or write through the variant's own repository, which sets it.`);
  }

  /**
   * The model a loaded entity is saved as: in a collection with variants, the variant it was read
   * as, whose fields alone are compared (another variant's fields on the entity are not stored,
   * like any field the model does not declare). Moving the document to another variant is
   * refused: an update would keep the old variant's fields, which the new one cannot read.
   */
  private savedAs(before: Document, after: Document): ModelMetadata {
    const field = (this.model.variants ?? this.model.variant)?.field;
    if (field === undefined) return this.model;
    if (before[field] !== after[field]) {
      throw invalid('INPUT_VARIANT_CHANGED', `save on ${this.model.target.name}: the entity was read with ${field} ${JSON.stringify(before[field])} and now has ${JSON.stringify(after[field])}; save() does not move a document to another variant, which would keep the old variant's fields. Nothing was written.`,
        `write the document as the new variant with replaceOne, or delete it and insert the new one; to keep it, set ${field} back.`);
    }
    return after[field] === undefined || after[field] === null ? this.model : this.storedAs(after, 'save');
  }

  /** The metadata whose hooks apply to an entity: its variant's, in a collection with variants. */
  private entityModel(entity: object): ModelMetadata {
    const variants = this.model.variants;
    if (!variants) return this.model;
    for (const variant of variants.byValue.values()) if (variant.target === entity.constructor) return variant;
    return this.model;
  }

  /** The options read once and checked: what is forwarded is exactly what was checked. */
  private options<O>(entry: OptionsEntry, options: O): O {
    const copy = this.copy(entry, options) as { projection?: unknown; let?: unknown } | undefined;
    // A projection and let variables hold expressions: read as a query is (a toBSON returning $function is refused, not forwarded).
    if (copy?.projection !== undefined) copy.projection = this.copyQuery(entry, copy.projection);
    if (copy?.let !== undefined) copy.let = this.copyQuery(entry, copy.let);
    checkOptionsSanitized(entry, copy, this.scope, this.dataClient);
    return copy as O;
  }

  /** A filter or pipeline read once, as BSON writes it (see queryCopy). */
  private copyQuery<V>(what: string, value: V): V {
    return this.reading(what, (where) => queryCopy(value, where));
  }

  /** `value` read once (see snapshot); with `shape`, as a document of that shape. */
  private copy<V>(what: string, value: V, shape?: ModelShape): V {
    return this.reading(what, (where) => snapshot(value, where, shape));
  }

  private reading<V>(what: string, read: (where: string) => V): V {
    try {
      return read(`${what} on ${this.model.target.name}`);
    } catch (err) {
      throw sanitize(err, what, this.model.target.name);
    }
  }

  /**
   * A document to write, read once and copied whole: its declared fields (getters included), and
   * so are its embedded documents, class instances or not. The key binding, the encoder, the
   * command, the change-tracking snapshot and the entity returned all see this copy, so nothing the
   * caller changes while the write is in flight reaches one of them and not the others.
   */
  private copyDocument(what: string, document: unknown): unknown {
    if (document === null || typeof document !== 'object' || Array.isArray(document)) return document;
    return this.copy(what, document, this.writtenShape);
  }

  /** The driver-level options of aggregate, already checked: only what the table allows is forwarded. */
  private safeOptions(options: Document): Document {
    const { session, batchSize, allowDiskUse, comment, collation, hint, let: variables, maxTimeMS } = options;
    return Object.fromEntries(Object.entries({ session, batchSize, allowDiskUse, comment, collation, hint, let: variables, maxTimeMS }).filter(([, v]) => v !== undefined));
  }

  /**
   * The filter, update and arrayFilters to send. The filter also carries the conditions under
   * which what the update creates keeps the document what the model says (creationGuards).
   */
  private async prepareUpdate(what: string, filter: unknown, update: unknown, arrayFilters: unknown, keyRoot: Document, upsert: boolean | undefined): Promise<[Document, Document, Document[] | undefined]> {
    return this.analyze(what, (analysis) => {
      this.refuseOtherVariantsFields(what, filter, update, upsert);
      const f = analyzeFilter(analysis, this.scope, this.scoped(filter));
      const u = analyzeUpdate(analysis, this.scope, update, keyRoot);
      const a = analyzeArrayFilters(analysis, this.scope, update, arrayFilters);
      const inserted = upsert === true ? this.upsertedAs(what, f) : undefined;
      const guards = creationGuards(this.scope, f, u, inserted);
      const keys = Object.keys(guards);
      const guarded = keys.length === 0 ? f : keys.some((key) => key in f) ? { $and: [f, guards] } : { ...f, ...guards };
      return [guarded, u, a] as [Document, Document, Document[] | undefined];
    });
  }

  /**
   * Timestamps and version stamped; values checked against the model's rules; required fields
   * stay filled; null or undefined in an optional field means "remove it" (see docs/models.md).
   */
  private normalizeUpdate(what: string, update: unknown, filter: unknown, upsert: boolean | undefined): unknown {
    try {
      // An upsert may insert a document of the variant its filter pins: that variant's defaults apply (stamps are the collection's).
      const stamped = stampUpdate(this.model, upsert ? withUpsertDefaults(this.upsertedAs(what, filter), update, filter) : update, new Date());
      // In a collection with variants, the documents the update may reach are of the variant its filter pins, or of any:
      // each one's rules and required fields hold (a field optional in the collection's model may be required by one).
      const { variants } = this.model;
      const pinned = this.pinnedVariant(filter);
      const reached = variants ? (pinned ? [pinned] : [...variants.byValue.values()]) : [];
      // An upsert's copied equalities are values the inserted document gets: checked like the update's.
      const copied = upsert ? { $setOnInsert: Object.fromEntries(copiedEqualityValues(filter)) } : undefined;
      for (const model of [this.model, ...reached]) {
        if (!hasRules(model)) continue;
        refuseIssues(model.target.name, [...updateIssues(model, stamped), ...(copied ? updateIssues(model, copied) : [])]);
      }
      this.refuseVariantMove(what, stamped, (this.model.variant ?? pinned?.variant)?.value);
      const checked = checkUpdateKeepsRequired(this.model, stamped);
      for (const variant of reached) checkUpdateKeepsRequired(variant, checked);
      return checked;
    } catch (err) {
      throw sanitize(err, what, this.model.target.name);
    }
  }

  /**
   * An update writes the discriminator only with the value its documents already have (`own`: the
   * variant repository's, or the one the filter pins): moving a document to another variant would
   * leave it without that variant's required fields, and a value no variant has would leave it in
   * none (save() refuses the same).
   */
  private refuseVariantMove(what: string, update: unknown, own: string | undefined): void {
    const field = this.model.variant?.field ?? this.model.variants?.field;
    if (field === undefined || !isPlainObject(update)) return;
    for (const [op, spec] of Object.entries(update)) {
      if (!isPlainObject(spec)) continue;
      for (const [path, value] of Object.entries(spec)) {
        if (path !== field && !(op === '$rename' && value === field)) continue;
        if ((op === '$set' || op === '$setOnInsert') && own !== undefined && value === own) continue;
        throw invalid('INPUT_VARIANT_CHANGED', `${what} on ${this.model.target.name} writes the discriminator ${field} (${op}): an update does not move a document to another variant, which would lack that variant's required fields, or to none.`,
          'write the document as the other variant with replaceOne through its repository, or delete it and insert the new one.');
      }
    }
  }

  private requirePinnedKeys(update: unknown, root: Document, what: string): void {
    const missing = unpinnedKeyPaths(this.scope, update, root);
    if (missing.length) {
      throw invalid('INPUT_KEY_NOT_PINNED', `${what} on ${this.model.target.name} writes values encrypted under per-document keys, but its filter does not pin ${missing.join(', ')} with an equality, so the key of every matched document is not known.`,
        `add ${missing.map((p) => `${p}: <value>`).join(', ')} to the filter, or use updateOne / updateMany, which read each matched document's key first.`);
    }
  }

  /**
   * An update that writes values under per-document keys: with the key fields pinned by the
   * filter it runs as one command; otherwise the matched documents' keys are read first and the
   * update runs once per key, each time conditional on the key field, so every value is encrypted
   * under the key of the document it lands in.
   */
  private async update(what: 'updateOne' | 'updateMany', rawFilter: unknown, rawUpdate: unknown, rawOptions: UpdateOptions<T>): Promise<UpdateResult> {
    const options = this.options('update', rawOptions);
    const filter = this.copyQuery(what, requireFilter(this.model, what, rawFilter));
    const update = this.normalizeUpdate(what, this.copy(what, rawUpdate), filter, options.upsert);
    const { arrayFilters: givenArrayFilters, ...driverOptions } = options;
    const rawArrayFilters = this.copyQuery(what, givenArrayFilters);
    const root = pinnedKeyRoot(this.scope, filter);
    const missing = unpinnedKeyPaths(this.scope, update, root);
    if (writesUnderDocumentKeys(this.scope, update)) this.refuseCollationOnKeys(what, options);
    if (missing.length === 0) {
      const [f, u, arrayFilters] = await this.prepareUpdate(what, filter, update, rawArrayFilters, root, options.upsert);
      return this.collection[what](f, u, { ...driverOptions, ...(arrayFilters ? { arrayFilters } : {}) });
    }
    const keyPath = this.singleKeyPath(missing, what, options.upsert);
    // Refusals come before any read: the analysis runs once with a placeholder key.
    await this.prepareUpdate(what, filter, update, rawArrayFilters, keyRootFor(keyPath, 'placeholder'), options.upsert);
    const encodedFilter = await this.filter(what, filter);
    const keys = what === 'updateOne'
      ? [valueAt(await this.collection.findOne(encodedFilter, { session: options.session, projection: { [keyPath]: 1 } }), keyPath)].filter((k) => k !== undefined)
      : await this.collection.distinct(keyPath, encodedFilter, { session: options.session });
    const total: UpdateResult = { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 0, upsertedId: null };
    for (const key of keys) {
      if (typeof key !== 'string' || key.length === 0) continue; // such documents cannot hold values under a per-document key
      const [f, u, arrayFilters] = await this.prepareUpdate(what, filter, update, rawArrayFilters, keyRootFor(keyPath, key), options.upsert);
      const result = await this.collection[what]({ $and: [f, { [keyPath]: { $eq: key } }] }, u, { ...driverOptions, ...(arrayFilters ? { arrayFilters } : {}) });
      total.matchedCount += result.matchedCount;
      total.modifiedCount += result.modifiedCount;
      if (what === 'updateOne' && result.matchedCount > 0) break;
    }
    return total;
  }

  /** findOneAndUpdate: the one document's key is read first when the filter does not pin it; null when nothing matches. */
  private async keyedUpdate(what: string, rawFilter: unknown, rawUpdate: unknown, options: FindOneAndOptions<T>): Promise<[Document, Document, Document[] | undefined] | null> {
    const filter = this.copyQuery(what, requireFilter(this.model, what, rawFilter));
    const update = this.normalizeUpdate(what, this.copy(what, rawUpdate), filter, options.upsert);
    const arrayFilters = this.copyQuery(what, options.arrayFilters);
    const root = pinnedKeyRoot(this.scope, filter);
    const missing = unpinnedKeyPaths(this.scope, update, root);
    if (writesUnderDocumentKeys(this.scope, update)) this.refuseCollationOnKeys(what, options);
    if (missing.length === 0) return this.prepareUpdate(what, filter, update, arrayFilters, root, options.upsert);
    const keyPath = this.singleKeyPath(missing, what, options.upsert);
    await this.prepareUpdate(what, filter, update, arrayFilters, keyRootFor(keyPath, 'placeholder'), options.upsert);
    const encodedFilter = await this.filter(what, filter);
    const { sort } = await this.findOneAndOptions(options, encodedFilter);
    const target = await this.collection.findOne(encodedFilter, { session: options.session, sort, projection: { _id: 1, [keyPath]: 1 } });
    const key = valueAt(target, keyPath);
    if (!target || typeof key !== 'string' || key.length === 0) return null;
    const [f, u, encodedArrayFilters] = await this.prepareUpdate(what, filter, update, arrayFilters, keyRootFor(keyPath, key), options.upsert);
    return [{ $and: [f, { _id: { $eq: target._id }, [keyPath]: { $eq: key } }] }, u, encodedArrayFilters];
  }

  private singleKeyPath(missing: string[], what: string, upsert: boolean | undefined): string {
    if (missing.length > 1 || upsert) {
      throw invalid('INPUT_KEY_NOT_PINNED', `${what} on ${this.model.target.name} writes values under per-document keys (${missing.join(', ')}) that its filter does not pin${upsert ? ', and an upsert would create a document whose key is unknown' : ''}.`,
        `add ${missing.map((p) => `${p}: <value>`).join(', ')} to the filter.`);
    }
    return missing[0];
  }

  /** `filter`, as sent, says whether a sort by text score has a text search to score. */
  private async findOneAndOptions(options: FindOneAndOptions<T>, filter: Document) {
    if (options.returnDocument !== undefined && options.returnDocument !== 'before' && options.returnDocument !== 'after') {
      throw invalid('INPUT_OPTIONS', `returnDocument must be 'before' or 'after'.`, "pass 'before' or 'after'.");
    }
    const projection = await this.analyze('projection', (analysis) => {
      if (options.sort !== undefined) assertSortable(this.scope, options.sort, isTextSearch(filter));
      return analyzeProjection(analysis, this.scope, options.projection, isTextSearch(filter));
    });
    return { session: options.session, upsert: options.upsert, sort: options.sort as Document, projection, returnDocument: options.returnDocument ?? 'after' } as const;
  }

  private async readOne<R = T>(doc: Document | null, partial: boolean): Promise<R | null> {
    if (!doc) return null;
    // Serialized before decryption, which works in place.
    const stored = BSON.serialize(doc);
    return (await this.loaded(await this.reader.read([doc]), [stored], partial))[0] as unknown as R;
  }
}

/** The options of find forwarded to the driver's cursor (the rest are Strongbox's: projection and sort go through the analysis). */
const CURSOR_OPTIONS = ['session', 'skip', 'limit', 'batchSize', 'comment', 'collation', 'hint', 'maxTimeMS'] as const;

function valueAt(doc: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, seg) => (node && typeof node === 'object' ? (node as Document)[seg] : undefined), doc);
}

function keyRootFor(keyPath: string, key: string): Document {
  const root: Document = {};
  setPath(root, keyPath, key);
  return root;
}

function checkOptionsSanitized(entry: OptionsEntry, options: unknown, scope: ModelScope, client: MongoClient): Set<string> {
  try {
    return checkOptions(entry, options, scope, client);
  } catch (err) {
    throw sanitize(err, entry, scope.name);
  }
}

/**
 * Runs analysis or encoding so that only Strongbox's own errors come out: a TypeError or a BSON
 * error thrown on malformed input may quote the input, which can be plaintext of an encrypted
 * field, so it is replaced by an error that names the operation and nothing of the value.
 */
async function sanitized<R>(what: string, model: ModelMetadata, run: () => Promise<R>): Promise<R> {
  try {
    return await run();
  } catch (err) {
    throw sanitize(err, what, model.target.name);
  }
}

function sanitizedSync<R>(what: string, model: ModelMetadata, run: () => R): R {
  try {
    return run();
  } catch (err) {
    throw sanitize(err, what, model.target.name);
  }
}

function sanitize(err: unknown, what: string, model: string): unknown {
  if (err instanceof StrongboxError) return err;
  if (err instanceof TypeError || err instanceof RangeError || (err instanceof Error && err.name.startsWith('BSON'))) {
    return new InvalidInputError('INPUT_MALFORMED', `${what} on ${model} got input of a shape it cannot process (${err.name}); nothing was sent.`, {
      fix: 'check the arguments against the model and docs/queries.md; the original message is withheld because it may quote a value of an encrypted field.',
    });
  }
  return err;
}

/** Top-level fields an insert filled in or changed, and those a before-insert hook removed. */
interface Changed {
  filled: string[];
  removed: string[];
}

/** A value the write puts on the entity (`because` says why) must fit there: checked before anything is sent. */
function assertWritable(model: ModelMetadata, entity: object, key: string, because: string): void {
  for (let at: object | null = entity; at !== null; at = Object.getPrototypeOf(at)) {
    const descriptor = Object.getOwnPropertyDescriptor(at, key);
    if (!descriptor) continue;
    // An inherited data property must be writable too, or assigning it throws rather than adding an own one.
    if ('value' in descriptor ? descriptor.writable : descriptor.set !== undefined) return;
    throw invalid('INPUT_ENTITY_FIELD_READONLY', `save on ${model.target.name}: the entity's ${key} cannot be set (${'value' in descriptor ? 'a read-only property' : 'a getter without a setter'}), and ${because}; nothing was written.`,
      `make ${key} a plain property, or give it a setter.`);
  }
  if (!Object.isExtensible(entity)) {
    throw invalid('INPUT_ENTITY_FIELD_READONLY', `save on ${model.target.name}: the entity is frozen or sealed and cannot take ${key} (${because}); nothing was written.`, 'save an entity that can be changed.');
  }
}

/**
 * The filter of a write or delete: undefined is refused, not read as {} (every document), so a
 * filter variable left undefined by mistake does not rewrite or delete a whole collection. An
 * explicit {} still means every document.
 */
function requireFilter(model: ModelMetadata, what: string, filter: unknown): unknown {
  if (filter !== undefined) return filter;
  throw invalid('INPUT_FILTER_MISSING', `${what} on ${model.target.name} got no filter (undefined), which would reach every ${model.target.name} in the collection.`,
    'pass the filter of the documents to change, or {} to mean every document.');
}

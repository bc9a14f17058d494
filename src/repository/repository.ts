import { inspect } from 'node:util';
import { ObjectId, type AnyBulkWriteOperation, type BulkWriteResult, type ClientSession, type Collection, type DeleteResult, type Document, type MongoClient, type UpdateResult } from 'mongodb';
import type { CryptoEngine } from '../crypto/engine';
import type { KeyVault } from '../crypto/keyVault';
import { hydrate } from '../metadata/hydrate';
import type { ModelMetadata } from '../metadata/types';
import { StrongboxCursor } from './cursor';
import { encodeDocument, writtenValues } from './encoding/documentEncoder';
import { checkUpdateKeepsRequired } from './encoding/requiredFields';
import { FieldEncryptor } from './encoding/fieldEncryptor';
import { encodeFilter } from './encoding/filterEncoder';
import { invalid, safeEntries } from './encoding/guards';
import { assertSortable, encodePipeline, encodeProjection } from './encoding/pipelineEncoder';
import { encodeUpdate, keyContextOf } from './encoding/updateEncoder';
import { DocumentReader, type UndecryptablePolicy } from './reader';
import type { Filter, InsertDoc, Projection, Replacement, Sort, UpdateFilter } from './types';

export interface RepositoryContext {
  dataClient: MongoClient;
  engine: CryptoEngine;
  keyVault: KeyVault;
}

export interface RepositoryOptions {
  /** What a read does with a value it cannot decrypt: raise a DecryptionError (default) or put an UndecryptableValue in its place. */
  onUndecryptable?: UndecryptablePolicy;
}

export interface SessionOption { session?: ClientSession; }
export interface FindOptions<T> extends SessionOption {
  projection?: Projection<T>;
  sort?: Sort<T>;
  skip?: number;
  limit?: number;
  /** Documents per server round trip; each batch is decrypted in one pass. */
  batchSize?: number;
}
export interface UpdateOptions extends SessionOption { upsert?: boolean; arrayFilters?: Document[]; }
export interface FindOneAndOptions<T> extends SessionOption { upsert?: boolean; sort?: Sort<T>; projection?: Projection<T>; returnDocument?: 'before' | 'after'; }

export type BulkOperation<T> =
  | { insertOne: { document: InsertDoc<T> } }
  | { updateOne: { filter: Filter<T>; update: UpdateFilter<T>; upsert?: boolean } }
  | { updateMany: { filter: Filter<T>; update: UpdateFilter<T>; upsert?: boolean } }
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

  constructor(readonly model: ModelMetadata, context: RepositoryContext, options: RepositoryOptions = {}) {
    this.collection = context.dataClient.db(model.db).collection(model.collection);
    this.encryptor = new FieldEncryptor(model, context.engine, context.keyVault);
    this.reader = new DocumentReader<T>(model, context.engine, options.onUndecryptable ?? 'throw');
  }

  /** A summary for console.log: the driver objects inside hold connection secrets (the TLS key passphrase). */
  [inspect.custom](): string {
    return `Repository<${this.model.target.name}> { namespace: '${this.model.namespace}' }`;
  }

  toJSON(): object {
    return { model: this.model.target.name, namespace: this.model.namespace };
  }

  async insertOne(document: InsertDoc<T>, options: SessionOption = {}): Promise<T> {
    const [plain, stored] = await this.prepareInsert(document);
    await this.collection.insertOne(stored, options);
    return hydrate<T>(this.model, plain);
  }

  async insertMany(documents: ReadonlyArray<InsertDoc<T>>, options: SessionOption = {}): Promise<T[]> {
    if (!Array.isArray(documents)) throw invalid('INPUT_NOT_ARRAY', `insertMany on ${this.model.target.name} needs an array of documents.`, 'pass an array.');
    const prepared = await Promise.all(documents.map((d) => this.prepareInsert(d)));
    if (prepared.length) await this.collection.insertMany(prepared.map(([, stored]) => stored), { ...options, ordered: true });
    return prepared.map(([plain]) => hydrate<T>(this.model, plain));
  }

  async findOne(filter: Filter<T> = {} as Filter<T>, options: Omit<FindOptions<T>, 'limit' | 'batchSize'> = {}): Promise<T | null> {
    // One batch and no server cursor left open, as the driver's own findOne asks for.
    const [first] = await this.openCursor(filter, { ...options, limit: 1 }, true).toArray();
    return first ?? null;
  }

  findById(id: unknown, options: Omit<FindOptions<T>, 'limit' | 'batchSize'> = {}): Promise<T | null> {
    // The driver drops undefined from filters: { _id: undefined } would match any document.
    if (id === undefined || id === null) {
      return Promise.reject(invalid('INPUT_ID_MISSING', `findById on ${this.model.target.name} got ${id === null ? 'null' : 'undefined'} instead of an id.`, 'pass the _id of the document to read.'));
    }
    return this.findOne({ _id: id } as unknown as Filter<T>, options);
  }

  find(filter: Filter<T> = {} as Filter<T>, options: FindOptions<T> = {}): StrongboxCursor<T> {
    return this.openCursor(filter, options, false);
  }

  private openCursor(filter: Filter<T>, options: FindOptions<T>, singleBatch: boolean): StrongboxCursor<T> {
    // raw: the driver hands out each document's BSON, which goes to libmongocrypt untouched and is deserialized once.
    const cursor = this.collection.find({}, { ...options, sort: undefined, projection: undefined, raw: true, ...(singleBatch ? { singleBatch } : {}) });
    // Encoding is async; its errors surface on the first read of the cursor (find itself never throws).
    const ready = (async () => {
      if (options.sort !== undefined) { this.checkSort(options.sort); cursor.sort(options.sort as Document); }
      const projection = await encodeProjection(this.encryptor, options.projection);
      if (projection) cursor.project(projection);
      cursor.filter(await encodeFilter(this.encryptor, filter));
    })();
    return new StrongboxCursor<T>(cursor, async (docs) => this.reader.readRaw(docs as unknown as Uint8Array[]), ready);
  }

  async count(filter: Filter<T> = {} as Filter<T>, options: SessionOption & { limit?: number } = {}): Promise<number> {
    return this.collection.countDocuments(await encodeFilter(this.encryptor, filter), options);
  }

  async exists(filter: Filter<T>, options: SessionOption = {}): Promise<boolean> {
    return (await this.collection.findOne(await encodeFilter(this.encryptor, filter), { ...options, projection: { _id: 1 } })) !== null;
  }

  async updateOne(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions = {}): Promise<UpdateResult> {
    const [f, u, arrayFilters] = await this.prepareUpdate(filter, update, options.arrayFilters);
    return this.collection.updateOne(f, u, { ...options, arrayFilters });
  }

  async updateMany(filter: Filter<T>, update: UpdateFilter<T>, options: UpdateOptions = {}): Promise<UpdateResult> {
    const [f, u, arrayFilters] = await this.prepareUpdate(filter, update, options.arrayFilters);
    return this.collection.updateMany(f, u, { ...options, arrayFilters });
  }

  /** updateOne with upsert: inserts (with $setOnInsert values) when nothing matches. */
  upsert(filter: Filter<T>, update: UpdateFilter<T>, options: SessionOption = {}): Promise<UpdateResult> {
    return this.updateOne(filter, update, { ...options, upsert: true });
  }

  async replaceOne(filter: Filter<T>, replacement: Replacement<T>, options: SessionOption & { upsert?: boolean } = {}): Promise<UpdateResult> {
    const [f, r] = await Promise.all([encodeFilter(this.encryptor, filter), this.encodeReplacement(replacement)]);
    return this.collection.replaceOne(f, r, options) as Promise<UpdateResult>;
  }

  async findOneAndUpdate(filter: Filter<T>, update: UpdateFilter<T>, options: FindOneAndOptions<T> = {}): Promise<T | null> {
    this.checkSort(options.sort);
    const [f, u] = await this.prepareUpdate(filter, update);
    return this.readOne(await this.collection.findOneAndUpdate(f, u, { ...(await this.findOneAndOptions(options)), includeResultMetadata: false }));
  }

  async findOneAndReplace(filter: Filter<T>, replacement: Replacement<T>, options: FindOneAndOptions<T> = {}): Promise<T | null> {
    this.checkSort(options.sort);
    const [f, r] = await Promise.all([encodeFilter(this.encryptor, filter), this.encodeReplacement(replacement)]);
    return this.readOne(await this.collection.findOneAndReplace(f, r, { ...(await this.findOneAndOptions(options)), includeResultMetadata: false }));
  }

  async findOneAndDelete(filter: Filter<T>, options: Omit<FindOneAndOptions<T>, 'upsert' | 'returnDocument'> = {}): Promise<T | null> {
    this.checkSort(options.sort);
    const f = await encodeFilter(this.encryptor, filter);
    const projection = await encodeProjection(this.encryptor, options.projection);
    return this.readOne(await this.collection.findOneAndDelete(f, { session: options.session, sort: options.sort as Document, projection, includeResultMetadata: false }));
  }

  async deleteOne(filter: Filter<T>, options: SessionOption = {}): Promise<DeleteResult> {
    return this.collection.deleteOne(await encodeFilter(this.encryptor, filter), options);
  }

  async deleteMany(filter: Filter<T>, options: SessionOption = {}): Promise<DeleteResult> {
    return this.collection.deleteMany(await encodeFilter(this.encryptor, filter), options);
  }

  /**
   * Runs a pipeline ($match encoded like filters; sorting, grouping and computing on encrypted
   * fields refused). Results keep the pipeline's shape, so they are decrypted but not hydrated.
   */
  aggregate<R extends Document = Document>(pipeline: Document[], options: SessionOption & { batchSize?: number } = {}): StrongboxCursor<R> {
    const encoded = encodePipeline(this.encryptor, pipeline);
    const cursor = this.collection.aggregate([], options);
    const ready = encoded.then((stages) => { for (const stage of stages) cursor.addStage(stage); });
    return new StrongboxCursor<R>(cursor, async (docs) => (await this.reader.decrypt(docs)) as R[], ready);
  }

  async bulkWrite(operations: ReadonlyArray<BulkOperation<T>>, options: SessionOption & { ordered?: boolean } = {}): Promise<BulkWriteResult> {
    const encoded = await Promise.all(operations.map((op) => this.encodeBulkOperation(op)));
    return this.collection.bulkWrite(encoded, options);
  }

  private async encodeBulkOperation(op: BulkOperation<T>): Promise<AnyBulkWriteOperation<Document>> {
    const entries = op && typeof op === 'object' ? safeEntries(op, 'bulkWrite operation') : [];
    if (entries.length !== 1) throw invalid('INPUT_BULK_OPERATION', 'Each bulkWrite operation must have exactly one of insertOne, updateOne, updateMany, replaceOne, deleteOne, deleteMany.', 'write { insertOne: { document } } and so on.');
    const [kind, spec] = entries[0] as [string, Document];
    switch (kind) {
      case 'insertOne': return { insertOne: { document: (await this.prepareInsert(spec.document))[1] } };
      case 'updateOne': case 'updateMany': {
        const [filter, update] = await this.prepareUpdate(spec.filter, spec.update);
        return { [kind]: { filter, update, upsert: spec.upsert } } as AnyBulkWriteOperation<Document>;
      }
      case 'replaceOne': {
        const [filter, replacement] = await Promise.all([encodeFilter(this.encryptor, spec.filter), this.encodeReplacement(spec.replacement)]);
        return { replaceOne: { filter, replacement, upsert: spec.upsert } };
      }
      case 'deleteOne': case 'deleteMany':
        return { [kind]: { filter: await encodeFilter(this.encryptor, spec.filter) } } as AnyBulkWriteOperation<Document>;
      default:
        throw invalid('INPUT_BULK_OPERATION', `bulkWrite does not know the operation "${kind}".`, 'use insertOne, updateOne, updateMany, replaceOne, deleteOne or deleteMany.');
    }
  }

  private async prepareInsert(document: unknown): Promise<[Document, Document]> {
    if (document === null || typeof document !== 'object' || Array.isArray(document)) {
      throw invalid('INPUT_NOT_A_DOCUMENT', `A ${this.model.target.name} to insert must be an object.`, 'pass an object with the model\'s fields.');
    }
    const plain: Document = writtenValues(this.model, document);
    const idField = this.model.fields.get('_id');
    if (plain._id === undefined && (!idField || idField.bsonType === undefined || idField.bsonType === 'objectId')) plain._id = new ObjectId();
    return [plain, await encodeDocument(this.encryptor, this.model, plain, plain)];
  }

  private async encodeReplacement(replacement: unknown): Promise<Document> {
    if (replacement && typeof replacement === 'object' && Object.keys(replacement).some((k) => k.startsWith('$'))) {
      throw invalid('INPUT_REPLACEMENT_OPERATORS', `A replacement ${this.model.target.name} cannot contain update operators.`, 'use updateOne for $set/$unset, or pass a whole document.');
    }
    return encodeDocument(this.encryptor, this.model, replacement, (replacement ?? {}) as Document);
  }

  private async prepareUpdate(filter: unknown, update: unknown, arrayFilters?: Document[]): Promise<[Document, Document, Document[] | undefined]> {
    update = checkUpdateKeepsRequired(this.model, update);
    const f = await encodeFilter(this.encryptor, filter);
    const u = await encodeUpdate(this.encryptor, update, keyContextOf(filter, update));
    return [f, u, arrayFilters && await this.encodeArrayFilters(update as Document, arrayFilters)];
  }

  /** arrayFilters name elements of arrays (`$[x]`); their conditions are filters relative to that array's path. */
  private async encodeArrayFilters(update: Document, arrayFilters: Document[]): Promise<Document[]> {
    const arrayPathOf = new Map<string, string>();
    for (const spec of Object.values(update)) {
      for (const path of Object.keys((spec ?? {}) as Document)) {
        for (const match of path.matchAll(/\$\[([A-Za-z][A-Za-z0-9]*)\]/g)) arrayPathOf.set(match[1], path.slice(0, match.index! - 1));
      }
    }
    return Promise.all(arrayFilters.map(async (condition) => {
      const out: Document = {};
      for (const [key, value] of safeEntries(condition, 'arrayFilters')) {
        const [identifier, ...rest] = key.split('.');
        const arrayPath = arrayPathOf.get(identifier);
        if (arrayPath === undefined) throw invalid('INPUT_ARRAY_FILTER', `arrayFilters names "${identifier}", which no $[${identifier}] in the update uses.`, 'match the identifiers of arrayFilters and the update paths.');
        const relative = rest.length ? { [rest.join('.')]: value } : undefined;
        if (!relative) { out[key] = value; continue; }
        const encoded = await encodeFilter(this.encryptor, relative, arrayPath.replace(/\.\$\[[^\]]*\]/g, ''));
        out[key] = encoded[rest.join('.')];
      }
      return out;
    }));
  }

  private async findOneAndOptions(options: FindOneAndOptions<T>) {
    const projection = await encodeProjection(this.encryptor, options.projection);
    return { session: options.session, upsert: options.upsert, sort: options.sort as Document, projection, returnDocument: options.returnDocument ?? 'after' } as const;
  }

  private async readOne(doc: Document | null): Promise<T | null> {
    if (!doc) return null;
    return (await this.reader.read([doc]))[0];
  }

  private checkSort(sort: unknown): void {
    if (sort !== undefined) assertSortable(this.encryptor, sort);
  }
}

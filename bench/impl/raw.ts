import { MongoClient, ObjectId, type Collection, type Document } from 'mongodb';
import type { Contender } from '../contender';
import { COLLECTION_OF, type DocKind } from '../models/plan';

/** The raw driver's database, and the second raw client's (the A/A control, see connect). */
const RAW_DB = 'odm_raw';
const RAW_AGAIN_DB = 'odm_raw_again';

/**
 * The raw driver as an expert writes it: one client, collections looked up once, a shallow copy
 * for each insert (insertOne adds `_id` to the object it is given, and the same source object is
 * saved many times), `$set` of just the changed field, findOne for point reads.
 */
export class RawContender implements Contender {
  private readonly collections = new Map<DocKind, Collection<Document>>();

  private constructor(private readonly client: MongoClient, readonly key: string, readonly label: string, private readonly db: string) {}

  /**
   * `again`: a second raw client, the same code in its own database, measured side by side with
   * the first as an A/A control. Its ratio to the first is what two identical implementations
   * differ by on this machine in this run: a gap of that size between Strongbox and the raw driver
   * is not one the run can show.
   */
  static async connect(uri: string, again = false): Promise<RawContender> {
    const client = new MongoClient(uri);
    await client.connect();
    return again ? new RawContender(client, 'raw-again', 'raw driver (again, A/A)', RAW_AGAIN_DB) : new RawContender(client, 'raw', 'raw driver', RAW_DB);
  }

  private collection(kind: DocKind): Collection<Document> {
    let collection = this.collections.get(kind);
    if (!collection) {
      collection = this.client.db(this.db).collection(COLLECTION_OF[kind]);
      this.collections.set(kind, collection);
    }
    return collection;
  }

  newId(): ObjectId { return new ObjectId(); }
  adopt(source: Document): Document { return source; }
  async drop(kind: DocKind): Promise<void> { await this.collection(kind).drop().catch(ignoreMissing); }
  async create(kind: DocKind, doc: Document): Promise<void> { await this.collection(kind).insertOne({ ...doc }); }
  async seed(kind: DocKind, docs: Document[]): Promise<void> { await this.collection(kind).insertMany(docs.map((d) => ({ ...d }))); }
  async createIndex(kind: DocKind, path: string): Promise<void> { await this.collection(kind).createIndex({ [path]: 1 }); }
  load(kind: DocKind): Promise<unknown[]> { return this.collection(kind).find({}, { projection: { _id: 1 } }).toArray(); }
  async update(kind: DocKind, instance: unknown, path: string, value: string): Promise<void> {
    await this.collection(kind).updateOne({ _id: (instance as Document)._id }, { $set: { [path]: value } });
  }
  findById(kind: DocKind, id: ObjectId): Promise<unknown> { return this.collection(kind).findOne({ _id: id }); }
  findOne(kind: DocKind, filter: Document): Promise<unknown> { return this.collection(kind).findOne(filter); }
  close(): Promise<void> { return this.client.close(); }
}

/** Dropping a collection that does not exist is fine for the benchmark's "before" phases. */
export function ignoreMissing(err: unknown): void {
  if ((err as { codeName?: string; code?: number }).codeName === 'NamespaceNotFound' || (err as { code?: number }).code === 26) return;
  throw err;
}

import { ClientEncryption, MongoClient, ObjectId, type Binary, type Collection, type Document } from 'mongodb';
import type { Contender } from '../contender';
import type { Datasets } from '../datasets';
import { COLLECTION_OF, encryptedPaths, type DocKind, type EncryptedKind, type EncryptedPath } from '../models/plan';
import { ignoreMissing } from './raw';

export const RAW_ENCRYPTED_DB = 'odm_raw_enc';

const ALGORITHM = {
  Deterministic: 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic',
  Random: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random',
} as const;

/**
 * The best hand-written client-side encryption with the driver's public API: one data key whose
 * id is looked up once, `ClientEncryption.encrypt` for every value of a document concurrently,
 * the encrypted query value for Deterministic filters, and reads through a client with
 * `autoEncryption: { bypassAutoEncryption: true }` that decrypts whole server replies.
 */
export class RawExplicitContender implements Contender {
  readonly key = 'raw-explicit';
  readonly label = 'raw driver + explicit encryption';

  private constructor(
    private readonly plain: MongoClient,
    private readonly decrypting: MongoClient,
    private readonly encryption: ClientEncryption,
    private readonly keyId: Binary,
    private readonly plans: Record<EncryptedKind, EncryptedPath[]>,
  ) {}

  static async connect(uri: string, masterKey: Buffer, keyVaultNamespace: string, datasets: Datasets): Promise<RawExplicitContender> {
    const kmsProviders = { local: { key: masterKey } };
    const plain = new MongoClient(uri);
    await plain.connect();
    const decrypting = new MongoClient(uri, { autoEncryption: { bypassAutoEncryption: true, keyVaultNamespace, kmsProviders } });
    await decrypting.connect();
    const encryption = new ClientEncryption(plain, { keyVaultNamespace, kmsProviders });
    const keyId = await encryption.createDataKey('local', { keyAltNames: [`odm-bench-raw-${Date.now()}`] });
    const plans = {
      encSmall: encryptedPaths('encSmall', datasets),
      encLarge: encryptedPaths('encLarge', datasets),
      encNested: encryptedPaths('encNested', datasets),
    };
    return new RawExplicitContender(plain, decrypting, encryption, keyId, plans);
  }

  private plan(kind: DocKind): EncryptedPath[] {
    const plan = this.plans[kind as EncryptedKind];
    if (!plan) throw new Error(`${this.label} runs only the encrypted tasks, not ${kind}`);
    return plan;
  }

  private collection(client: MongoClient, kind: DocKind): Collection<Document> {
    return client.db(RAW_ENCRYPTED_DB).collection(COLLECTION_OF[kind]);
  }

  private encrypt(value: unknown, algorithm: EncryptedPath['algorithm']): Promise<Binary> {
    return this.encryption.encrypt(value, { algorithm: ALGORITHM[algorithm], keyId: this.keyId });
  }

  /** A copy of the document with its encrypted paths encrypted, all values concurrently; the source is left untouched. */
  private async encryptDocument(kind: DocKind, doc: Document): Promise<Document> {
    const out: Document = { ...doc };
    const writes: Array<Promise<void>> = [];
    for (const { path, algorithm } of this.plan(kind)) {
      const keys = path.split('.');
      let source: Document = doc;
      let target: Document = out;
      for (const key of keys.slice(0, -1)) {
        source = source[key];
        // Copy each parent on the way down, once, so that the caller's nested objects are not modified.
        if (target[key] === source) target[key] = { ...source };
        target = target[key];
      }
      const last = keys[keys.length - 1];
      if (source[last] !== undefined && source[last] !== null) {
        const parent = target;
        writes.push(this.encrypt(source[last], algorithm).then((encrypted) => { parent[last] = encrypted; }));
      }
    }
    await Promise.all(writes);
    return out;
  }

  newId(): ObjectId { return new ObjectId(); }
  adopt(source: Document): Document { return source; }
  async drop(kind: DocKind): Promise<void> { await this.collection(this.plain, kind).drop().catch(ignoreMissing); }
  async create(kind: DocKind, doc: Document): Promise<void> { await this.collection(this.plain, kind).insertOne(await this.encryptDocument(kind, doc)); }
  async seed(kind: DocKind, docs: Document[]): Promise<void> {
    await this.collection(this.plain, kind).insertMany(await Promise.all(docs.map((d) => this.encryptDocument(kind, d))));
  }
  async createIndex(kind: DocKind, path: string): Promise<void> { await this.collection(this.plain, kind).createIndex({ [path]: 1 }); }
  load(kind: DocKind): Promise<unknown[]> { return this.collection(this.plain, kind).find({}, { projection: { _id: 1 } }).toArray(); }
  async update(kind: DocKind, instance: unknown, path: string, value: string): Promise<void> {
    const encrypted = this.plan(kind).find((p) => p.path === path);
    const stored = encrypted ? await this.encrypt(value, encrypted.algorithm) : value;
    await this.collection(this.plain, kind).updateOne({ _id: (instance as Document)._id }, { $set: { [path]: stored } });
  }
  findById(kind: DocKind, id: ObjectId): Promise<unknown> { return this.collection(this.decrypting, kind).findOne({ _id: id }); }
  async findOne(kind: DocKind, filter: Document): Promise<unknown> {
    const plan = this.plan(kind);
    const encoded: Document = {};
    await Promise.all(Object.entries(filter).map(async ([path, value]) => {
      const encrypted = plan.find((p) => p.path === path);
      if (encrypted && encrypted.algorithm !== 'Deterministic') throw new Error(`${path} is Random-encrypted and cannot be queried`);
      encoded[path] = encrypted ? await this.encrypt(value, 'Deterministic') : value;
    }));
    return this.collection(this.decrypting, kind).findOne(encoded);
  }
  async close(): Promise<void> { await Promise.all([this.decrypting.close(), this.plain.close()]); }
}

import { ObjectId, type Document } from 'mongodb';
import { createClient, type Repository, type StrongboxClient } from '../../src';
import type { Contender } from '../contender';
import type { DocKind } from '../models/plan';
import { ignoreMissing } from './raw';

/** Strongbox through its public API: repository insertOne / insertMany / updateOne($set) / findById / findOne. */
export class StrongboxContender implements Contender {
  private readonly repositories = new Map<DocKind, Repository<object>>();

  private constructor(
    readonly key: string,
    readonly label: string,
    readonly client: StrongboxClient,
    private readonly models: Partial<Record<DocKind, Function>>,
  ) {}

  static async connect(options: { key: string; label: string; uri: string; keyFile: string; keyVaultNamespace: string; models: Partial<Record<DocKind, Function>> }): Promise<StrongboxContender> {
    const client = await createClient({
      uri: options.uri,
      kms: { local: { keyFile: options.keyFile } },
      keyVault: { namespace: options.keyVaultNamespace },
      models: Object.values(options.models),
      environment: 'development',
      warn: () => undefined,
    });
    return new StrongboxContender(options.key, options.label, client, options.models);
  }

  private repository(kind: DocKind): Repository<object> {
    let repository = this.repositories.get(kind);
    if (!repository) {
      const model = this.models[kind];
      if (!model) throw new Error(`${this.label} has no model for ${kind}`);
      repository = this.client.repository(model as new () => object);
      this.repositories.set(kind, repository);
    }
    return repository;
  }

  newId(): ObjectId { return new ObjectId(); }
  adopt(source: Document): Document { return source; }
  async drop(kind: DocKind): Promise<void> { await this.repository(kind).collection.drop().catch(ignoreMissing); }
  async create(kind: DocKind, doc: Document): Promise<void> { await this.repository(kind).insertOne(doc as never); }
  async seed(kind: DocKind, docs: Document[]): Promise<void> { await this.repository(kind).insertMany(docs as never); }
  async createIndex(kind: DocKind, path: string): Promise<void> { await this.repository(kind).collection.createIndex({ [path]: 1 }); }
  load(kind: DocKind): Promise<unknown[]> { return this.repository(kind).find().toArray(); }
  async update(kind: DocKind, instance: unknown, path: string, value: string): Promise<void> {
    await this.repository(kind).updateOne({ _id: (instance as Document)._id } as never, { $set: { [path]: value } } as never);
  }
  findById(kind: DocKind, id: ObjectId): Promise<unknown> { return this.repository(kind).findById(id); }
  findOne(kind: DocKind, filter: Document): Promise<unknown> { return this.repository(kind).findOne(filter as never); }
  close(): Promise<void> { return this.client.close(); }
}

import mongoose, { type Connection, type Model } from 'mongoose';
import { BSON, type Document, type ObjectId } from 'mongodb';
import type { Contender } from '../contender';
import type { Datasets } from '../datasets';
import { mongooseModels } from '../models/mongoose';
import type { DocKind, PlainKind } from '../models/plan';
import { ignoreMissing } from './raw';

export const MONGOOSE_DB = 'odm_mongoose';

/** Mongoose used the way its documentation teaches: Model.create, document.save() after changing a path, findById / findOne returning hydrated documents. */
export class MongooseContender implements Contender {
  readonly key = 'mongoose';
  readonly label = `Mongoose ${mongoose.version}`;

  private constructor(private readonly connection: Connection, private readonly models: Record<PlainKind, Model<any>>) {}

  static async connect(uri: string, datasets: Datasets): Promise<MongooseContender> {
    const connection = mongoose.createConnection(uri, { dbName: MONGOOSE_DB });
    await connection.asPromise();
    return new MongooseContender(connection, mongooseModels(connection, datasets));
  }

  private model(kind: DocKind): Model<any> {
    const model = this.models[kind as PlainKind];
    if (!model) throw new Error(`Mongoose has no model for ${kind}: the encrypted tasks compare Strongbox with the raw driver only`);
    return model;
  }

  newId(): ObjectId { return new mongoose.Types.ObjectId() as unknown as ObjectId; }
  adopt(source: Document): Document { return mongoose.mongo.BSON.EJSON.parse(BSON.EJSON.stringify(source, { relaxed: false })) as Document; }
  async drop(kind: DocKind): Promise<void> { await this.model(kind).collection.drop().catch(ignoreMissing); }
  async create(kind: DocKind, doc: Document): Promise<void> { await this.model(kind).create(doc); }
  async seed(kind: DocKind, docs: Document[]): Promise<void> { await this.model(kind).insertMany(docs); }
  async createIndex(kind: DocKind, path: string): Promise<void> { await this.model(kind).collection.createIndex({ [path]: 1 }); }
  load(kind: DocKind): Promise<unknown[]> { return this.model(kind).find({}).exec(); }
  async update(_kind: DocKind, instance: unknown, path: string, value: string): Promise<void> {
    const doc = instance as mongoose.Document;
    doc.set(path, value);
    await doc.save();
  }
  findById(kind: DocKind, id: ObjectId): Promise<unknown> { return this.model(kind).findById(id).exec(); }
  findOne(kind: DocKind, filter: Document): Promise<unknown> { return this.model(kind).findOne(filter).exec(); }
  close(): Promise<void> { return this.connection.close(); }
}

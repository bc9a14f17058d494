/**
 * The model the typed-value tests share (test/security/adversary35–37): a plain field of each
 * declared BSON type a write checks and converts, a typed array, a declared object, and encrypted
 * fields with a declared type (Deterministic objectId and binData; Random double, date, binData,
 * regex, symbol and javascriptWithScope), all optional, so
 * each test stores only what it needs. Stored in the collection `typed`.
 */
import type { Binary, BSONSymbol, Code, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { ArrayField, Encrypted, Field, Id, Model } from '../../src/index';
import { untypedRepository, watchedClient } from './adversary';
import { defineMarkerModel } from './markerModel';

export function defineTypedModel(db: string, keyAltName: string) {
  @Model({ db, collection: 'typed', keyAltName })
  class Typed {
    @Id() _id!: ObjectId;
    @Field({ optional: true }) name?: string;
    @Field({ bsonType: 'string', optional: true }) s?: string;
    @Field({ bsonType: 'date', optional: true }) when?: Date;
    @Field({ bsonType: 'objectId', optional: true }) ref?: ObjectId;
    @Field({ bsonType: 'binData', optional: true }) bin?: Binary;
    @Field({ bsonType: 'int', optional: true }) i?: number;
    @Field({ bsonType: 'long', optional: true }) l?: Long;
    @Field({ bsonType: 'double', optional: true }) d?: number;
    @Field({ bsonType: 'decimal', optional: true }) dec?: Decimal128;
    @Field({ bsonType: 'timestamp', optional: true }) ts?: Timestamp;
    @Field({ bsonType: 'regex', optional: true }) re?: RegExp;
    @Field({ bsonType: 'javascript', optional: true }) js?: Code;
    @Field({ bsonType: 'symbol', optional: true }) sym?: BSONSymbol;
    @Field({ bsonType: 'minKey', optional: true }) mk?: MinKey;
    @Field({ bsonType: 'maxKey', optional: true }) mx?: MaxKey;
    @Field({ bsonType: 'object', optional: true }) obj?: Record<string, unknown>;
    @ArrayField({ of: 'string', optional: true }) tags?: string[];
    @ArrayField({ of: 'binData', optional: true }) bins?: Binary[];
    @ArrayField({ of: 'objectId', optional: true }) refs?: ObjectId[];
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId', optional: true }) eref?: any;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'binData', optional: true }) ebin?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'double', optional: true }) ed?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'date', optional: true }) ewhen?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) rbin?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'regex', optional: true }) rre?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'symbol', optional: true }) rsym?: any;
    @Encrypted({ algorithm: 'Random', bsonType: 'javascriptWithScope', optional: true }) jws?: any;
  }
  return { Typed };
}

/**
 * What a typed-value test file works with: the marker model's `Doc` and `Typed` in `db`, a watched
 * client (every command recorded in `sent`), untyped repositories of both, and raw collections
 * (`docs`, `typed`, and `raw` for the raw driver's own writes). Registers the file's hooks.
 */
export function typedBench(db: string, keyAltName: string) {
  const { Doc } = defineMarkerModel(db, keyAltName);
  const { Typed } = defineTypedModel(db, `${keyAltName}t`);
  const watched = watchedClient(db, [Doc, Typed]);
  return {
    sent: watched.sent,
    repo: () => untypedRepository(watched.client, Doc),
    trepo: () => untypedRepository(watched.client, Typed),
    coll: () => watched.raw.db(db).collection('docs'),
    tcoll: () => watched.raw.db(db).collection('typed'),
    rawColl: () => watched.raw.db(db).collection('raw'),
  };
}

/**
 * The model the marker tests share (test/security/adversary31–33, markerCopies.property): a field of
 * every place a marker can stand — Random and Deterministic strings, a field encrypted whole, a
 * free-form object, untyped and typed arrays, an embedded document and an array of them, each with
 * an encrypted field — all optional, so each test stores only what it needs.
 */
import type { ObjectId } from 'mongodb';
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/index';

export function defineMarkerModel(db: string, keyAltName: string) {
  class Item {
    @Field({ optional: true }) label?: string;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) secret?: Random<string>;
  }
  class Addr {
    @Field({ optional: true }) city?: string;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) zip?: Random<string>;
  }
  @Model({ db, collection: 'docs', keyAltName })
  class Doc {
    @Id() _id!: ObjectId;
    @Field({ optional: true }) name?: string;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: Random<string>;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) phone?: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn2?: Random<string>;
    @Encrypted({ algorithm: 'Random', optional: true }) whole?: any;
    @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
    @Field({ bsonType: 'array', optional: true }) list?: unknown[];
    @ArrayField({ of: 'string', optional: true }) tags?: string[];
    @Embedded(() => Addr, { optional: true }) addr?: Addr;
    @EmbeddedArray(() => Item, { optional: true }) items?: Item[];
  }
  return { Doc, Addr, Item };
}

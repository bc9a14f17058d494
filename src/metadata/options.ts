import type { Binary } from 'mongodb';
import type { Algorithm, BsonType, IndexDirection } from './types';

/**
 * A fixed alt name, a JSON pointer ('/employeeNo') to a field holding it, or (explicit mode only)
 * a function of the document. `D` is the document type the function declares; the decorator
 * checks that the model's instances fit it, so `(doc: { tenant: string }) => …` on a model without
 * a string `tenant` does not compile. An unannotated parameter is `unknown`.
 */
export type KeyAltNameOption<D = unknown> = string | ((doc: D) => string);

/** The data key of an encrypted field (or, on @Model, of all of them): by alt name or by id. */
export interface KeyOptions<D = unknown> {
  keyAltName?: KeyAltNameOption<D>;
  /** A UUID data key id: Binary subtype 4 or its string form. */
  keyId?: Binary | string;
}

/** Options of @Model: where the documents live and the default data key of its encrypted fields. */
export interface ModelOptions<D = unknown> extends KeyOptions<D> {
  db: string;
  collection: string;
  /**
   * Single-collection inheritance: the name of a declared string field whose value says which
   * @Variant subclass a document is (docs/entities.md).
   */
  discriminator?: string;
}

export interface IdOptions {
  bsonType?: BsonType;
}

/**
 * A value given to a new document whose field is undefined: a function, so every document gets
 * its own value (a shared array or Date would otherwise be changed through every document).
 */
export interface DefaultOption {
  default?: () => unknown;
}

/** Options of @Field: the BSON type when the property type does not tell it, and whether it may be absent. */
export interface FieldOptions extends DefaultOption {
  bsonType?: BsonType;
  optional?: boolean;
}

export interface EmbeddedOptions extends DefaultOption {
  optional?: boolean;
}

export interface ArrayFieldOptions extends DefaultOption {
  of: BsonType;
  optional?: boolean;
}

/** Options of @Encrypted: the algorithm, the plaintext's BSON type and the data key. */
export interface EncryptedOptions<A extends Algorithm = Algorithm, D = unknown> extends KeyOptions<D>, DefaultOption {
  algorithm: A;
  /** Required for Deterministic when TypeScript cannot tell the type (always, with the Deterministic<T> brand). */
  bsonType?: BsonType | BsonType[];
  optional?: boolean;
}

/** Options of @Index (and, without `direction`, of @CompoundIndex): those of MongoDB's createIndexes. */
export interface IndexOptions {
  direction?: IndexDirection;
  name?: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Record<string, unknown>;
}

export type CompoundIndexOptions = Omit<IndexOptions, 'direction'>;

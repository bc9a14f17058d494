import type { Binary } from 'mongodb';
import type { Algorithm, BsonType, IndexDirection } from './types';

/** A fixed alt name, a JSON pointer ('/employeeNo') to a field holding it, or (explicit mode only) a function. */
export type KeyAltNameOption = string | ((doc: any) => string);

export interface KeyOptions {
  keyAltName?: KeyAltNameOption;
  /** A UUID data key id: Binary subtype 4 or its string form. */
  keyId?: Binary | string;
}

export interface ModelOptions extends KeyOptions {
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

export interface EncryptedOptions<A extends Algorithm = Algorithm> extends KeyOptions, DefaultOption {
  algorithm: A;
  /** Required for Deterministic when TypeScript cannot tell the type (always, with the Deterministic<T> brand). */
  bsonType?: BsonType | BsonType[];
  optional?: boolean;
}

export interface IndexOptions {
  direction?: IndexDirection;
  name?: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Record<string, unknown>;
}

export type CompoundIndexOptions = Omit<IndexOptions, 'direction'>;

import type { Binary } from 'mongodb';

import type { StoredAlgorithm } from '../crypto/blob';

/** The two encryption algorithms of the client-side encryption specification (defined with the stored form). */
export type Algorithm = StoredAlgorithm;

/** The BSON type aliases of MongoDB's $type operator (MongoDB manual, "BSON Types") a field may declare. */
export type BsonType =
  | 'string' | 'int' | 'long' | 'double' | 'decimal' | 'bool' | 'date' | 'objectId' | 'binData'
  | 'object' | 'array' | 'timestamp' | 'regex' | 'javascript' | 'symbol' | 'null' | 'undefined'
  | 'minKey' | 'maxKey' | 'javascriptWithScope' | 'dbPointer';

/** Which data key encrypts a field. */
export type KeyRef =
  | { kind: 'altName'; altName: string }
  /** Per-document key: the value of another field of the same document is the key alt name. */
  | { kind: 'altNameFromField'; pointer: string; path: string[] }
  /** Explicit encryption only: there is no schema-map form for a key chosen by code. */
  | { kind: 'altNameFunction'; fn: (doc: any) => string }
  | { kind: 'id'; id: Binary };

export interface EncryptionSpec {
  algorithm: Algorithm;
  /** Omitted only for Random fields whose type TypeScript could not tell. */
  bsonType?: BsonType;
  key: KeyRef;
  /** True when `key` is the model's default key, so schemas can inherit it through encryptMetadata. */
  inheritsModelKey: boolean;
}

export interface FieldMetadata {
  name: string;
  /** Type of the stored plaintext value: 'object' for @Embedded, 'array' for arrays. */
  bsonType?: BsonType;
  /** Element type of an @ArrayField. */
  itemBsonType?: BsonType;
  isArray: boolean;
  optional: boolean;
  isId: boolean;
  /** Called for a new document whose value is undefined (@Field({ default })). */
  default?: () => unknown;
  /** For @Embedded / @EmbeddedArray (isArray true for the latter). */
  embedded?: ModelShape;
  encrypted?: EncryptionSpec;
}

export interface ModelShape {
  target: Function;
  fields: ReadonlyMap<string, FieldMetadata>;
}

export type IndexDirection = 1 | -1 | 'hashed' | 'text' | '2d' | '2dsphere';

/** Shaped like the driver's IndexDescription, so it can go straight to createIndexes. */
export interface IndexSpec {
  key: Record<string, IndexDirection>;
  name?: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Record<string, unknown>;
}

export interface ModelMetadata extends ModelShape {
  db: string;
  collection: string;
  /** `db.collection` */
  namespace: string;
  indexes: IndexSpec[];
  defaultKey?: KeyRef;
  entity: EntityMetadata;
  /** On the model of a collection holding several classes: every variant by its discriminator value. */
  variants?: { field: string; byValue: ReadonlyMap<string, ModelMetadata> };
  /** On one variant of such a collection: the @Model class, the discriminator field and this variant's value. */
  variant?: { base: Function; field: string; value: string };
}

/** The lifecycle moments a model method can be declared for (@BeforeInsert() and so on). */
export type HookEvent = 'beforeInsert' | 'afterInsert' | 'beforeUpdate' | 'afterUpdate' | 'beforeDelete' | 'afterDelete' | 'afterLoad';

export type StampKind = 'createdAt' | 'updatedAt' | 'version';

/** What writes maintain for the entity besides its data: timestamps, the version, hooks to call. */
export interface EntityMetadata {
  /** The top-level field each stamp lives in, when the model declares it. */
  stamps: Readonly<Partial<Record<StampKind, string>>>;
  /** Method names per event, base-class methods first. */
  hooks: Readonly<Record<HookEvent, readonly string[]>>;
}

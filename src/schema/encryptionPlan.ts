import { walkPath } from '../metadata/paths';
import type { Algorithm, BsonType, FieldMetadata, KeyRef, ModelMetadata, ModelShape } from '../metadata/types';

export interface EncryptedPath {
  /** Field names from the document root; through an array of documents it continues into the elements. */
  path: string[];
  algorithm: Algorithm;
  bsonType?: BsonType;
  key: KeyRef;
  /** Some field on the way is an array, so the path names one value per element. */
  inArray: boolean;
}

export interface PathLookup {
  /** The path names this encrypted field itself. */
  encrypted?: EncryptedPath;
  /** The path goes beneath this encrypted field: the server sees only the ciphertext there. */
  insideEncrypted?: EncryptedPath;
  /** The declared field the path names, when it names one. */
  field?: FieldMetadata;
}

export interface EncryptionPlan {
  namespace: string;
  /** Every encrypted field, outermost first in declaration order. */
  paths: EncryptedPath[];
  /**
   * Resolves a dotted path as used in filters and updates: 'address.zip', 'contacts.0.phone',
   * 'contacts.$.phone', 'contacts.$[].phone', 'contacts.$[x].phone' (an index or positional
   * operator after an array field is stepped over).
   */
  lookup(dottedPath: string): PathLookup;
}

/** What encrypting and querying a model's documents by hand needs to know, derived once per model. */
export function buildEncryptionPlan(model: ModelMetadata): EncryptionPlan {
  const byField = new Map<FieldMetadata, EncryptedPath>();
  collect(model, [], false, byField);
  const paths = [...byField.values()];
  return {
    namespace: model.namespace,
    paths,
    lookup: (dottedPath) => lookup(model, byField, dottedPath),
  };
}

function collect(shape: ModelShape, prefix: string[], inArray: boolean, out: Map<FieldMetadata, EncryptedPath>): void {
  for (const field of shape.fields.values()) {
    const path = [...prefix, field.name];
    if (field.encrypted) {
      const { algorithm, bsonType, key } = field.encrypted;
      out.set(field, { path, algorithm, ...(bsonType === undefined ? {} : { bsonType }), key, inArray });
    } else if (field.embedded) {
      collect(field.embedded, path, inArray || field.isArray, out);
    }
  }
}

function lookup(model: ModelShape, byField: ReadonlyMap<FieldMetadata, EncryptedPath>, dottedPath: string): PathLookup {
  if (dottedPath === '') return {};
  const { chain, unresolved, endsInElement } = walkPath(model, dottedPath.split('.'));
  const field = unresolved.length === 0 ? chain[chain.length - 1] : undefined;
  const encryptedAt = chain.findIndex((f) => f.encrypted);
  if (encryptedAt === -1) return field ? { field } : {};
  const encrypted = byField.get(chain[encryptedAt])!;
  const beneath = encryptedAt < chain.length - 1 || unresolved.length > 0 || endsInElement;
  return {
    ...(beneath ? { insideEncrypted: encrypted } : { encrypted }),
    ...(field ? { field } : {}),
  };
}

/*
 * What a migration file holds: operations as plain data, and data steps written in code. A
 * generated file is a TypeScript module whose default export is a `Migration`; it imports only
 * types, so its compiled JavaScript is nothing but the data and needs no runtime package to load.
 */
import type { Algorithm, BsonType, IndexDirection } from '../metadata/types';
import type { KeySpec } from '../stored/keySpec';
import type { CodeStepContext } from './codeSteps/context';

export type { KeySpec };

/** An index as createIndex steps and snapshots hold it: the fields of MongoDB's createIndexes. */
export interface IndexDefinition {
  name: string;
  key: Record<string, IndexDirection>;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Record<string, unknown>;
}

/** JSON with no BSON types: what migration files and snapshots can hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * A `$jsonSchema` validator as JSON. Data keys appear as `{ $keyAltName: 'hr' }` (looked up, or
 * created, in the target environment's key vault when the step runs) or `{ $uuid: '…' }`.
 */
export interface ValidatorJson { $jsonSchema: { [key: string]: Json } }

/** "db.collection" */
export type Namespace = string;

export interface CreateCollectionOperation { op: 'createCollection'; namespace: Namespace }
export interface DropCollectionOperation {
  op: 'dropCollection';
  namespace: Namespace;
  /** Drop only an empty collection (leave it, with a note, when it holds documents). */
  onlyIfEmpty?: boolean;
}
export interface CreateIndexOperation { op: 'createIndex'; namespace: Namespace; index: IndexDefinition }
export interface DropIndexOperation { op: 'dropIndex'; namespace: Namespace; name: string }
/** collMod: replaces the collection's validator; null removes it. */
export interface SetValidatorOperation { op: 'setValidator'; namespace: Namespace; validator: ValidatorJson | null }
/**
 * Brings every value at `path` to this encryption: plaintext is encrypted, ciphertext with
 * another algorithm or key is decrypted and encrypted again, matching ciphertext is left alone.
 * Covers a field becoming encrypted, an algorithm or key change, and repairs after an audit.
 */
export interface EncryptFieldOperation {
  op: 'encryptField';
  namespace: Namespace;
  /** Dotted path; through arrays of embedded documents it names the field in every element. */
  path: string;
  algorithm: Algorithm;
  bsonType?: BsonType;
  key: KeySpec;
}
/** Decrypts every value at `path`: the field stops being encrypted. */
export interface DecryptFieldOperation { op: 'decryptField'; namespace: Namespace; path: string }
/** Deletes a data key: everything encrypted with it becomes unreadable for good. */
export interface DeleteKeyOperation { op: 'deleteKey'; key: { altName: string } | { id: string } }

/**
 * Renames a field in place in every document, through embedded documents and arrays of them.
 * `from` and `to` are dotted paths that differ only in their last segment. Encrypted values move
 * as stored: ciphertext does not bind the field name.
 */
export interface RenameFieldOperation { op: 'renameField'; namespace: Namespace; from: string; to: string }
/** Removes a field from every document (through arrays of embedded documents). Destructive. */
export interface UnsetFieldOperation { op: 'unsetField'; namespace: Namespace; path: string }
/**
 * Converts the values at `path` to another type. Values that do not convert are left as they
 * are and counted (with a few _ids) in the output; encrypted values are decrypted, converted and
 * encrypted again with the same algorithm and key.
 */
export interface ConvertFieldOperation { op: 'convertField'; namespace: Namespace; path: string; to: 'string' | 'number' | 'date' | 'decimal' | 'long' | 'array' }
/**
 * Gives every document that lacks `path` the default the configured model declares for it,
 * computed per document and encrypted when the field is. Batched and resumable.
 */
export interface BackfillDefaultOperation { op: 'backfillDefault'; namespace: Namespace; path: string }

/**
 * A data step written in code. The same object may stand in `up` and in `down`: the runner
 * calls `up` when applying and `down` when reverting. Its source text is part of the
 * migration's checksum, so editing an applied step is noticed like editing any operation.
 */
export interface RunOperation {
  op: 'run';
  /** Names the step in output, errors and its resume state, e.g. 'split full name'. */
  name: string;
  up: (ctx: CodeStepContext) => Promise<void>;
  /** Without it the step cannot be reverted: `migration down` refuses before changing anything. */
  down?: (ctx: CodeStepContext) => Promise<void>;
  /**
   * true (the default): re-running after an interruption is safe, because the step's writes are
   * idempotent and its loops use `ctx.eachBatch`, which continues after the last recorded batch.
   * false: after an interruption the runner refuses to run the step again until someone checks
   * the data (the error says how to release it).
   */
  resumable?: boolean;
  /** The step can lose data: it then runs only with --allow-destructive, like drops. */
  destructive?: boolean;
}

/** One step of a migration (docs/migrations.md lists each with its safety). */
export type Operation =
  | CreateCollectionOperation | DropCollectionOperation | CreateIndexOperation | DropIndexOperation
  | SetValidatorOperation | EncryptFieldOperation | DecryptFieldOperation | DeleteKeyOperation | RunOperation
  | RenameFieldOperation | UnsetFieldOperation | ConvertFieldOperation | BackfillDefaultOperation;

export type OperationKind = Operation['op'];

/** What a migration file exports as default: the steps that apply it and those that revert it. */
export interface Migration {
  up: Operation[];
  down: Operation[];
}

/** A migration with its identity, as the runner sees it. */
export interface LoadedMigration {
  /** The file name without extension, e.g. 20250102T030405_encrypt_ssn; migrations run in id order. */
  id: string;
  migration: Migration;
  /** Of the operations (not the file text): reformatting or comments do not change it. */
  checksum: string;
  /** Where it was loaded from, for messages. */
  file?: string;
}

/**
 * How an operation affects data:
 * - additive: creates something; nothing existing changes.
 * - widening: changes how existing data is stored or checked, losing nothing (encrypting, validators).
 * - destructive: can lose data or protection (drops, decrypting, deleting a key); runs only when allowed.
 */
export type Safety = 'additive' | 'widening' | 'destructive';

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MigrationError } from '../errors';
import type { MetadataRegistry } from '../metadata/registry';
import type { Algorithm, BsonType, FieldMetadata, IndexSpec, ModelMetadata, ModelShape } from '../metadata/types';
import { buildEncryptionPlan } from '../schema/encryptionPlan';
import { plainFieldTypes } from './fieldTypes';
import { keySpecOf } from '../stored/keySpec';
import type { IndexDefinition, KeySpec, ValidatorJson } from './types';
import { validatorJsonOf } from './validatorJson';

export interface EncryptedFieldSnapshot {
  path: string;
  algorithm: Algorithm;
  bsonType?: BsonType;
  key: KeySpec;
}

/** What migrations need to know about one model's collection. */
export interface CollectionSnapshot {
  model: string;
  /** Every declared field path, so that a field that stops being encrypted can be told from one that was removed. */
  fields: string[];
  encrypted: EncryptedFieldSnapshot[];
  /** The declared type of each plain path (snapshots written before this have none: no conversions are detected from them). */
  types?: Record<string, string>;
  indexes: IndexDefinition[];
  validator: ValidatorJson | null;
  /** Declared paths that must hold a value (absent from snapshots taken before it was recorded). */
  required?: string[];
  /** Declared paths with a default for new documents (idem). */
  defaults?: string[];
}

/**
 * The models as of the last generated migration. It is JSON, committed next to the migrations,
 * and is what `migration create` compares the current models with.
 */
export interface ModelSnapshot {
  version: 1;
  /** By namespace ("db.collection"), sorted. */
  collections: Record<string, CollectionSnapshot>;
}

export const SNAPSHOT_FILE = 'strongbox-snapshot.json';

export function emptySnapshot(): ModelSnapshot {
  return { version: 1, collections: {} };
}

export function takeSnapshot(registry: MetadataRegistry): ModelSnapshot {
  const models = [...registry].sort((a, b) => a.namespace.localeCompare(b.namespace));
  return { version: 1, collections: Object.fromEntries(models.map((m) => [m.namespace, snapshotOf(m)])) };
}

function snapshotOf(model: ModelMetadata): CollectionSnapshot {
  return {
    model: model.target.name,
    fields: fieldPaths(model, ''),
    encrypted: buildEncryptionPlan(model).paths.map((p) => ({
      path: p.path.join('.'),
      algorithm: p.algorithm,
      ...(p.bsonType === undefined ? {} : { bsonType: p.bsonType }),
      key: keySpecOf(p.key),
    })),
    types: plainFieldTypes(model),
    indexes: model.indexes.map(indexDefinition).sort((a, b) => a.name.localeCompare(b.name)),
    validator: validatorJsonOf(model),
    required: fieldsWhere(model, '', (f) => !f.optional && !f.isId),
    defaults: fieldsWhere(model, '', (f) => f.default !== undefined),
  };
}

function fieldsWhere(shape: ModelShape, prefix: string, test: (field: FieldMetadata) => boolean): string[] {
  return [...shape.fields.values()].flatMap((field) => {
    const path = prefix + field.name;
    const nested = field.embedded && !field.encrypted && !field.isArray ? fieldsWhere(field.embedded, `${path}.`, test) : [];
    return test(field) ? [path, ...nested] : nested;
  });
}

function fieldPaths(shape: ModelShape, prefix: string): string[] {
  return [...shape.fields.values()].flatMap((field) => {
    const path = prefix + field.name;
    return field.embedded && !field.encrypted ? [path, ...fieldPaths(field.embedded, `${path}.`)] : [path];
  });
}

/** MongoDB's default index name: each key and direction joined by underscores. */
function defaultIndexName(key: Record<string, unknown>): string {
  return Object.entries(key).map(([field, direction]) => `${field}_${String(direction)}`).join('_');
}

function indexDefinition(spec: IndexSpec): IndexDefinition {
  const { key, name, ...options } = spec;
  const definition: IndexDefinition = { name: name ?? defaultIndexName(key), key: { ...key } };
  for (const [option, value] of Object.entries(options)) {
    if (value !== undefined) (definition as unknown as Record<string, unknown>)[option] = value;
  }
  return definition;
}

export function readSnapshot(file: string): ModelSnapshot {
  if (!existsSync(file)) return emptySnapshot();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MigrationError('MIGRATION_SNAPSHOT_UNREADABLE', `The model snapshot ${file} is not valid JSON (${(err as Error).message}).`, {
      fix: 'restore it from version control; it must be the snapshot written with the last generated migration.',
      cause: err,
    });
  }
  const snapshot = parsed as Partial<ModelSnapshot>;
  if (snapshot.version !== 1 || typeof snapshot.collections !== 'object' || snapshot.collections === null) {
    throw new MigrationError('MIGRATION_SNAPSHOT_VERSION', `The model snapshot ${file} has an unknown format (version ${String(snapshot.version)}).`, {
      fix: 'restore it from version control, or upgrade Strongbox to the version that wrote it.',
    });
  }
  return snapshot as ModelSnapshot;
}

/** Written through a temporary file and a rename, so an interrupted write never leaves half a snapshot. */
export function writeSnapshot(file: string, snapshot: ModelSnapshot): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, JSON.stringify(snapshot, null, 2) + '\n');
  renameSync(temporary, file);
}

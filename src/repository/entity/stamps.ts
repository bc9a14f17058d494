import type { Document } from 'mongodb';
import type { ModelMetadata } from '../../metadata/types';

/*
 * Timestamps and the version, kept by every write path. A value the caller gives explicitly is
 * kept (an import of old documents can carry its own createdAt); the rest is filled here.
 */

/** A new document (insert, replacement, save of a new entity): createdAt/updatedAt now, version 1. */
export function stampNew(model: ModelMetadata, doc: Document, now: Date): Document {
  const { createdAt, updatedAt, version } = model.entity.stamps;
  if (createdAt === undefined && updatedAt === undefined && version === undefined) return doc;
  const out = { ...doc };
  if (createdAt !== undefined && out[createdAt] == null) out[createdAt] = now;
  if (updatedAt !== undefined && out[updatedAt] == null) out[updatedAt] = now;
  if (version !== undefined && out[version] == null) out[version] = 1;
  return out;
}

/**
 * An update document: `$set` of updatedAt, `$inc` of the version, and `$setOnInsert` of createdAt
 * (it only applies when an upsert inserts). A stamp the update already writes is left to it.
 * Pipeline updates and non-documents are returned as they are (the analyzer judges them).
 */
export function stampUpdate(model: ModelMetadata, update: unknown, now: Date): unknown {
  const { createdAt, updatedAt, version } = model.entity.stamps;
  if (createdAt === undefined && updatedAt === undefined && version === undefined) return update;
  if (update === null || typeof update !== 'object' || Array.isArray(update)) return update;
  const written = writtenPaths(update as Document);
  const out: Document = { ...update };
  const add = (op: string, path: string | undefined, value: unknown) => {
    if (path === undefined || written.has(path)) return;
    const spec = out[op];
    out[op] = { ...(spec && typeof spec === 'object' ? spec : {}), [path]: value };
  };
  add('$set', updatedAt, now);
  add('$inc', version, 1);
  add('$setOnInsert', createdAt, now);
  return out;
}

/** Top-level fields an update touches (a dotted path counts for its first segment). */
function writtenPaths(update: Document): Set<string> {
  const paths = new Set<string>();
  for (const spec of Object.values(update)) {
    if (spec && typeof spec === 'object' && !Array.isArray(spec)) for (const path of Object.keys(spec)) paths.add(path.split('.')[0]);
  }
  return paths;
}

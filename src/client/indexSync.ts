import type { Document, MongoClient } from 'mongodb';
import type { MetadataRegistry } from '../metadata/registry';
import type { IndexSpec } from '../metadata/types';

/** Options of `client.syncIndexes()`. */
export interface SyncIndexesOptions {
  /** Only report what would change. */
  dryRun?: boolean;
  /** Drop indexes the models do not declare (never `_id_`). Off by default: they are only reported. */
  dropExtra?: boolean;
}

/** One index in an IndexSyncReport: where it is, its name and its key. */
export interface IndexChange {
  namespace: string;
  name: string;
  key: Document;
  /** What the model declares, for a changed index. */
  declared?: Document;
}

/** What `client.syncIndexes()` did (or, in a dry run, would do) per index, compared with the models. */
export interface IndexSyncReport {
  dryRun: boolean;
  created: IndexChange[];
  /** On the server, not declared by any model: dropped only with `dropExtra`. */
  extra: IndexChange[];
  dropped: IndexChange[];
  /** Same name or key as a declared index but another definition: never changed here (write a migration). */
  changed: IndexChange[];
  unchanged: IndexChange[];
}

/** The options that make two indexes different for MongoDB (MongoDB manual, "Index Properties"). */
const PROPERTIES = ['unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression'] as const;

/** The driver's default name for a key pattern: `field_1_other_-1`. */
export function indexName(spec: IndexSpec): string {
  return spec.name ?? Object.entries(spec.key).map(([k, v]) => `${k}_${v}`).join('_');
}

function sameDefinition(server: Document, spec: IndexSpec): boolean {
  if (JSON.stringify(server.key) !== JSON.stringify(spec.key)) return false;
  return PROPERTIES.every((p) => JSON.stringify(server[p] ?? (p === 'unique' || p === 'sparse' ? false : null)) === JSON.stringify(spec[p] ?? (p === 'unique' || p === 'sparse' ? false : null)));
}

/**
 * Makes the server's indexes match the models' declarations: missing ones are created, extra
 * ones reported (dropped with `dropExtra`), ones whose definition differs reported and left
 * alone. For development and tests; in production, indexes change through migrations, which are
 * reviewed, recorded and verified.
 */
export async function syncIndexes(client: MongoClient, registry: MetadataRegistry, options: SyncIndexesOptions = {}): Promise<IndexSyncReport> {
  const report: IndexSyncReport = { dryRun: options.dryRun === true, created: [], extra: [], dropped: [], changed: [], unchanged: [] };
  for (const model of registry) {
    const collection = client.db(model.db).collection(model.collection);
    const existing = await collection.listIndexes().toArray().catch((err: { code?: number }) => {
      if (err.code === 26) return [] as Document[]; // NamespaceNotFound: nothing there yet
      throw err;
    });
    const declared = model.indexes.map((spec) => ({ spec, name: indexName(spec) }));
    const missing: IndexSpec[] = [];
    for (const { spec, name } of declared) {
      const match = existing.find((i) => i.name === name || JSON.stringify(i.key) === JSON.stringify(spec.key));
      const change = { namespace: model.namespace, name, key: spec.key };
      if (!match) { missing.push({ ...spec, name }); report.created.push(change); }
      else if (sameDefinition(match, spec)) report.unchanged.push(change);
      else report.changed.push({ ...change, name: match.name, key: match.key, declared: { ...spec } });
    }
    const known = new Set(declared.map((d) => d.name));
    const extra = existing.filter((i) => i.name !== '_id_' && !known.has(i.name) && !declared.some((d) => JSON.stringify(d.spec.key) === JSON.stringify(i.key)));
    for (const index of extra) report.extra.push({ namespace: model.namespace, name: index.name, key: index.key });
    if (report.dryRun) continue;
    if (missing.length) await collection.createIndexes(missing);
    if (options.dropExtra) {
      for (const index of extra) {
        await collection.dropIndex(index.name);
        report.dropped.push({ namespace: model.namespace, name: index.name, key: index.key });
      }
    }
  }
  return report;
}

import type { Document, ObjectId } from 'mongodb';
import type { Contender } from './contender';
import { nestedInstance, updateValue, UPDATE_VALUE_BYTES, type Datasets } from './datasets';
import { DATASET_OF, DETERMINISTIC_PATH, type DocKind } from './models/plan';

export type Operation = 'create' | 'update' | 'findById' | 'findBy';

export interface TaskSpec {
  /** Name used by --tasks and in the reports, e.g. "small-create" or "enc-nested-find". */
  name: string;
  title: string;
  group: 'flat' | 'nested';
  encrypted: boolean;
  kind: DocKind;
  op: Operation;
  /** update: the field set; findBy: the filter path. */
  path?: string;
  /** findBy: where in a seeded document the searched value sits (differs from `path` for arrays). */
  valuePath?: string;
  /** Operations per iteration. */
  count: number;
  /** The spec's count, for the report when `count` is reduced. */
  specCount: number;
  /** Task size in bytes = bytesPerOp × count (the score is size / median time). */
  bytesPerOp: number;
}

/** One task prepared for one contender: the spec's before / do / after phases plus teardown. */
export interface TaskRun {
  before(): Promise<void>;
  run(iteration: number): Promise<void>;
  teardown(): Promise<void>;
}

export type ServerKind = 'mongodb' | 'ferretdb';

/*
 * Operations per iteration. MongoDB gets the spec's 10,000 except for the large flat model
 * (3.2 MB × 10,000 = 32 GB per iteration), reduced for this 2-core machine. FerretDB v1 (SQLite)
 * answers every filter, even `_id` equality, by reading the whole table (its _id index is on a
 * different SQL expression than its queries), so an update or find costs O(collection size) there,
 * where MongoDB's indexed lookup costs the same whatever the size. Those tasks keep their
 * collection small on FerretDB: the server's scan then stays close to the constant cost the spec
 * assumes instead of swamping the implementations' differences, and an iteration takes a fraction
 * of a second, so the spec's 30–60 s window gives each implementation many iterations and a
 * stable median. Creation tasks do not scan and keep the spec's count (nested creation: 2,000,
 * ≈2 s per iteration). The counts are identical for every implementation compared.
 */
const COUNTS: Record<string, { mongodb: number; ferretdb: number }> = {
  'small-create': { mongodb: 10_000, ferretdb: 10_000 },
  'small-update': { mongodb: 10_000, ferretdb: 100 },
  'small-find-id': { mongodb: 10_000, ferretdb: 200 },
  'small-find-field1': { mongodb: 10_000, ferretdb: 100 },
  'large-create': { mongodb: 10, ferretdb: 10 },
  'large-update': { mongodb: 10, ferretdb: 3 },
  'nested-create': { mongodb: 10_000, ferretdb: 2_000 },
  'nested-update': { mongodb: 10_000, ferretdb: 30 },
  'nested-find': { mongodb: 10_000, ferretdb: 20 },
  'nested-find-array': { mongodb: 10_000, ferretdb: 20 },
};

interface Template { base: string; title: string; group: 'flat' | 'nested'; dataset: 'small' | 'large' | 'nested'; op: Operation; path?: string; valuePath?: string; encryptedOnly?: boolean; }

const TEMPLATES: Template[] = [
  { base: 'small-create', title: 'small model creation', group: 'flat', dataset: 'small', op: 'create' },
  { base: 'small-update', title: 'small model update', group: 'flat', dataset: 'small', op: 'update', path: 'field1' },
  { base: 'small-find-id', title: 'small model find by filter (_id)', group: 'flat', dataset: 'small', op: 'findById' },
  { base: 'small-find-field1', title: 'small model find by field1', group: 'flat', dataset: 'small', op: 'findBy', path: 'field1', encryptedOnly: true },
  { base: 'large-create', title: 'large model creation', group: 'flat', dataset: 'large', op: 'create' },
  { base: 'large-update', title: 'large model update', group: 'flat', dataset: 'large', op: 'update', path: 'field1' },
  { base: 'nested-create', title: 'large nested model creation', group: 'nested', dataset: 'nested', op: 'create' },
  { base: 'nested-update', title: 'update nested field', group: 'nested', dataset: 'nested', op: 'update', path: 'embedded_str_doc_1.field1' },
  { base: 'nested-find', title: 'find nested by filter', group: 'nested', dataset: 'nested', op: 'findBy', path: DETERMINISTIC_PATH.encNested },
  { base: 'nested-find-array', title: 'find nested array by filter', group: 'nested', dataset: 'nested', op: 'findBy', path: 'embedded_str_doc_array.unique_id', valuePath: 'embedded_str_doc_array.0.unique_id' },
];

const ENCRYPTED_KIND = { small: 'encSmall', large: 'encLarge', nested: 'encNested' } as const;

/** The ODM benchmark tasks (encrypted = false) or their encrypted variants, with counts for the server and mode. */
export function taskCatalog(datasets: Datasets, encrypted: boolean, server: ServerKind, quick: boolean): TaskSpec[] {
  return TEMPLATES.filter((t) => encrypted || !t.encryptedOnly).map((t) => {
    const counts = COUNTS[t.base];
    const full = counts[server];
    const kind: DocKind = encrypted ? ENCRYPTED_KIND[t.dataset] : t.dataset;
    return {
      name: encrypted ? `enc-${t.base}` : t.base,
      title: encrypted ? `${t.title} (encrypted)` : t.title,
      group: t.group,
      encrypted,
      kind,
      op: t.op,
      ...(t.path ? { path: t.path } : {}),
      ...(t.path || t.valuePath ? { valuePath: t.valuePath ?? t.path } : {}),
      count: quick ? Math.max(2, Math.round(full / 10)) : full,
      specCount: 10_000,
      bytesPerOp: t.op === 'update' ? UPDATE_VALUE_BYTES : datasets[t.dataset].bytes,
    };
  });
}

/** Sets up one task for one contender and returns its phases. */
export async function prepareTask(task: TaskSpec, contender: Contender, datasets: Datasets): Promise<TaskRun> {
  const { kind, count } = task;
  const source = contender.adopt(datasets[DATASET_OF[kind]].doc);
  const teardown = () => contender.drop(kind);
  await contender.drop(kind);
  switch (task.op) {
    case 'create': {
      // The nested document gets fresh unique_ids per instance, so building it is part of the work (as in the spec's reference code).
      const newId = () => contender.newId();
      const build = DATASET_OF[kind] === 'nested' ? () => nestedInstance(source, newId) : () => source;
      return {
        before: () => contender.drop(kind),
        run: async () => { for (let i = 0; i < count; i++) await contender.create(kind, build()); },
        teardown,
      };
    }
    case 'update': {
      await seed(contender, kind, seedDocuments(source, kind, count, contender));
      const instances = await contender.load(kind);
      if (instances.length !== count) throw new Error(`${contender.label} loaded ${instances.length} of ${count} ${kind} documents`);
      const path = task.path!;
      return {
        before: async () => undefined,
        run: async (iteration) => {
          const value = updateValue(iteration);
          for (const instance of instances) await contender.update(kind, instance, path, value);
        },
        teardown,
      };
    }
    case 'findById': {
      const docs = seedDocuments(source, kind, count, contender);
      await seed(contender, kind, docs);
      const ids = docs.map((d) => d._id as ObjectId);
      return {
        before: async () => undefined,
        run: async () => { for (const id of ids) found(await contender.findById(kind, id), task, contender); },
        teardown,
      };
    }
    case 'findBy': {
      const docs = seedDocuments(source, kind, count, contender);
      await seed(contender, kind, docs);
      await contender.createIndex(kind, task.path!);
      const path = task.path!;
      const values = docs.map((d) => valueAt(d, task.valuePath!));
      return {
        before: async () => undefined,
        run: async () => { for (const value of values) found(await contender.findOne(kind, { [path]: value }), task, contender); },
        teardown,
      };
    }
  }
}

/** Documents for the set-up phases, with their `_id` so the find tasks know what to look for; flat ones get a unique field1 for the find-by-field1 task. */
function seedDocuments(source: Document, kind: DocKind, count: number, contender: Contender): Document[] {
  const nested = DATASET_OF[kind] === 'nested';
  const newId = () => contender.newId();
  return Array.from({ length: count }, (_, i) => (nested
    ? { _id: newId(), ...nestedInstance(source, newId) }
    : { _id: newId(), ...source, field1: `${source.field1}-${String(i).padStart(6, '0')}` }));
}

const SEED_CHUNK = 500;

async function seed(contender: Contender, kind: DocKind, docs: Document[]): Promise<void> {
  // Chunks keep a bulk insert (and, when encrypted, its concurrent encryptions) bounded in memory.
  const chunk = DATASET_OF[kind] === 'large' ? 2 : SEED_CHUNK;
  for (let i = 0; i < docs.length; i += chunk) await contender.seed(kind, docs.slice(i, i + chunk));
}

function valueAt(doc: Document, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => (v as Document)[key], doc);
}

/** A find that returns nothing means the implementation is broken (e.g. an encrypted filter that matches nothing): stop rather than time it. */
function found(result: unknown, task: TaskSpec, contender: Contender): void {
  if (result === null || result === undefined) throw new Error(`${contender.label} found nothing in task ${task.name}`);
}

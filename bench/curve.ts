import { loadavg } from 'node:os';
import type { Document } from 'mongodb';
import { createClient, Encrypted, Field, Id, Model, type Repository } from '../src';
import { linearFit, median } from './stats';

const DB = 'odm_curve';
export const FIELD_COUNTS = [0, 1, 5, 10, 20] as const;
const CHUNK = 1_000;

export interface CurvePoint {
  docs: number;
  fields: number;
  insertSec: number;
  findSec: number;
  /** Wall-clock microseconds per document, insertMany + find together. */
  usPerDoc: number;
  /** This process's CPU microseconds per document (encryption, decryption, hydration, driver; not the server). */
  cpuUsPerDoc: number;
  /** The same, for insertMany alone (the write path: encoding, encryption, driver). */
  insertCpuUsPerDoc: number;
}

export interface CurveResult {
  sizes: number[];
  fieldCounts: number[];
  points: CurvePoint[];
  /** Per field count: cost per document at the largest size ÷ at the smallest (1 = perfectly linear in documents). */
  docsRatio: Array<{ fields: number; wall: number; cpu: number }>;
  /** Per size: cost per document as a line in the number of encrypted fields. */
  fieldsFit: Array<{ docs: number; usPerField: number; cpuUsPerField: number; r2: number; cpuR2: number; insertCpuUsPerField: number }>;
  /** Load average (1 minute) when each size started: figures taken under load are slower. */
  loadAverage: Array<{ docs: number; load: number }>;
}

/** One model per field count: an int plus `fields` Random-encrypted strings, generated like any wide model. */
export function curveModel(fields: number): Function {
  const Curve = class CurveDocument {};
  Id()(Curve.prototype, '_id');
  Field({ bsonType: 'int' })(Curve.prototype, 'n');
  for (let f = 1; f <= fields; f++) Encrypted({ algorithm: 'Random', bsonType: 'string' })(Curve.prototype as never, fieldName(f));
  Model({ db: DB, collection: `fields_${fields}`, keyAltName: 'curve' })(Curve);
  return Curve;
}

const fieldName = (f: number) => `s${String(f).padStart(2, '0')}`;

/** Inserts `docs` documents with `fields` encrypted strings into an emptied collection and reads them all back. */
async function measurePoint(repository: Repository<Document>, docs: number, fields: number): Promise<CurvePoint> {
  await repository.collection.drop().catch(() => undefined);
  // One chunk of input, inserted again and again (insertMany leaves its input untouched and gives
  // every copy a new _id): building all documents up front would hold 100,000 of them in memory
  // and charge the larger sizes for the garbage collector's work on that heap.
  const chunk = Array.from({ length: Math.min(CHUNK, docs) }, (_, n) => {
    const doc: Document = { n };
    for (let f = 1; f <= fields; f++) doc[fieldName(f)] = `value ${String(f).padStart(4, '0')}`;
    return doc;
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < docs; i += CHUNK) await repository.insertMany(chunk.slice(0, Math.min(CHUNK, docs - i)));
  const t1 = performance.now();
  const insertCpu = process.cpuUsage(cpu0);
  let read = 0;
  for await (const batch of repository.find({}, { batchSize: CHUNK }).batches()) read += batch.length;
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (read !== docs) throw new Error(`cost curve: read ${read} of ${docs} documents`);
  await repository.collection.drop().catch(() => undefined);
  return {
    docs, fields,
    insertSec: (t1 - t0) / 1000,
    findSec: (t2 - t1) / 1000,
    usPerDoc: ((t2 - t0) * 1000) / docs,
    cpuUsPerDoc: (cpu.user + cpu.system) / docs,
    insertCpuUsPerDoc: (insertCpu.user + insertCpu.system) / docs,
  };
}

/**
 * How often a size is measured: the smaller sizes are repeated (an odd number of times, so the
 * median is one of them) until they cover about a fifth of the largest. A single pass over
 * 1,000 documents lasts a tenth of a second and fits in the young generation of the garbage
 * collector, while 100,000 documents run in its steady state; repeated, the small sizes are
 * measured in that steady state too, and one disturbance of the machine does not decide them.
 */
function repeatsFor(docs: number, largest: number): number {
  if (docs >= largest) return 1;
  return Math.max(3, Math.round(largest / docs / 5) | 1);
}

/** Each figure of the point is the median of the repetitions' (the metrics are taken separately). */
function medianPoint(runs: CurvePoint[]): CurvePoint {
  const mid = (pick: (p: CurvePoint) => number) => median(runs.map(pick));
  return {
    docs: runs[0].docs, fields: runs[0].fields,
    insertSec: mid((p) => p.insertSec), findSec: mid((p) => p.findSec),
    usPerDoc: mid((p) => p.usPerDoc), cpuUsPerDoc: mid((p) => p.cpuUsPerDoc), insertCpuUsPerDoc: mid((p) => p.insertCpuUsPerDoc),
  };
}

/**
 * Cost of encryption as documents and encrypted fields grow: for each size and field count,
 * insert the documents with insertMany (chunks of 1,000, as an application loading data would)
 * and read them all back with one find (batches of 1,000, each decrypted in one pass).
 * Field count 0 is the unencrypted baseline of the same documents.
 */
export async function runCostCurve(options: { uri: string; keyFile: string; quick: boolean; log: (line: string) => void }): Promise<CurveResult> {
  const sizes = options.quick ? [100, 1_000, 10_000] : [1_000, 10_000, 100_000];
  const models = new Map(FIELD_COUNTS.map((f) => [f, curveModel(f)]));
  const client = await createClient({
    uri: options.uri, kms: { local: { keyFile: options.keyFile } }, keyVault: { namespace: 'odm_bench_keys.curve' },
    models: [...models.values()], environment: 'development', warn: () => undefined,
  });
  const points: CurvePoint[] = [];
  const loadAverage: Array<{ docs: number; load: number }> = [];
  try {
    // Untimed warm-up: creates the data key and compiles the hot paths, so the smallest size is not charged for them.
    await client.ensureDataKeys();
    for (const fields of FIELD_COUNTS) await measurePoint(client.repository(models.get(fields) as new () => Document) as Repository<Document>, sizes[0], fields);
    for (const docs of sizes) {
      loadAverage.push({ docs, load: loadavg()[0] });
      const repeats = repeatsFor(docs, sizes[sizes.length - 1]);
      for (const fields of FIELD_COUNTS) {
        const runs: CurvePoint[] = [];
        for (let r = 0; r < repeats; r++) runs.push(await measurePoint(client.repository(models.get(fields) as new () => Document) as Repository<Document>, docs, fields));
        const point = medianPoint(runs);
        points.push(point);
        options.log(`  ${String(docs).padStart(6)} docs × ${String(fields).padStart(2)} fields${repeats > 1 ? ` (median of ${repeats})` : ''}: insert ${point.insertSec.toFixed(2)} s, find ${point.findSec.toFixed(2)} s, ${point.usPerDoc.toFixed(1)} µs/doc (CPU ${point.cpuUsPerDoc.toFixed(1)} µs/doc, insert alone ${point.insertCpuUsPerDoc.toFixed(1)}); load ${loadavg()[0].toFixed(2)}`);
      }
    }
  } finally {
    await client.close();
  }
  const at = (docs: number, fields: number) => points.find((p) => p.docs === docs && p.fields === fields)!;
  const smallest = sizes[0];
  const largest = sizes[sizes.length - 1];
  return {
    sizes,
    fieldCounts: [...FIELD_COUNTS],
    points,
    docsRatio: FIELD_COUNTS.map((fields) => ({
      fields,
      wall: at(largest, fields).usPerDoc / at(smallest, fields).usPerDoc,
      cpu: at(largest, fields).cpuUsPerDoc / at(smallest, fields).cpuUsPerDoc,
    })),
    fieldsFit: sizes.map((docs) => {
      const row = FIELD_COUNTS.map((f) => at(docs, f));
      const wall = linearFit(row.map((p) => p.fields), row.map((p) => p.usPerDoc));
      const cpu = linearFit(row.map((p) => p.fields), row.map((p) => p.cpuUsPerDoc));
      const insertCpu = linearFit(row.map((p) => p.fields), row.map((p) => p.insertCpuUsPerDoc));
      return { docs, usPerField: wall.slope, cpuUsPerField: cpu.slope, r2: wall.r2, cpuR2: cpu.r2, insertCpuUsPerField: insertCpu.slope };
    }),
    loadAverage,
  };
}

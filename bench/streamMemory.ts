/**
 * Memory of reading through a cursor: 100,000 encrypted documents streamed (batches of 1,000,
 * each decrypted in one pass) must keep peak RSS within 1.25× of streaming 10,000. Each stream
 * runs in a child process of its own, which samples its RSS after every batch.
 *
 * A peak RSS is mostly garbage the collector has not yet reclaimed, and when V8 starts its next
 * major collection depends on timing (concurrent marking, the machine's load): on a shared
 * machine one stream's peak moves by ±20 MiB from run to run. So the counts are streamed
 * REPEATS times, alternating, and the medians are compared. Each child also reports what is
 * still live after the stream (heap and external memory after a full collection, forced only
 * once the stream is over): that is what would grow with the documents if something were
 * retained per document; the peak can grow without it, by the heap V8 lets fill before collecting.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import type { Document } from 'mongodb';
import { createClient, type Repository } from '../src';
import { curveModel } from './curve';

const FIELDS = 5;
const CHUNK = 1_000;
const KEY_VAULT = 'odm_bench_keys.memory';
const REPEATS = 3;

export interface MemoryResult {
  fields: number;
  /** Per count, the medians of its streams; `peaksMiB` lists every stream's peak in the order run. */
  runs: Array<{ docs: number; baselineMiB: number; peakMiB: number; liveMiB: number; peaksMiB: number[] }>;
  /** Median peak RSS streaming the most documents ÷ streaming the fewest. */
  ratio: number;
  loadAverage: number;
}

interface ChildReport { docs: number; baselineMiB: number; peakMiB: number; liveMiB: number; }

/** Inserts the largest count once, then streams each count in a fresh child process, REPEATS times (quick: once), alternating. */
export async function runStreamMemory(options: { uri: string; keyFile: string; quick: boolean; log: (line: string) => void }): Promise<MemoryResult> {
  const counts = options.quick ? [1_000, 10_000] : [10_000, 100_000];
  const model = curveModel(FIELDS);
  const client = await createClient({ uri: options.uri, kms: { local: { keyFile: options.keyFile } }, keyVault: { namespace: KEY_VAULT }, models: [model], environment: 'development', warn: () => undefined });
  const repository = client.repository(model as new () => Document) as Repository<Document>;
  const load = loadavg()[0];
  try {
    await repository.collection.drop().catch(() => undefined);
    const chunk = Array.from({ length: CHUNK }, (_, n) => {
      const doc: Document = { n };
      for (let f = 1; f <= FIELDS; f++) doc[`s${String(f).padStart(2, '0')}`] = `value ${String(f).padStart(4, '0')}`;
      return doc;
    });
    const largest = counts[counts.length - 1];
    for (let i = 0; i < largest; i += CHUNK) await repository.insertMany(chunk);
    const streams = new Map<number, ChildReport[]>(counts.map((docs) => [docs, []]));
    for (let repeat = 0; repeat < (options.quick ? 1 : REPEATS); repeat++) {
      for (const docs of counts) {
        const report = streamInChild(docs, options);
        streams.get(docs)!.push(report);
        options.log(`  streamed ${docs} documents × ${FIELDS} encrypted fields: peak RSS ${report.peakMiB.toFixed(1)} MiB (after connecting ${report.baselineMiB.toFixed(1)} MiB, live after the stream ${report.liveMiB.toFixed(1)} MiB)`);
      }
    }
    const runs = counts.map((docs) => {
      const reports = streams.get(docs)!;
      return {
        docs, baselineMiB: median(reports.map((r) => r.baselineMiB)), peakMiB: median(reports.map((r) => r.peakMiB)),
        liveMiB: median(reports.map((r) => r.liveMiB)), peaksMiB: reports.map((r) => r.peakMiB),
      };
    });
    await repository.collection.drop().catch(() => undefined);
    return { fields: FIELDS, runs, ratio: runs[runs.length - 1].peakMiB / runs[0].peakMiB, loadAverage: load };
  } finally {
    await client.close();
  }
}

function streamInChild(docs: number, options: { uri: string; keyFile: string }): ChildReport {
  // --expose-gc only installs global.gc(), which the child calls once the stream is over; it changes no collector setting.
  const child = spawnSync(process.execPath, ['--expose-gc', __filename, 'child', String(docs)], {
    encoding: 'utf8', env: { ...process.env, STRONGBOX_BENCH_URI: options.uri, STRONGBOX_BENCH_KEY_FILE: options.keyFile },
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) throw new Error(`memory: streaming ${docs} documents failed: ${child.stderr.trim() || line}`);
  return JSON.parse(line) as ChildReport;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The child: streams `docs` documents and prints its peak RSS, then what is live once the stream is over. */
async function child(docs: number): Promise<void> {
  const model = curveModel(FIELDS);
  const client = await createClient({
    uri: process.env.STRONGBOX_BENCH_URI!, kms: { local: { keyFile: process.env.STRONGBOX_BENCH_KEY_FILE! } }, keyVault: { namespace: KEY_VAULT },
    models: [model], environment: 'development', warn: () => undefined,
  });
  try {
    const repository = client.repository(model as new () => Document) as Repository<Document>;
    await repository.count({});
    const baselineMiB = process.memoryUsage.rss() / 2 ** 20;
    // Sampled after every batch: getrusage's maxrss cannot serve, as Linux carries it over from the parent across fork and exec.
    let peak = process.memoryUsage.rss();
    let read = 0;
    for await (const batch of repository.find({}, { batchSize: CHUNK, limit: docs }).batches()) {
      read += batch.length;
      peak = Math.max(peak, process.memoryUsage.rss());
    }
    if (read !== docs) throw new Error(`read ${read} of ${docs} documents`);
    // Twice, a moment apart: memory outside the heap is released by callbacks that run after the collection that freed it.
    const collect = (globalThis as { gc?: () => void }).gc!;
    collect();
    await new Promise((resolve) => setTimeout(resolve, 50));
    collect();
    const after = process.memoryUsage();
    console.log(JSON.stringify({ docs, baselineMiB, peakMiB: peak / 2 ** 20, liveMiB: (after.heapUsed + after.external) / 2 ** 20 }));
  } finally {
    await client.close();
  }
}

if (require.main === module && process.argv[2] === 'child') {
  require('reflect-metadata');
  child(Number(process.argv[3])).catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CurveResult } from './curve';
import type { DecryptionResult } from './decryption';
import type { Machine, Versions } from './environment';
import type { Floors } from './floors';
import type { MemoryResult } from './streamMemory';
import { renderSvg } from './plot';
import type { IterationRules, TaskResult } from './runner';
import { PERCENTILES } from './stats';

export interface BenchReport {
  startedAt: string;
  finishedAt?: string;
  mode: 'quick' | 'full';
  tasksFilter: string[] | null;
  server: { kind: string; description: string; transport: string };
  machine: Machine;
  versions: Versions;
  rules: IterationRules;
  odm: TaskResult[];
  encrypted: TaskResult[];
  decryption?: DecryptionResult;
  /** Measured in the same run as the curve, on the same values. */
  floors?: Floors;
  curve?: CurveResult;
  memory?: MemoryResult;
  targets?: Target[];
}

export interface Target { name: string; status: 'PASS' | 'FAIL' | 'NOT RUN'; detail: string; }

export const REPORT_DIR = join(__dirname, '..', '..', 'bench', 'reports');

/** Thresholds of the issue's targets. */
const RAW_RATIO = 0.95;
const ENCRYPTED_RATIO = 0.9;
const DECRYPTION_OPS = 132;
/** Cost per document may not grow by more than this from the smallest to the largest size. */
const DOCS_RATIO_MAX = 1.25;
/** Cost per document must follow a straight line in the number of fields this closely. */
const FIELDS_R2_MIN = 0.95;
/** Client CPU per encrypted field per document written, as a multiple of libmongocrypt's native floor. */
const WRITE_FLOOR_MULTIPLE_MAX = 2;
/** Client CPU per document of enc-small-create as a multiple of unencrypted small-create. */
const ENCRYPTED_CREATE_CPU_MAX = 1.25;
/** Client CPU per operation of each unencrypted task as a multiple of the raw driver's. */
const RAW_CPU_MAX = 1.1;
/** Peak RSS streaming the most documents ÷ the fewest. */
const MEMORY_RATIO_MAX = 1.25;

/** Writes <timestamp>.{md,json[,svg]} and latest.{md,json[,svg]}; returns the paths. */
export function writeReports(report: BenchReport, dir = REPORT_DIR): string[] {
  report.targets = evaluateTargets(report);
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const written: string[] = [];
  for (const name of [stamp, 'latest']) {
    const svg = report.curve ? `${name}.svg` : undefined;
    if (report.curve && svg) {
      writeFileSync(join(dir, svg), curveSvg(report.curve));
      written.push(join(dir, svg));
    }
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, `${name}.md`), renderMarkdown(report, svg));
    written.push(join(dir, `${name}.json`), join(dir, `${name}.md`));
  }
  return written;
}

function score(task: TaskResult, contender: string): number | undefined {
  return task.results.find((r) => r.contender === contender)?.mbPerSec;
}

function ratio(task: TaskResult, a: string, b: string): number | undefined {
  const [x, y] = [score(task, a), score(task, b)];
  return x === undefined || y === undefined ? undefined : x / y;
}

/** Ratio of the two scores computed from the 10th-percentile (fastest) iteration times instead of the medians. */
function p10Ratio(task: TaskResult, a: string, b: string): number {
  const [x, y] = [a, b].map((key) => task.results.find((r) => r.contender === key)!.percentilesSec[10]);
  return y / x;
}

export function evaluateTargets(report: BenchReport): Target[] {
  const targets: Target[] = [];
  const perTask = (name: string, tasks: TaskResult[], a: string, b: string, pass: (r: number) => boolean, what: string) => {
    if (tasks.length === 0) { targets.push({ name, status: 'NOT RUN', detail: 'no task of this group was selected' }); return; }
    const rows = tasks.map((t) => ({ task: t.task.name, r: ratio(t, a, b)!, p10: p10Ratio(t, a, b) }));
    const failing = rows.filter((row) => !pass(row.r));
    targets.push({
      name,
      status: failing.length ? 'FAIL' : 'PASS',
      // The ratio of the fastest iterations (p10) tells a real gap from a disturbed median on a shared machine.
      detail: failing.length
        ? `${what} missed on ${failing.map((f) => `${f.task} (${f.r.toFixed(3)}; at p10 ${f.p10.toFixed(3)})`).join(', ')}`
        : `${what} on all ${rows.length} tasks (lowest ${Math.min(...rows.map((row) => row.r)).toFixed(3)})`,
    });
  };
  perTask(`unencrypted Strongbox ≥ ${RAW_RATIO}× raw driver on every task`, report.odm, 'strongbox', 'raw', (r) => r >= RAW_RATIO, `ratio ≥ ${RAW_RATIO}`);
  perTask('unencrypted Strongbox ahead of Mongoose on every task', report.odm, 'strongbox', 'mongoose', (r) => r > 1, 'ratio > 1');
  perTask(`encrypted Strongbox ≥ ${ENCRYPTED_RATIO}× hand-written explicit encryption on every task`, report.encrypted, 'strongbox', 'raw-explicit', (r) => r >= ENCRYPTED_RATIO, `ratio ≥ ${ENCRYPTED_RATIO}`);

  const engine = report.decryption?.methods.find((m) => m.key === 'strongbox-engine')?.byWorkers['1']?.medianOpsPerSec;
  targets.push(engine === undefined
    ? { name: `decryption benchmark ≥ ${DECRYPTION_OPS} ops/s single-threaded`, status: 'NOT RUN', detail: 'decryption was not selected' }
    : { name: `decryption benchmark ≥ ${DECRYPTION_OPS} ops/s single-threaded`, status: engine >= DECRYPTION_OPS ? 'PASS' : 'FAIL', detail: `Strongbox engine, 1 worker: ${engine.toFixed(1)} ops/s` });

  cpuTargets(report, targets);
  const curve = report.curve;
  if (!curve) {
    targets.push({ name: 'cost linear in documents and in encrypted fields', status: 'NOT RUN', detail: 'curve was not selected' });
  } else {
    const worstDocs = Math.max(...curve.docsRatio.filter((d) => d.fields > 0).map((d) => Math.max(d.wall, d.cpu)));
    targets.push({
      name: `cost linear in documents (per-document cost at ${curve.sizes[curve.sizes.length - 1]} ÷ at ${curve.sizes[0]} ≤ ${DOCS_RATIO_MAX})`,
      status: worstDocs <= DOCS_RATIO_MAX ? 'PASS' : 'FAIL',
      detail: curve.docsRatio.map((d) => `${d.fields} fields: wall ${d.wall.toFixed(2)}, CPU ${d.cpu.toFixed(2)}`).join('; '),
    });
    const largest = curve.fieldsFit[curve.fieldsFit.length - 1];
    targets.push({
      name: `cost linear in encrypted fields (straight-line fit R² ≥ ${FIELDS_R2_MIN} at ${largest.docs} documents)`,
      status: Math.min(largest.r2, largest.cpuR2) >= FIELDS_R2_MIN ? 'PASS' : 'FAIL',
      detail: `wall R² ${largest.r2.toFixed(4)} (${largest.usPerField.toFixed(2)} µs per field per document), CPU R² ${largest.cpuR2.toFixed(4)} (${largest.cpuUsPerField.toFixed(2)} µs)`,
    });
  }
  writeCostTarget(report, targets);
  const memory = report.memory;
  const memoryName = `streaming memory (peak RSS at the most documents ÷ at the fewest ≤ ${MEMORY_RATIO_MAX})`;
  targets.push(!memory
    ? { name: memoryName, status: 'NOT RUN', detail: 'memory was not selected' }
    : { name: memoryName, status: memory.ratio <= MEMORY_RATIO_MAX ? 'PASS' : 'FAIL', detail: `${memory.runs.map((r) => `${r.docs} documents ${r.peakMiB.toFixed(1)} MiB`).join(', ')}: ratio ${memory.ratio.toFixed(2)}` });
  return targets;
}

function cpu(task: TaskResult | undefined, contender: string): number | undefined {
  return task?.results.find((r) => r.contender === contender)?.cpuPerOpUs;
}

/** Client CPU per operation against the raw driver (unencrypted tasks) and against unencrypted small-create. */
function cpuTargets(report: BenchReport, targets: Target[]): void {
  const rawName = `client CPU per operation ≤ ${RAW_CPU_MAX}× the raw driver's on every unencrypted task`;
  if (report.odm.length === 0) targets.push({ name: rawName, status: 'NOT RUN', detail: 'no unencrypted task was selected' });
  else {
    // Beside each ratio, the A/A control's: a second raw client's CPU ÷ the first's in the same run, what
    // two identical implementations differ by here. The target itself is judged on the ratio alone.
    const rows = report.odm.map((t) => ({ task: t.task.name, r: cpu(t, 'strongbox')! / cpu(t, 'raw')!, aa: (cpu(t, 'raw-again') ?? NaN) / cpu(t, 'raw')! }));
    const failing = rows.filter((row) => !(row.r <= RAW_CPU_MAX));
    targets.push({ name: rawName, status: failing.length ? 'FAIL' : 'PASS', detail: rows.map((row) => `${row.task} ${row.r.toFixed(3)}${Number.isNaN(row.aa) ? '' : ` (A/A ${row.aa.toFixed(3)})`}`).join(', ') });
  }
  const encName = `enc-small-create client CPU per document ≤ ${ENCRYPTED_CREATE_CPU_MAX}× unencrypted small-create`;
  const plain = cpu(report.odm.find((t) => t.task.name === 'small-create'), 'strongbox');
  const encrypted = cpu(report.encrypted.find((t) => t.task.name === 'enc-small-create'), 'strongbox');
  if (plain === undefined || encrypted === undefined) targets.push({ name: encName, status: 'NOT RUN', detail: 'small-create and enc-small-create were not both selected' });
  else targets.push({ name: encName, status: encrypted / plain <= ENCRYPTED_CREATE_CPU_MAX ? 'PASS' : 'FAIL', detail: `${encrypted.toFixed(1)} µs ÷ ${plain.toFixed(1)} µs = ${(encrypted / plain).toFixed(3)}` });
}

/** The curve's write cost per encrypted field per document, as multiples of both floors. */
function writeCostTarget(report: BenchReport, targets: Target[]): void {
  const name = `encrypted write cost per field per document ≤ ${WRITE_FLOOR_MULTIPLE_MAX}× libmongocrypt's native floor at every size`;
  const { curve, floors } = report;
  if (!curve || !floors) { targets.push({ name, status: 'NOT RUN', detail: 'curve was not selected' }); return; }
  const rows = curve.fieldsFit.map((fit) => ({ docs: fit.docs, us: fit.insertCpuUsPerField, native: fit.insertCpuUsPerField / floors.nativeUsPerValue, cipher: fit.insertCpuUsPerField / floors.cipherUsPerValue }));
  targets.push({
    name,
    status: rows.every((row) => row.native <= WRITE_FLOOR_MULTIPLE_MAX) ? 'PASS' : 'FAIL',
    detail: rows.map((row) => `${row.docs} docs ${row.us.toFixed(2)} µs = ${row.native.toFixed(2)}× native, ${row.cipher.toFixed(1)}× cipher`).join('; '),
  });
}

const f3 = (v: number | undefined) => (v === undefined ? '–' : v >= 100 ? v.toFixed(1) : v.toPrecision(4));
const fr = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(3));

function scoreTable(tasks: TaskResult[], contenders: Array<[string, string]>, ratios: Array<[string, string, string]>): string[] {
  const lines = [
    `| task | ops/iteration (spec) | size MB | ${contenders.map(([, label]) => `${label} MB/s`).join(' | ')} | ${ratios.map(([label]) => label).join(' | ')} |`,
    `| --- | --- | --- | ${contenders.map(() => '---:').join(' | ')} | ${ratios.map(() => '---:').join(' | ')} |`,
  ];
  for (const t of tasks) {
    lines.push(`| ${t.task.name} | ${t.task.count} (${t.task.specCount}) | ${t.sizeMB.toFixed(3)} | ${contenders.map(([key]) => f3(score(t, key))).join(' | ')} | ${ratios.map(([, a, b]) => fr(ratio(t, a, b))).join(' | ')} |`);
  }
  lines.push('', `Client CPU per operation (µs, median iteration; the server's CPU is not included):`, '',
    `| task | ${contenders.map(([, label]) => label).join(' | ')} |`, `| --- | ${contenders.map(() => '---:').join(' | ')} |`);
  for (const t of tasks) {
    lines.push(`| ${t.task.name} | ${contenders.map(([key]) => { const r = t.results.find((x) => x.contender === key); return r ? r.cpuPerOpUs.toFixed(1) : '–'; }).join(' | ')} |`);
  }
  return lines;
}

function percentileTable(tasks: TaskResult[]): string[] {
  const lines = [
    `| task | implementation | iterations | ${PERCENTILES.map((p) => `p${p}`).join(' | ')} |`,
    `| --- | --- | ---: | ${PERCENTILES.map(() => '---:').join(' | ')} |`,
  ];
  for (const t of tasks) {
    for (const r of t.results) lines.push(`| ${t.task.name} | ${r.label} | ${r.iterations} | ${PERCENTILES.map((p) => (r.percentilesSec[p] * 1000).toFixed(1)).join(' | ')} |`);
  }
  return lines;
}

export function renderMarkdown(report: BenchReport, svgName: string | undefined): string {
  const m = report.machine;
  const v = report.versions;
  const out: string[] = [
    `# Strongbox benchmark report — ${report.startedAt} (${report.mode} mode)`,
    '',
    `- **Server:** ${report.server.description}; ${report.server.transport}.`,
    `- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; 1-minute load average at start ${m.loadAverageAtStart.toFixed(2)} (other processes share the machine; implementations alternate iterations so they share any disturbance).`,
    `- **Versions:** Node.js ${v.node}; mongodb driver ${v.mongodbDriver} (raw and Strongbox); Mongoose ${v.mongoose} with its own mongodb driver ${v.mongooseDriver}; mongodb-client-encryption ${v.binding}; libmongocrypt ${v.libmongocrypt}.`,
    `- **Iteration rule:** at least ${report.rules.minTimeMs / 1000} s cumulative, then stop after ${report.rules.minIterations} iterations or ${report.rules.maxTimeMs / 1000} s; score = task size (MB = 10^6 bytes) / median iteration time; percentiles by nearest rank.`,
    `- **Counts:** the spec's 10,000 operations per iteration except where the table says otherwise. The large flat model (3.2 MB) is reduced to 10 for this 2-core machine, for every implementation.${report.server.kind === 'ferretdb' ? ' On FerretDB v1 (SQLite) every filter, even `_id` equality, reads the whole table, so update and find tasks cost O(collection size) per operation (on MongoDB an indexed lookup costs the same at any size); their collections are kept small (identically for all) so the scan on the server does not swamp the differences between the implementations and each gets many iterations.' : ''}${report.mode === 'quick' ? ' Quick mode: 1/10 of those counts and 3 iterations — for development, not for conclusions.' : ''}`,
    `- **Run:** ${report.startedAt} → ${report.finishedAt ?? '?'}${report.tasksFilter ? `; --tasks ${report.tasksFilter.join(',')}` : ''}.`,
    '',
    '## Targets',
    '',
    ...(report.targets ?? []).map((t) => `- **${t.status}** ${t.name}: ${t.detail}`),
    '',
  ];
  if (report.odm.length) {
    out.push('## ODM benchmark (MB/s, higher is better)', '',
      'A second raw driver client, the same code in its own database, runs beside the first in every round as an A/A control: the ratio between the two is what identical implementations differ by in this run, so a Strongbox ratio within that distance of 1 is not a difference the run can show.', '',
      ...scoreTable(report.odm, [['raw', 'raw driver'], ['raw-again', 'raw driver again (A/A)'], ['mongoose', 'Mongoose'], ['strongbox', 'Strongbox']], [['Strongbox / raw', 'strongbox', 'raw'], ['raw again / raw (A/A)', 'raw-again', 'raw'], ['Strongbox / Mongoose', 'strongbox', 'mongoose']]), '');
  }
  if (report.encrypted.length) {
    out.push('## Encrypted variants (MB/s, higher is better)', '',
      'Flat models: field1 Deterministic (and queried by `enc-small-find-field1`), every other string Random. Nested model: `embedded_str_doc_1.unique_id` Deterministic. The raw driver encrypts each value with `ClientEncryption.encrypt` (a document\'s values concurrently, key id looked up once) and reads through an auto-decrypting client (`bypassAutoEncryption: true`).', '',
      ...scoreTable(report.encrypted, [['raw-explicit', 'raw + explicit encryption'], ['strongbox', 'Strongbox']], [['Strongbox / raw', 'strongbox', 'raw-explicit']]), '');
  }
  if (report.odm.length || report.encrypted.length) {
    out.push('## Iteration times (ms, nearest-rank percentiles)', '', ...percentileTable([...report.odm, ...report.encrypted]), '');
  }
  const d = report.decryption;
  if (d) {
    out.push('## Bulk decryption (client-side encryption spec)', '',
      `One document with ${d.fields} Deterministic-encrypted strings, decrypted repeatedly; median ops/s of ${d.trials} trials of ${d.trialSec} s after a warm-up. Workers: ${d.workers}.`, '',
      '| method | reads the server | 1 worker ops/s | 2 workers ops/s |', '| --- | --- | ---: | ---: |',
      ...d.methods.map((mth) => `| ${mth.label} | ${mth.serverRoundTrip ? 'yes' : 'no'} | ${mth.byWorkers['1'].medianOpsPerSec.toFixed(1)} | ${mth.byWorkers['2'].medianOpsPerSec.toFixed(1)} |`),
      '', `Published single-threaded figures: ${Object.entries(d.published).map(([k, val]) => `${k} ≈ ${val} ops/s`).join('; ')}.`, '');
  }
  const c = report.curve;
  if (c) {
    out.push('## Cost curve: documents × encrypted fields (Strongbox insertMany + find)', '',
      'Wall-clock µs per document for insertMany (chunks of 1,000) plus reading everything back (batches of 1,000), and in brackets this process\'s CPU µs per document. 0 fields is the unencrypted baseline.', '',
      `| documents | ${c.fieldCounts.map((f) => `${f} fields`).join(' | ')} |`, `| ---: | ${c.fieldCounts.map(() => '---:').join(' | ')} |`,
      ...c.sizes.map((docs) => `| ${docs} | ${c.fieldCounts.map((f) => { const p = c.points.find((x) => x.docs === docs && x.fields === f)!; return `${p.usPerDoc.toFixed(1)} (${p.cpuUsPerDoc.toFixed(1)})`; }).join(' | ')} |`),
      '', `Per-document cost at ${c.sizes[c.sizes.length - 1]} ÷ at ${c.sizes[0]} documents: ${c.docsRatio.map((r) => `${r.fields} fields ${r.wall.toFixed(2)} (CPU ${r.cpu.toFixed(2)})`).join('; ')}.`,
      `Cost per encrypted field (slope of µs/document over fields): ${c.fieldsFit.map((fit) => `${fit.docs} docs ${fit.usPerField.toFixed(2)} µs (R² ${fit.r2.toFixed(3)}; CPU ${fit.cpuUsPerField.toFixed(2)} µs, R² ${fit.cpuR2.toFixed(3)})`).join('; ')}.`, '');
    if (svgName) out.push(`![cost curve](${svgName})`, '');
    out.push(`Load average (1 minute) as each size started: ${c.loadAverage.map((l) => `${l.docs} docs ${l.load.toFixed(2)}`).join('; ')}.`, '');
  }
  const fl = report.floors;
  if (fl && c) {
    out.push('## Floors: what encryption costs at best', '',
      `Measured in this run on ${fl.values} values like the curve's (short strings, Random, one data key): libmongocrypt finalizing a command whose markings are already made costs **${fl.nativeUsPerValue.toFixed(2)} µs** per value (the native floor); AES-256-CBC plus HMAC-SHA-512 of one such value costs **${fl.cipherUsPerValue.toFixed(2)} µs** (\`openssl speed\`, the cipher floor).`, '',
      '| documents | write CPU per encrypted field per document (µs) | × native floor | × cipher floor | insert + find CPU per field (µs) | × native floor |', '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...c.fieldsFit.map((fit) => `| ${fit.docs} | ${fit.insertCpuUsPerField.toFixed(2)} | ${(fit.insertCpuUsPerField / fl.nativeUsPerValue).toFixed(2)} | ${(fit.insertCpuUsPerField / fl.cipherUsPerValue).toFixed(1)} | ${fit.cpuUsPerField.toFixed(2)} | ${(fit.cpuUsPerField / fl.nativeUsPerValue).toFixed(2)} |`), '');
  }
  const mem = report.memory;
  if (mem) {
    out.push('## Memory: streaming encrypted documents', '',
      `Documents with ${mem.fields} Random-encrypted strings read through one cursor (batches of 1,000, each decrypted in one pass), each stream in a fresh child process, the counts alternating; medians of ${mem.runs[0].peaksMiB.length} streams per count; load average at start ${mem.loadAverage.toFixed(2)}. Live after the stream: heap and external memory after a full collection once the stream is over (what per-document retention would grow).`, '',
      '| documents | RSS after connecting (MiB) | peak RSS (MiB) | each stream\'s peak (MiB) | live after the stream (MiB) |', '| ---: | ---: | ---: | --- | ---: |',
      ...mem.runs.map((r) => `| ${r.docs} | ${r.baselineMiB.toFixed(1)} | ${r.peakMiB.toFixed(1)} | ${r.peaksMiB.map((p) => p.toFixed(1)).join(', ')} | ${r.liveMiB.toFixed(1)} |`), '',
      `Ratio of peaks: ${mem.ratio.toFixed(2)}; of live memory after the stream: ${(mem.runs[mem.runs.length - 1].liveMiB / mem.runs[0].liveMiB).toFixed(2)}.`, '');
  }
  return `${out.join('\n')}\n`;
}

function curveSvg(curve: CurveResult): string {
  const encrypted = curve.fieldCounts;
  return renderSvg([
    {
      title: 'µs per document vs documents', xLabel: 'documents (log scale)', yLabel: 'µs per document (insert + find)', xLog: true,
      series: encrypted.map((fields) => ({ name: `${fields} encrypted fields`, points: curve.points.filter((p) => p.fields === fields).map((p) => [p.docs, p.usPerDoc] as [number, number]) })),
    },
    {
      title: 'µs per document vs encrypted fields', xLabel: 'encrypted fields per document', yLabel: 'µs per document (insert + find)', xLog: false,
      series: curve.sizes.map((docs) => ({ name: `${docs} documents`, points: curve.points.filter((p) => p.docs === docs).map((p) => [p.fields, p.usPerDoc] as [number, number]) })),
    },
  ], 'Strongbox insertMany + find, wall clock; flat lines in the left panel and straight lines in the right one mean linear cost');
}

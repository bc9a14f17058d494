/**
 * `npm run bench`: MongoDB's ODM Performance Benchmark for the raw driver, Mongoose and
 * Strongbox side by side on one server, its encrypted variants (Strongbox against hand-written
 * explicit encryption), the client-side encryption spec's bulk decryption benchmark, and the
 * cost curve of encryption over documents × encrypted fields. Writes bench/reports/.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, SECTIONS, selected, unmatched } from './cli';
import type { Contender } from './contender';
import { runCostCurve } from './curve';
import { loadDatasets, type Datasets } from './datasets';
import { measureFloors } from './floors';
import { runDecryptionBenchmark } from './decryption';
import { machine, versions } from './environment';
import { MongooseContender } from './impl/mongoose';
import { RawContender } from './impl/raw';
import { RawExplicitContender } from './impl/rawExplicit';
import { StrongboxContender } from './impl/strongbox';
import { strongboxModels } from './models/strongbox';
import { runStreamMemory } from './streamMemory';
import { writeReports, type BenchReport } from './report';
import { FULL_RULES, QUICK_RULES, runSideBySide, type IterationRules, type TaskResult } from './runner';
import { benchServer } from './server';
import { taskCatalog, type TaskSpec } from './tasks';

const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  // Ctrl-C ends the run through process.exit, whose hook stops the local server (a signal's default action would orphan it).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const options = parseArgs(process.argv.slice(2));
  const datasets = loadDatasets();
  const server = await benchServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'strongbox-bench-'));
  const removeKeys = () => rmSync(keyDir, { recursive: true, force: true });
  process.once('exit', removeKeys);
  try {
    const odmTasks = taskCatalog(datasets, false, server.kind, options.quick).filter((t) => selected(options, t.name));
    const encryptedTasks = taskCatalog(datasets, true, server.kind, options.quick).filter((t) => selected(options, t.name));
    const allNames = [...taskCatalog(datasets, false, server.kind, false), ...taskCatalog(datasets, true, server.kind, false)].map((t) => t.name);
    const typos = unmatched(options, [...allNames, ...SECTIONS]);
    if (typos.length) throw new Error(`--tasks: no task is named ${typos.join(', ')}; known: ${[...allNames, ...SECTIONS].join(', ')}`);

    const rules = options.quick ? QUICK_RULES : FULL_RULES;
    const masterKey = randomBytes(96);
    const keyFile = join(keyDir, 'master.key');
    writeFileSync(keyFile, masterKey.toString('base64'), { mode: 0o600 });
    const models = strongboxModels(datasets);
    const report: BenchReport = {
      startedAt: new Date().toISOString(),
      mode: options.quick ? 'quick' : 'full',
      tasksFilter: options.tasks ?? null,
      server: { kind: server.kind, description: server.description, transport: server.transport },
      machine: machine(),
      versions: versions(server.description),
      rules,
      odm: [],
      encrypted: [],
    };
    log(`Strongbox benchmark (${report.mode} mode) on ${server.description}, ${report.machine.cores} cores, load average ${report.machine.loadAverageAtStart.toFixed(2)}`);

    if (odmTasks.length) {
      log('\n== ODM benchmark: raw driver, Mongoose, Strongbox ==');
      report.odm = await runSuite(odmTasks, datasets, rules, async () => [
        await RawContender.connect(server.uri),
        await MongooseContender.connect(server.uri, datasets),
        await RawContender.connect(server.uri, true),
        await StrongboxContender.connect({ key: 'strongbox', label: 'Strongbox', uri: server.uri, keyFile, keyVaultNamespace: 'odm_bench_keys.strongbox', models: { small: models.small, large: models.large, nested: models.nested } }),
      ]);
    }
    if (encryptedTasks.length) {
      log('\n== Encrypted variants: hand-written explicit encryption vs Strongbox ==');
      report.encrypted = await runSuite(encryptedTasks, datasets, rules, async () => [
        await RawExplicitContender.connect(server.uri, masterKey, 'odm_bench_keys.raw', datasets),
        await StrongboxContender.connect({ key: 'strongbox', label: 'Strongbox (encrypted models)', uri: server.uri, keyFile, keyVaultNamespace: 'odm_bench_keys.strongbox_enc', models: { encSmall: models.encSmall, encLarge: models.encLarge, encNested: models.encNested } }),
      ]);
    }
    if (selected(options, 'decryption')) {
      log('\n== Bulk decryption (client-side encryption spec): 1500 Deterministic fields ==');
      report.decryption = await runDecryptionBenchmark({ uri: server.uri, keyFile, masterKey, quick: options.quick, log });
    }
    if (selected(options, 'curve')) {
      log('\n== Floors: libmongocrypt finalizing a pre-marked command; the cipher itself (openssl speed) ==');
      report.floors = measureFloors({ quick: options.quick });
      log(`  libmongocrypt native ${report.floors.nativeUsPerValue.toFixed(2)} µs per value; AES-256-CBC + HMAC-SHA-512 ${report.floors.cipherUsPerValue.toFixed(2)} µs per value (load ${loadavg()[0].toFixed(2)})`);
      log('\n== Cost curve: documents × encrypted fields through Strongbox insertMany + find ==');
      report.curve = await runCostCurve({ uri: server.uri, keyFile, quick: options.quick, log });
    }
    if (selected(options, 'memory')) {
      log('\n== Memory: streaming encrypted documents through a cursor ==');
      report.memory = await runStreamMemory({ uri: server.uri, keyFile, quick: options.quick, log });
    }
    report.finishedAt = new Date().toISOString();
    const written = writeReports(report);
    log(`\nReport: ${written.join(', ')}`);
  } finally {
    removeKeys();
    await server.stop();
  }
}

async function runSuite(tasks: TaskSpec[], datasets: Datasets, rules: IterationRules, connect: () => Promise<Contender[]>): Promise<TaskResult[]> {
  const contenders = await connect();
  const results: TaskResult[] = [];
  try {
    for (const task of tasks) {
      log(`\n${task.name} — ${task.title}: ${task.count} operations per iteration, ${((task.bytesPerOp * task.count) / 1e6).toFixed(3)} MB`);
      results.push(await runSideBySide(task, contenders, datasets, rules, log));
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
  }
  return results;
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});

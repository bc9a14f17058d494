import type { Contender } from './contender';
import type { Datasets } from './datasets';
import { median, percentiles, type Percentile } from './stats';
import { prepareTask, type TaskRun, type TaskSpec } from './tasks';

/** The spec's iteration rule: at least minTimeMs cumulative, then stop after minIterations or maxTimeMs, whichever comes first. */
export interface IterationRules { minTimeMs: number; minIterations: number; maxTimeMs: number; }
export const FULL_RULES: IterationRules = { minTimeMs: 30_000, minIterations: 10, maxTimeMs: 60_000 };
export const QUICK_RULES: IterationRules = { minTimeMs: 0, minIterations: 3, maxTimeMs: 15_000 };

export interface ContenderResult {
  contender: string;
  label: string;
  iterations: number;
  /** Wall-clock seconds of each "do" phase, in the order run. */
  timesSec: number[];
  /** CPU seconds this process spent in each "do" phase (the server is another process): the implementation's own overhead. */
  cpuSec: number[];
  medianSec: number;
  /** Spec score: task size in MB (10^6 bytes) / median time. */
  mbPerSec: number;
  percentilesSec: Record<Percentile, number>;
  /** Median client CPU per operation, microseconds. */
  cpuPerOpUs: number;
}

export interface TaskResult {
  task: TaskSpec;
  sizeMB: number;
  results: ContenderResult[];
}

/**
 * Runs one task for several contenders side by side: each is set up, then their iterations
 * alternate until each has met the iteration rule. Alternating means a slow drift of the shared
 * server or machine (other processes, a growing SQLite file) affects all of them alike instead
 * of whichever happened to run last.
 *
 * The order runs forward, then backward (A B C, C B A, A B C, …), so each contender follows each
 * of the others equally often. What one contender leaves behind is paid for during the next
 * one's iteration: the garbage collector reclaims it then, and the process CPU is charged to
 * whoever is running. A rotating order (A B C, B C A, C A B) has C follow B in two iterations of
 * three; with Mongoose, which allocates the most, as B, that charged part of its collection work
 * to Strongbox.
 */
export async function runSideBySide(task: TaskSpec, contenders: Contender[], datasets: Datasets, rules: IterationRules, log: (line: string) => void): Promise<TaskResult> {
  const sizeMB = (task.bytesPerOp * task.count) / 1e6;
  const states: Array<{ contender: Contender; run: TaskRun; times: number[]; cpu: number[]; elapsedMs: number; done: boolean }> = [];
  for (const contender of contenders) {
    const started = performance.now();
    const run = await prepareTask(task, contender, datasets);
    log(`  ${task.name}: ${contender.label} set up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    states.push({ contender, run, times: [], cpu: [], elapsedMs: 0, done: false });
  }
  try {
    for (let round = 0; states.some((s) => !s.done); round++) {
      for (let k = 0; k < states.length; k++) {
        const state = states[round % 2 === 0 ? k : states.length - 1 - k];
        if (state.done) continue;
        const iterationStart = performance.now();
        await state.run.before();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await state.run.run(state.times.length);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        state.times.push(seconds);
        state.cpu.push((cpu.user + cpu.system) / 1e6);
        state.elapsedMs += performance.now() - iterationStart;
        const n = state.times.length;
        state.done = (state.elapsedMs >= rules.minTimeMs && n >= rules.minIterations) || state.elapsedMs >= rules.maxTimeMs;
        log(`  ${task.name} · ${state.contender.label.padEnd(34)} iteration ${String(n).padStart(3)}  ${seconds.toFixed(3)} s  running median ${(sizeMB / median(state.times)).toPrecision(4)} MB/s`);
      }
    }
  } finally {
    for (const state of states) await state.run.teardown();
  }
  return {
    task,
    sizeMB,
    results: states.map(({ contender, times, cpu }) => {
      const medianSec = median(times);
      return {
        contender: contender.key,
        label: contender.label,
        iterations: times.length,
        timesSec: times,
        cpuSec: cpu,
        medianSec,
        mbPerSec: sizeMB / medianSec,
        percentilesSec: percentiles(times),
        cpuPerOpUs: (median(cpu) / task.count) * 1e6,
      };
    }),
  };
}

export interface BenchOptions {
  quick: boolean;
  /** Task names to run (exact, or a prefix ending in *); undefined runs everything. */
  tasks?: string[];
}

export const SECTIONS = ['decryption', 'curve', 'memory'] as const;

const USAGE = `usage: node dist/bench/run.js [--quick] [--tasks name,name,...]
  --quick   development mode: 1/10 of the counts, 3 iterations per task, short trials
  --tasks   run only these tasks: ODM task names (small-create, nested-find, ...),
            encrypted ones (enc-small-find-field1, ...), 'decryption', 'curve'
            (with the floors), 'memory';
            a trailing * matches a prefix (enc-*, nested-*)`;

export function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--tasks' || arg.startsWith('--tasks=')) {
      const value = arg === '--tasks' ? argv[++i] : arg.slice('--tasks='.length);
      if (!value) throw new Error(`--tasks needs a comma-separated list\n${USAGE}`);
      options.tasks = value.split(',').map((s) => s.trim()).filter(Boolean);
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  return options;
}

export function selected(options: BenchOptions, name: string): boolean {
  if (!options.tasks) return true;
  return options.tasks.some((t) => (t.endsWith('*') ? name.startsWith(t.slice(0, -1)) : name === t));
}

/** Names the filter asked for that match nothing, so a typo is an error rather than an empty run. */
export function unmatched(options: BenchOptions, names: string[]): string[] {
  return (options.tasks ?? []).filter((t) => !names.some((n) => (t.endsWith('*') ? n.startsWith(t.slice(0, -1)) : n === t)));
}

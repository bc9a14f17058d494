#!/usr/bin/env node
/**
 * `strongbox`: schema output, keys, migrations, audit and TLS diagnosis for the models of a
 * project. Each command lives in ./commands; this file only parses arguments and reports
 * errors the way a user can act on them.
 */
import 'reflect-metadata';
import { StrongboxError } from '../errors';
import { COMMANDS, type CommandContext } from './commands';
import { loadConfig } from './config';

export interface ParsedArgs { positional: string[]; flags: Map<string, string | true>; }

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--') && !BOOLEAN_FLAGS.has(arg.slice(2))) flags.set(arg.slice(2), argv[++i]);
      else flags.set(arg.slice(2), true);
    } else positional.push(arg);
  }
  return { positional, flags };
}

/** Flags that never take a value, so `--dry-run up` keeps `up` positional. */
const BOOLEAN_FLAGS = new Set(['dry-run', 'yes', 'help', 'json', 'strict', 'allow-destructive', 'confirm', 'empty']);

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: strongbox <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  --config PATH   compiled configuration module (default: strongbox.config.js, dist/strongbox.config.js; or $STRONGBOX_CONFIG)',
    '  --help          the command\'s own help',
  ].join('\n');
}

export async function main(argv: string[], io: { out: (line: string) => void; err: (line: string) => void } = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  const args = parseArgs(argv);
  const [name, ...rest] = args.positional;
  if (!name || name === 'help' || (args.flags.has('help') && !name)) { io.out(usage()); return name ? 0 : 2; }
  const command = COMMANDS[name];
  if (!command) { io.err(`strongbox: unknown command "${name}".\n\n${usage()}`); return 2; }
  if (args.flags.has('help')) { io.out(command.help); return 0; }
  const context: CommandContext = {
    args: { positional: rest, flags: args.flags },
    out: io.out,
    err: io.err,
    config: () => loadConfig(typeof args.flags.get('config') === 'string' ? (args.flags.get('config') as string) : undefined),
  };
  try {
    return await command.run(context);
  } catch (err) {
    if (err instanceof StrongboxError) { io.err(`strongbox ${name}: ${err.message} [${err.code}]`); return 1; }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    console.error(`strongbox: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  });
}

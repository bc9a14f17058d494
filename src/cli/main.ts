#!/usr/bin/env node
/**
 * `strongbox`: schema output, keys, migrations, audit and TLS diagnosis for the models of a
 * project. Each command lives in ./commands; this file only parses arguments and reports
 * errors the way a user can act on them.
 */
import 'reflect-metadata';
import { assertDriverCompatible } from '../client/driverCompatibility';
import { StrongboxError } from '../errors';
import { packageVersion } from '../packageRoot';
import { COMMANDS } from './commands';
import type { CommandContext } from './commands/command';
import { configPath, loadConfig } from './config';

/**
 * Exit codes of every command (docs/install.md lists them for scripts and CI): 0 success; 1 a
 * check found a problem (doctor, audit, migration check/status) or the command stopped with an
 * error that names its cause and fix; 2 usage error (unknown command, missing argument, bad flag).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface ParsedArgs { positional: string[]; flags: Map<string, string | true>; }

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (arg === '-h') { flags.set('help', true); continue; }
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
const BOOLEAN_FLAGS = new Set(['dry-run', 'yes', 'help', 'version', 'json', 'strict', 'allow-destructive', 'confirm', 'empty']);

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
    '  --help, -h      the command\'s own help',
    '  --version       the installed Strongbox version',
    '',
    'Exit codes: 0 success; 1 a check found a problem (doctor, audit, migration check/status)',
    'or an error that names its cause and fix; 2 usage error.',
  ].join('\n');
}

export async function main(argv: string[], io: { out: (line: string) => void; err: (line: string) => void } = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  const args = parseArgs(argv);
  const [name, ...rest] = args.positional;
  if (args.flags.has('version') && !name) { io.out(packageVersion()); return EXIT.ok; }
  if (name === 'help' || (args.flags.has('help') && !name)) { io.out(usage()); return EXIT.ok; }
  if (!name) { io.err(usage()); return EXIT.usage; }
  const command = COMMANDS[name];
  if (!command) { io.err(`strongbox: unknown command "${name}".\n\n${usage()}`); return EXIT.usage; }
  if (args.flags.has('help')) { io.out(command.help); return EXIT.ok; }
  const explicitConfig = typeof args.flags.get('config') === 'string' ? (args.flags.get('config') as string) : undefined;
  const context: CommandContext = {
    args: { positional: rest, flags: args.flags },
    out: io.out,
    err: io.err,
    config: () => loadConfig(explicitConfig),
    configPath: () => configPath(explicitConfig),
  };
  try {
    assertDriverCompatible();
    return await command.run(context);
  } catch (err) {
    if (err instanceof StrongboxError) {
      io.err(`strongbox ${name}: ${err.message} [${err.code}]`);
      return err.code.startsWith('CLI_') ? EXIT.usage : EXIT.failed;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    console.error(`strongbox: unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  });
}

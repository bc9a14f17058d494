import type { StrongboxConfig } from '../../client/config';
import { auditCommand } from './audit';
import { doctorCliCommand } from './doctorCli';
import { keysCommand } from './keys';
import { migrationCommand } from './migration';
import { schemaCliCommand } from './schemaCli';
import { serverCommand } from './server';

export interface CommandContext {
  args: { positional: string[]; flags: Map<string, string | true> };
  out: (line: string) => void;
  err: (line: string) => void;
  /** Loads the project's configuration (only commands that need it call this). */
  config: () => Promise<StrongboxConfig>;
  /** The configuration file config() loads, when one is found. */
  configPath: () => string | undefined;
}

export interface Command {
  summary: string;
  help: string;
  /** Returns the process exit code. */
  run(context: CommandContext): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  schema: schemaCliCommand,
  doctor: doctorCliCommand,
  keys: keysCommand,
  migration: migrationCommand,
  audit: auditCommand,
  server: serverCommand,
};

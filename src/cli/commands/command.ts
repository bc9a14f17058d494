/* What every command of the CLI is given and returns. Commands import this and flags.ts; the command table (index.ts) imports the commands. */
import type { StrongboxConfig } from '../../config/strongboxConfig';

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

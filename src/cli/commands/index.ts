import { auditCommand } from './audit';
import type { Command } from './command';
import { doctorCliCommand } from './doctorCli';
import { keysCommand } from './keys';
import { migrationCommand } from './migration';
import { schemaCliCommand } from './schemaCli';
import { serverCommand } from './server';

/** The CLI's commands by name. */
export const COMMANDS: Record<string, Command> = {
  schema: schemaCliCommand,
  doctor: doctorCliCommand,
  keys: keysCommand,
  migration: migrationCommand,
  audit: auditCommand,
  server: serverCommand,
};

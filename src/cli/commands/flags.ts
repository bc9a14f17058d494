import { ConfigError } from '../../errors';
import type { CommandContext } from './command';

/**
 * A flag that takes no value. The argument parser only knows some such flags; for the others
 * it takes the next word as the flag's value, so that word is handed back as a positional.
 */
export function switchFlag(context: CommandContext, name: string): boolean {
  const value = context.args.flags.get(name);
  if (value === undefined) return false;
  if (typeof value === 'string' && value !== 'true') context.args.positional.push(value);
  return true;
}

export function stringFlag(context: CommandContext, name: string): string | undefined {
  const value = context.args.flags.get(name);
  if (value === true) throw new ConfigError('CLI_FLAG_VALUE', `--${name} needs a value.`, { fix: `write --${name} VALUE.` });
  return value;
}

export function numberFlag(context: CommandContext, name: string): number | undefined {
  const value = stringFlag(context, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError('CLI_FLAG_VALUE', `--${name} ${value} is not a non-negative number.`, { fix: `write --${name} 10.` });
  return n;
}

/**
 * Watches one Strongbox client for plaintext leaving the process: every command the driver starts
 * (recorded at commandStarted, before the server answers), every query-log line, and everything a
 * thrown error exposes. Secrets are recognisable by construction: strings carry SECRET_MARK, and
 * integers lie in SECRET_INT_RANGE (the tests put them only where an encrypted value belongs).
 */
import type { ExecutionContext } from 'ava';
import { BSON, MongoError, type CommandStartedEvent } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { StrongboxError } from '../../src/index';
import { testClient } from '../harness/client';
import { exposedText } from './support';

/** Base64 never contains '«', so ciphertext cannot imitate it; 'EKRIT' also catches a fragment cut before it. */
export const SECRET_MARK = '«SEKRIT';
const SECRET_FRAGMENT = 'EKRIT';
export const SECRET_INT_RANGE = { min: 600_000_000, max: 699_999_999 } as const;

export const secretString = (n: number) => `${SECRET_MARK}${n}»`;

/** Commands that say nothing about the application's data (handshakes, session bookkeeping). */
const CHATTER = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'killCursors', 'buildInfo', 'saslStart', 'saslContinue']);

/** Every secret integer inside a value (searched for by its decimal digits). */
export function secretIntsIn(value: unknown, found = new Set<number>()): Set<number> {
  if (typeof value === 'number' && Number.isInteger(value) && value >= SECRET_INT_RANGE.min && value <= SECRET_INT_RANGE.max) found.add(value);
  else if (Array.isArray(value)) for (const v of value) secretIntsIn(v, found);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) secretIntsIn(v, found);
  return found;
}

/** Where in `text` a secret appears, as short labels (empty when clean). */
export function leaksIn(text: string, ints: Iterable<number>): string[] {
  const leaks: string[] = [];
  const at = text.indexOf(SECRET_FRAGMENT);
  if (at >= 0) leaks.push(`secret string …${text.slice(Math.max(0, at - 60), at + 30)}…`);
  for (const n of ints) if (new RegExp(`(?<!\\d)${n}(?!\\d)`).test(text)) leaks.push(`secret int ${n}`);
  return leaks;
}

export interface Observation {
  /** Data commands started during the call (chatter and key vault reads excluded). */
  dataCommands: CommandStartedEvent[];
  /** Every command started during the call, key vault reads included. */
  allCommands: CommandStartedEvent[];
  logLines: string[];
  error?: unknown;
}

/** One monitored client; calls are observed one at a time so every command belongs to one call. */
export class LeakWatch {
  private readonly commands: CommandStartedEvent[] = [];
  private readonly lines: string[] = [];
  private constructor(readonly client: StrongboxClient, private readonly keyVaultDb: string) {}

  static async open(models: Function[]): Promise<LeakWatch> {
    const keyVault = `sb_keys_fc_${Math.random().toString(36).slice(2, 8)}`;
    let watch: LeakWatch | undefined;
    const pending: string[] = [];
    const client = await testClient(models, {
      keyVault: { namespace: `${keyVault}.__keyVault` },
      driverOptions: { monitorCommands: true },
      queryLog: (line) => (watch ? watch.lines : pending).push(line),
    });
    watch = new LeakWatch(client, keyVault);
    watch.lines.push(...pending);
    client.dataClient.on('commandStarted', (e) => { if (!CHATTER.has(e.commandName)) watch!.commands.push(e); });
    return watch;
  }

  async observe(call: () => Promise<unknown>): Promise<Observation> {
    const c0 = this.commands.length;
    const l0 = this.lines.length;
    let error: unknown;
    try { await call(); } catch (err) { error = err; }
    // The query log writes a line when the server answers; let that event land.
    await new Promise((r) => setImmediate(r));
    const allCommands = this.commands.slice(c0);
    return { allCommands, dataCommands: allCommands.filter((c) => c.databaseName !== this.keyVaultDb), logLines: this.lines.slice(l0), error };
  }

  /** Everything wrong with one observed call of `input`: leaks anywhere, untyped failures, traffic before a refusal. */
  verdict(input: unknown, seen: Observation): string[] {
    const ints = secretIntsIn(input);
    const problems: string[] = [];
    for (const c of seen.allCommands) {
      for (const leak of leaksIn(BSON.EJSON.stringify(c.command, { relaxed: false }), ints)) problems.push(`command ${c.commandName} carried ${leak}`);
    }
    for (const line of seen.logLines) for (const leak of leaksIn(line, ints)) problems.push(`query log line carried ${leak}`);
    if (seen.error !== undefined) {
      for (const leak of leaksIn(exposedText(seen.error), ints)) problems.push(`error ${describe(seen.error)} carried ${leak}`);
      const serverSide = seen.error instanceof MongoError && seen.dataCommands.length > 0;
      if (!(seen.error instanceof StrongboxError) && !serverSide) problems.push(`failed with ${describe(seen.error)} instead of a StrongboxError`);
    }
    return problems;
  }

  /** observe() of a repository call; a cursor it returns is read to its end, so its command is sent. */
  run(call: () => unknown): Promise<Observation> {
    return this.observe(async () => {
      const result = call() as { toArray?: () => Promise<unknown> } | Promise<unknown>;
      return typeof (result as { toArray?: unknown }).toArray === 'function' ? (result as { toArray(): Promise<unknown> }).toArray() : result;
    });
  }

  /** Asserts the call is refused with a StrongboxError, or sent with no plaintext anywhere. */
  async refusedOrClean(t: ExecutionContext, input: unknown, call: () => unknown): Promise<Observation> {
    const seen = await this.run(call);
    t.deepEqual(this.verdict(input, seen), [], `leaks or untyped failure for ${JSON.stringify(input)}`);
    return seen;
  }

  close(): Promise<void> { return this.client.close(); }
}

export function describe(err: unknown): string {
  const e = err as Error;
  return `${e?.constructor?.name ?? typeof err}${(err as StrongboxError)?.code ? ` ${(err as StrongboxError).code}` : ''}`;
}

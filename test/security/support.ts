/**
 * Helpers of the hostile-input and secrets tests: everything an error exposes as text, and the
 * verdict on a failure (a typed Strongbox error, or a bug).
 */
import { inspect } from 'node:util';
import { StrongboxError } from '../../src/errors';

/**
 * All the text a thrown value exposes to whoever logs or serialises it: message, stack, every
 * `cause` down the chain, enumerable properties, JSON and util.inspect output.
 */
export function exposedText(thrown: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let current: unknown = thrown; current !== undefined && current !== null && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    seen.add(current);
    if (typeof current !== 'object') { parts.push(String(current)); break; }
    const e = current as Error;
    parts.push(String(e.message), String(e.stack), inspect(current, { depth: 8, showHidden: true }));
    try { parts.push(JSON.stringify(current)); } catch { /* circular: inspect covered it */ }
    for (const key of Object.keys(current)) parts.push(`${key}=${inspect((current as Record<string, unknown>)[key], { depth: 8 })}`);
  }
  return parts.join('\n');
}

/** Names an unexpected failure for a property's counterexample report. */
export function untyped(err: unknown): string {
  const e = err as Error;
  return `untyped ${e?.constructor?.name ?? typeof err}: ${String(e?.message ?? err)}\n${String(e?.stack ?? '')}`;
}

/** Runs fn; returns 'ok' or the StrongboxError, and throws (failing the property) on anything else. */
export async function typedOutcome<R>(fn: () => Promise<R> | R): Promise<{ ok: true; value: R } | { ok: false; error: StrongboxError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof StrongboxError) return { ok: false, error: err };
    throw new Error(untyped(err));
  }
}

/** Modest run counts keep the suite fast; fast-check prints the seed and path of any failure. */
export const RUNS = Number(process.env.STRONGBOX_PROPERTY_RUNS ?? 0) || undefined;
export const runs = (n: number) => ({ numRuns: RUNS ?? n, includeErrorInReport: true });

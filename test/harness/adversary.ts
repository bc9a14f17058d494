/**
 * What the adversarial tests (test/security/adversary*.test.ts) share: they call repositories as
 * plain JavaScript would, without types, and record what a call did instead of failing on it.
 */
import type { StrongboxClient } from '../../src/index';

/** A repository without types: any method, any arguments, as a caller from plain JavaScript sees it. */
export type AnyRepo = Record<string, (...args: any[]) => any>;

export function untypedRepository(client: StrongboxClient, model: Function): AnyRepo {
  return client.repository(model as never) as unknown as AnyRepo;
}

let counter = 0;

/** A name no other test of this process uses. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${counter++}`;
}

/** What a call did: its value, or what it threw. */
export async function outcome(call: () => Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await call() };
  } catch (error) {
    return { error };
  }
}

/** An error in one line for a test's message: its class, code and the start of its message. */
export function describe(err: unknown): string {
  return `${(err as Error)?.constructor?.name} ${(err as { code?: string })?.code ?? ''} ${(err as Error)?.message ?? ''}`.slice(0, 300);
}

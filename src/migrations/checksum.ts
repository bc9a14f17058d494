import { createHash } from 'node:crypto';
import type { Migration, Operation } from './types';

/**
 * The checksum of what a migration does: its operations as canonical JSON (keys sorted), code
 * steps with the source text of their functions. A change to any operation changes it;
 * comments and formatting outside code steps do not, and it is
 * the same whether the runner loads the TypeScript author's compiled output or a copy.
 */
export function migrationChecksum(migration: Migration): string {
  return createHash('sha256').update(canonical({ up: migration.up, down: migration.down })).digest('hex');
}

/** Identifies one operation's content, so resumable state is only reused for the same operation. */
export function operationFingerprint(operation: Operation): string {
  return createHash('sha256').update(canonical(operation)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  // A code step's functions count by their source text (as compiled): editing one changes the checksum.
  if (typeof value === 'function') return JSON.stringify(value.toString());
  return JSON.stringify(value) ?? 'null';
}

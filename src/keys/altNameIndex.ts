/**
 * What protects the rule "a key alt name names exactly one data key" on the server: the key
 * vault's unique index on keyAltNames. The client-side encryption specification asks for it to be
 * unique and partial (`{ keyAltNames: { $exists: true } }`); on MongoDB that makes the server
 * refuse any alt name another key already has. Without partial indexes (FerretDB v1) only a
 * plain unique index can exist, and there it compares whole lists, not names.
 */
import type { Collection } from 'mongodb';

export type AltNameIndexState = 'unique-partial' | 'unique-plain' | 'missing';

export async function altNameIndexState(collection: Collection): Promise<AltNameIndexState> {
  let indexes: Array<{ key?: Record<string, unknown>; unique?: boolean; partialFilterExpression?: unknown }>;
  try {
    indexes = await collection.indexes();
  } catch {
    return 'missing';
  }
  const onAltNames = indexes.filter((i) => i.unique === true && Object.keys(i.key ?? {}).join() === 'keyAltNames');
  if (onAltNames.some((i) => i.partialFilterExpression !== undefined)) return 'unique-partial';
  return onAltNames.length > 0 ? 'unique-plain' : 'missing';
}

export function describeAltNameIndex(state: AltNameIndexState): string {
  switch (state) {
    case 'unique-partial':
      return "The key vault's unique partial index on keyAltNames enforces this on the server too.";
    case 'unique-plain':
      return "This server has no partial indexes, so the key vault's unique index on keyAltNames is a plain one, which it applies to whole alt-name lists: Strongbox's check before writing is what keeps each name on one key here.";
    default:
      return 'The key vault has no unique index on keyAltNames (Strongbox creates it when a client starts): only the check before writing protects this rule.';
  }
}

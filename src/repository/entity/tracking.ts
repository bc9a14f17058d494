/*
 * What each entity looked like when Strongbox last read or wrote it, so save() can send only
 * what changed. A read keeps the document's BSON bytes it was read from (no decoding: one WeakMap
 * entry per entity; the cursor copies each document out of the server's reply, so a kept entity
 * keeps its own bytes, not its whole batch); a write keeps the plaintext it wrote, serialized.
 * Both are decoded only when save() asks. Entities no longer referenced take their snapshot
 * with them (WeakMap).
 */
import { BSON, type Document } from 'mongodb';

const snapshots = new WeakMap<object, Uint8Array | 'partial'>();

/** Entities as read, each with the stored bytes it was read from; `partial` when a projection left fields out. */
export function trackRead(entities: readonly object[], stored: readonly Uint8Array[], partial: boolean): void {
  for (let i = 0; i < entities.length; i++) snapshots.set(entities[i], partial ? 'partial' : stored[i]);
}

/** An entity after a write: `written` is the plaintext the server now holds. */
export function trackWritten(entity: object, written: Document): void {
  snapshots.set(entity, BSON.serialize(written, { ignoreUndefined: true }));
}

/** The snapshot, decoded: stored form after a read (ciphertext included), plaintext after a write. */
export function snapshotOf(entity: object): Document | 'partial' | undefined {
  const bytes = snapshots.get(entity);
  return bytes === undefined || bytes === 'partial' ? bytes : BSON.deserialize(bytes);
}

export function forget(entity: object): void {
  snapshots.delete(entity);
}

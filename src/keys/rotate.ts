import { Binary, type Document } from 'mongodb';
import type { StrongboxClient } from '../client/strongboxClient';
import { KeyError } from '../errors';
import { keyVaultDocuments, uuid, type KeySelector } from './keys';
import { unwrapLocal, wrapLocal } from './localRewrap';

/** Which keys a rewrap or master key rotation rewrapped. */
export interface RotationResult {
  /** Ids of the keys now wrapped by the new master key. */
  rewrapped: string[];
  /** Keys that were wrapped by the new master key already (an earlier, interrupted rotation). */
  alreadyDone: string[];
}

function filterFor(selectors: KeySelector[]): Document {
  if (selectors.length === 0) return {};
  return { $or: selectors.map((s) => ('altName' in s ? { keyAltNames: s.altName } : { _id: uuid(s.id) })) };
}

/**
 * Rewraps data keys under another KMS provider or master key with the driver's
 * rewrapManyDataKey: the key material (and so every ciphertext) stays the same, only its
 * wrapping changes. The client must have both the current and the new provider configured.
 * To move from one local master key to another, use rotateLocalMasterKey.
 */
export async function rewrapKeys(client: StrongboxClient, to: { provider: string; masterKey?: Document }, selectors: KeySelector[] = []): Promise<RotationResult> {
  const filter = filterFor(selectors);
  const ids = (await keyVaultDocuments(client).find(filter, { projection: { _id: 1 } }).toArray()).map((d) => d._id.toUUID().toHexString());
  try {
    await client.encryption.rewrapManyDataKey(filter, { provider: to.provider as 'local', ...(to.masterKey ? { masterKey: to.masterKey as never } : {}) });
  } catch (err) {
    throw new KeyError('KEY_REWRAP_FAILED', `Rewrapping ${ids.length} data key(s) under the ${to.provider} provider failed: ${(err as Error).message}`, {
      fix: `configure both the current provider and kms.${to.provider} (with its master key description) and check that both KMS are reachable (strongbox doctor).`,
      cause: err,
    });
  }
  client.keyVault.forget();
  return { rewrapped: ids, alreadyDone: [] };
}

/**
 * Moves data keys from the current local master key to a new one. Every selected key is
 * unwrapped with the current key (or recognised as already under the new one) before anything
 * is written, then each is replaced by a conditional update, so an interrupted rotation can
 * simply be run again. Afterwards configure the new key (kms.local) everywhere.
 */
export async function rotateLocalMasterKey(client: StrongboxClient, keys: { current: Buffer; next: Buffer }, selectors: KeySelector[] = []): Promise<RotationResult> {
  if (keys.current.equals(keys.next)) throw new KeyError('KEY_ROTATE_SAME_KEY', 'The new local master key is the current one.', { fix: 'generate a new 96-byte key.' });
  const docs = await keyVaultDocuments(client).find({ ...filterFor(selectors), 'masterKey.provider': 'local' }).toArray();
  const plan: Array<{ _id: Binary; before: Binary; after: Buffer }> = [];
  const alreadyDone: string[] = [];
  for (const doc of docs) {
    const wrapped = Buffer.from(doc.keyMaterial.buffer);
    const material = unwrapLocal(keys.current, wrapped);
    if (!material) {
      const underNext = unwrapLocal(keys.next, wrapped);
      if (underNext) { underNext.fill(0); alreadyDone.push(doc._id.toUUID().toHexString()); continue; }
      throw new KeyError('KEY_ROTATE_WRONG_MASTER_KEY', `Data key ${doc._id.toUUID().toHexString()} is wrapped by neither the current nor the new local master key; nothing was changed.`, {
        fix: 'configure the master key that wrapped the keys as the current one (kms.local), or select only the keys it wraps.',
      });
    }
    plan.push({ _id: doc._id, before: doc.keyMaterial, after: wrapLocal(keys.next, material) });
    material.fill(0);
  }
  const rewrapped: string[] = [];
  for (const step of plan) {
    const result = await keyVaultDocuments(client).updateOne({ _id: step._id, keyMaterial: step.before }, { $set: { keyMaterial: new Binary(step.after), updateDate: new Date() } });
    if (result.matchedCount === 1) rewrapped.push(step._id.toUUID().toHexString());
  }
  client.keyVault.forget();
  return { rewrapped, alreadyDone };
}

import type { Binary, Document } from 'mongodb';
import type { StrongboxClient } from '../client/strongboxClient';
import { inspectEncryptedBlob, isEncryptedBinary } from '../crypto/blob';
import { isPlainDocument } from '../bson/documents';
import { KeyError } from '../errors';
import { describeSelector, findKey, type KeySelector } from './keys';

/** What deleting a data key would make unreadable, from keyDeletionImpact. */
export interface KeyDeletionImpact {
  id: string;
  altNames: string[];
  /** Per collection of the configured models: documents holding ciphertext under this key, and how many values. */
  collections: Array<{ namespace: string; documents: number; values: number }>;
  /** Documents of the configured models that become (partly) unreadable. Other collections are not scanned. */
  documents: number;
}

/**
 * What deleting a key would make unreadable, as far as it can be known: the configured models'
 * collections are scanned for ciphertext whose header names the key (headers only; nothing is
 * decrypted). Copies elsewhere (other collections, backups) are not seen.
 */
export async function keyDeletionImpact(client: StrongboxClient, selector: KeySelector): Promise<KeyDeletionImpact> {
  return impactOf(client, await findKey(client, selector));
}

async function impactOf(client: StrongboxClient, key: { id: Binary; altNames: string[] }): Promise<KeyDeletionImpact> {
  const id = key.id.toUUID().toHexString();
  const collections: KeyDeletionImpact['collections'] = [];
  for (const model of client.registry) {
    let documents = 0;
    let values = 0;
    for await (const doc of client.dataClient.db(model.db).collection(model.collection).find({}, { promoteValues: false })) {
      const n = countUnder(doc, id);
      if (n > 0) { documents++; values += n; }
    }
    collections.push({ namespace: model.namespace, documents, values });
  }
  return { id, altNames: key.altNames, collections, documents: collections.reduce((sum, c) => sum + c.documents, 0) };
}

/**
 * Deletes a data key: crypto-shredding. Everything encrypted with it becomes unreadable for
 * good, so it requires `confirm: true`; the impact is computed first and returned. Clients
 * that used the key in the last minute may still hold it in libmongocrypt's key cache.
 */
export async function deleteKey(client: StrongboxClient, selector: KeySelector, options: { confirm: boolean }): Promise<KeyDeletionImpact> {
  const key = await findKey(client, selector);
  const impact = await impactOf(client, key);
  if (options.confirm !== true) {
    throw new KeyError('KEY_DELETE_UNCONFIRMED', `Deleting the data key ${describeSelector(selector)} would make ${impact.documents} document(s) of the configured models unreadable for good; it was not deleted.`, {
      fix: 'pass confirm: true (CLI: --confirm) if that is intended.',
    });
  }
  await client.encryption.deleteKey(key.id);
  for (const name of impact.altNames) client.keyVault.forget(name);
  return impact;
}

function countUnder(value: unknown, keyId: string): number {
  if (isEncryptedBinary(value)) return inspectEncryptedBlob(value)?.keyId === keyId ? 1 : 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countUnder(v, keyId), 0);
  if (isPlainDocument(value)) return Object.values(value as Document).reduce((n: number, v) => n + countUnder(v, keyId), 0);
  return 0;
}

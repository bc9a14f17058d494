import { UUID, type Binary, type Collection, type Document } from 'mongodb';
import type { StrongboxClient } from '../client/strongboxClient';
import { KeyError } from '../errors';
import { buildEncryptionPlan } from '../schema/encryptionPlan';
import { collectKeyAltNames } from '../schema/keyIds';

/** A key vault document (the driver's collection type would assume ObjectId ids). */
export interface KeyVaultDocument {
  _id: Binary;
  keyAltNames?: string[];
  keyMaterial: Binary;
  masterKey: Document;
  creationDate?: Date;
  updateDate?: Date;
}

export function keyVaultDocuments(client: StrongboxClient): Collection<KeyVaultDocument> {
  return client.keyVault.collection as unknown as Collection<KeyVaultDocument>;
}

/** A data key by alt name or by id (UUID string). */
export type KeySelector = { altName: string } | { id: string };

/** A key alt name the models name, with its key and whether ensureModelKeys created it. */
export interface EnsuredKey {
  altName: string;
  id: string;
  /** False when the key already existed. */
  created: boolean;
}

/** Creates, idempotently, a data key for every fixed key alt name the configured models name. */
export async function ensureModelKeys(client: StrongboxClient): Promise<EnsuredKey[]> {
  const out: EnsuredKey[] = [];
  for (const altName of collectKeyAltNames(client.registry)) {
    const existing = await client.keyVault.findKeyId(altName);
    const id = existing ?? await client.keyVault.ensureDataKey(altName);
    out.push({ altName, id: id.toUUID().toHexString(), created: !existing });
  }
  return out;
}

/** A data key as listKeys shows it: ids, alt names, master key and the model paths using it, never key material. */
export interface KeyDescription {
  id: string;
  altNames: string[];
  /** The KMS provider and master key that wrap it (a description, never key material). */
  masterKey: Document;
  creationDate?: Date;
  updateDate?: Date;
  /** Encrypted paths of configured models that name this key by alt name ("hr.employees.taxid"). */
  usedBy: string[];
}

/** Every key in the key vault, without key material, with the model paths that use it. */
export async function listKeys(client: StrongboxClient): Promise<KeyDescription[]> {
  const usage = usageByAltName(client);
  const docs = await keyVaultDocuments(client).find({}, { projection: { keyMaterial: 0 } }).sort({ creationDate: 1 }).toArray();
  return docs.map((d) => describeKey(d, usage));
}

/** A key vault document as a description (never its key material). */
export function describeKey(doc: Omit<KeyVaultDocument, 'keyMaterial'>, usage: Map<string, string[]>): KeyDescription {
  // A set: libmongocrypt stores the names of a new key in reverse order.
  const altNames = [...(doc.keyAltNames ?? [])].sort();
  return {
    id: doc._id.toUUID().toHexString(),
    altNames,
    masterKey: doc.masterKey,
    creationDate: doc.creationDate,
    updateDate: doc.updateDate,
    usedBy: altNames.flatMap((n) => usage.get(n) ?? []),
  };
}

/** Fixed key alt names of the configured models, with the encrypted paths naming each. */
export function usageByAltName(client: StrongboxClient): Map<string, string[]> {
  const usage = new Map<string, string[]>();
  for (const model of client.registry) {
    for (const path of buildEncryptionPlan(model).paths) {
      if (path.key.kind !== 'altName') continue;
      const list = usage.get(path.key.altName) ?? [];
      list.push(`${model.namespace}.${path.path.join('.')}`);
      usage.set(path.key.altName, list);
    }
  }
  return usage;
}

/** The key vault document of a key (without its material), or a KeyError naming what is missing. */
export async function findKey(client: StrongboxClient, selector: KeySelector): Promise<{ id: Binary; altNames: string[] }> {
  const filter = 'altName' in selector ? { keyAltNames: selector.altName } : { _id: uuid(selector.id) };
  const doc = await keyVaultDocuments(client).findOne(filter, { projection: { keyMaterial: 0 } });
  if (!doc) {
    throw new KeyError('KEY_NOT_FOUND', `The key vault has no data key ${describeSelector(selector)}.`, { fix: 'list the keys with `strongbox keys list`.' });
  }
  return { id: doc._id, altNames: doc.keyAltNames ?? [] };
}

export function uuid(id: string): UUID {
  if (!UUID.isValid(id)) throw new KeyError('KEY_ID_INVALID', `${JSON.stringify(id)} is not a UUID.`, { fix: 'pass a key id as printed by `strongbox keys list`.' });
  return new UUID(id);
}

export function describeSelector(selector: KeySelector): string {
  return 'altName' in selector ? `with alt name '${selector.altName}'` : `with id ${selector.id}`;
}

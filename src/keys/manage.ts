/**
 * Explicit data key management, as the client-side encryption specification's ClientEncryption
 * defines it: create a key (optionally with custom key material), add and remove key alt names,
 * get a key by id or alt name. A key alt name names exactly one key: MongoDB enforces that with
 * the key vault's unique partial index on keyAltNames, and Strongbox checks it before writing,
 * because servers without partial indexes keep only a weaker index (see altNameIndex.ts).
 */
import type { Binary } from 'mongodb';
import type { MasterKeyDescription } from '../config/strongboxConfig';
import type { StrongboxClient } from '../client/strongboxClient';
import { KeyError } from '../errors';
import { altNameIndexState, describeAltNameIndex } from './altNameIndex';
import { describeKey, findKey, keyVaultDocuments, usageByAltName, type KeyDescription, type KeySelector } from './keys';

/** What the client-side encryption specification calls keyMaterial: the data key itself. */
export const DATA_KEY_MATERIAL_BYTES = 96;

/** Options of createKey. */
export interface CreateKeyOptions {
  /** One or more key alt names; each must be free. */
  altNames: string | string[];
  /**
   * The master key that wraps the new key (provider and its description: region and ARN for
   * AWS, key id for KMIP, …). Default: the client's `keyVault.masterKey` (or its only provider).
   */
  masterKey?: MasterKeyDescription;
  /**
   * The 96 bytes of the data key instead of random ones (for example a key migrated from
   * another system). Whoever has them can decrypt everything under the key without any KMS.
   */
  keyMaterial?: Uint8Array;
}

/** Creates a data key wrapped by a master key, with its alt names. */
export async function createKey(client: StrongboxClient, options: CreateKeyOptions): Promise<KeyDescription> {
  const altNames = typeof options.altNames === 'string' ? [options.altNames] : [...(options.altNames ?? [])];
  if (altNames.length === 0) throw new KeyError('KEY_ALT_NAME_MISSING', 'A data key created by Strongbox needs at least one alt name.', { fix: "pass altNames: 'billing' (CLI: --alt-name billing)." });
  if (new Set(altNames).size !== altNames.length) throw new KeyError('KEY_ALT_NAME_REPEATED', `The alt names ${JSON.stringify(altNames)} repeat a name.`, { fix: 'give each alt name once.' });
  for (const name of altNames) {
    checkAltName(name);
    await assertAltNameFree(client, name);
  }
  const keyMaterial = options.keyMaterial === undefined ? undefined : checkKeyMaterial(options.keyMaterial);
  const { provider, masterKey } = wrappingFor(client, options.masterKey);
  let id: Binary;
  try {
    id = await client.encryption.createDataKey(provider as 'local', {
      keyAltNames: altNames,
      ...(masterKey ? { masterKey: masterKey as never } : {}),
      ...(keyMaterial ? { keyMaterial } : {}),
    });
  } catch (err) {
    if (isDuplicateKey(err)) throw await altNameTaken(client, altNames, undefined, 'refused by the server');
    throw new KeyError('KEY_CREATE_FAILED', `Could not create the data key ${JSON.stringify(altNames)} under the ${provider} provider: ${(err as Error).message}`, {
      fix: `check that kms.${provider} is configured and reachable (strongbox doctor) and that the key vault is writable.`,
      cause: err,
    });
  } finally {
    keyMaterial?.fill(0);
  }
  return getKey(client, { id: id.toUUID().toHexString() });
}

/** The key (without key material), with the model paths that use it; KEY_NOT_FOUND otherwise. */
export async function getKey(client: StrongboxClient, selector: KeySelector): Promise<KeyDescription> {
  const { id } = await findKey(client, selector);
  const doc = await keyVaultDocuments(client).findOne({ _id: id }, { projection: { keyMaterial: 0 } });
  if (!doc) throw new KeyError('KEY_NOT_FOUND', `The data key ${id.toUUID().toHexString()} disappeared from the key vault while it was read.`, { fix: 'list the keys with `strongbox keys list`.' });
  return describeKey(doc, usageByAltName(client));
}

/** Adds an alt name to an existing key; a no-op when the key has it already. */
export async function addKeyAltName(client: StrongboxClient, selector: KeySelector, altName: string): Promise<KeyDescription> {
  checkAltName(altName);
  const key = await findKey(client, selector);
  if (!key.altNames.includes(altName)) {
    await assertAltNameFree(client, altName, key.id);
    try {
      await client.encryption.addKeyAltName(key.id, altName);
    } catch (err) {
      if (isDuplicateKey(err)) throw await altNameTaken(client, [altName], key.id, 'refused by the server');
      throw err;
    }
  }
  return getKey(client, { id: key.id.toUUID().toHexString() });
}

/**
 * Removes an alt name from a key. A configured model that names the alt name would then find no
 * key under it and create a new one on its next write (new values under another key, so
 * Deterministic equality would silently stop matching older ones): refused unless forced.
 */
export async function removeKeyAltName(client: StrongboxClient, selector: KeySelector, altName: string, options: { force?: boolean } = {}): Promise<KeyDescription> {
  const key = await findKey(client, selector);
  const id = key.id.toUUID().toHexString();
  if (!key.altNames.includes(altName)) {
    throw new KeyError('KEY_ALT_NAME_NOT_ON_KEY', `The data key ${id} has no alt name '${altName}' (it has ${key.altNames.length ? key.altNames.map((n) => `'${n}'`).join(', ') : 'none'}).`, {
      fix: 'check the name with `strongbox keys show`.',
    });
  }
  const users = usageByAltName(client).get(altName) ?? [];
  if (users.length > 0 && options.force !== true) {
    throw new KeyError('KEY_ALT_NAME_IN_USE', `The alt name '${altName}' of data key ${id} is how ${users.join(', ')} find their key; without it Strongbox would create a new key under that name on the next write, and Deterministic queries would stop matching the values already stored. Nothing was changed.`, {
      fix: 'change the models first (and migrate their data), or pass force: true (CLI: --force) if this is intended.',
    });
  }
  // What the driver's removeKeyAltName does, in two plain updates: it sends one pipeline update,
  // which servers without update pipelines (FerretDB v1) refuse. The specification wants the
  // field gone once the last name is, so that the unique partial index ignores the key.
  const keys = keyVaultDocuments(client);
  await keys.updateOne({ _id: key.id, keyAltNames: altName }, { $pull: { keyAltNames: altName }, $currentDate: { updateDate: true } });
  await keys.updateOne({ _id: key.id, keyAltNames: { $size: 0 } }, { $unset: { keyAltNames: '' } });
  client.keyVault.forget(altName);
  return getKey(client, { id });
}

function checkAltName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new KeyError('KEY_ALT_NAME_INVALID', `A key alt name must be a non-empty string, got ${name === '' ? 'an empty string' : typeof name}.`, { fix: "use a name such as 'billing' or 'tenant-42'." });
  }
}

function checkKeyMaterial(material: unknown): Buffer {
  if (!(material instanceof Uint8Array) || material.length !== DATA_KEY_MATERIAL_BYTES) {
    const got = material instanceof Uint8Array ? `${material.length} bytes` : typeof material;
    throw new KeyError('KEY_MATERIAL_WRONG_LENGTH', `keyMaterial must be ${DATA_KEY_MATERIAL_BYTES} bytes (a Buffer or Uint8Array), got ${got}.`, {
      fix: `pass exactly ${DATA_KEY_MATERIAL_BYTES} random bytes, or leave keyMaterial out to have libmongocrypt generate them.`,
    });
  }
  // A copy, so that overwriting it afterwards leaves the caller's buffer alone.
  return Buffer.from(material);
}

function wrappingFor(client: StrongboxClient, masterKey: MasterKeyDescription | undefined): { provider: string; masterKey?: Record<string, unknown> } {
  if (!masterKey) return client.keyVault.wrapping;
  const { provider, ...description } = masterKey;
  return { provider, masterKey: provider === 'local' ? undefined : description };
}

async function assertAltNameFree(client: StrongboxClient, altName: string, owner?: Binary): Promise<void> {
  const holder = await keyVaultDocuments(client).findOne({ keyAltNames: altName }, { projection: { _id: 1 } });
  if (holder && !sameKey(holder._id, owner)) throw await altNameTaken(client, [altName], owner, 'checked by Strongbox before writing');
}

async function altNameTaken(client: StrongboxClient, altNames: string[], owner: Binary | undefined, how: string): Promise<KeyError> {
  const holders = await keyVaultDocuments(client).find({ keyAltNames: { $in: altNames } }, { projection: { _id: 1, keyAltNames: 1 } }).toArray();
  const taken = holders.filter((h) => !sameKey(h._id, owner))
    .map((h) => `'${altNames.find((n) => h.keyAltNames?.includes(n))}' belongs to data key ${h._id.toUUID().toHexString()}`);
  const index = describeAltNameIndex(await altNameIndexState(client.keyVault.collection));
  return new KeyError('KEY_ALT_NAME_TAKEN', `The key alt name ${taken.join(', ') || JSON.stringify(altNames)} already; an alt name names exactly one data key (${how}). ${index}`, {
    fix: 'choose another alt name, or remove it from the other key first (strongbox keys remove-alt-name).',
  });
}

function sameKey(id: Binary, other: Binary | undefined): boolean {
  return other !== undefined && id.toUUID().toHexString() === other.toUUID().toHexString();
}

function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number })?.code === 11000 || /E11000|duplicate key/i.test(String((err as Error)?.message ?? ''));
}

import type { Binary, Document } from 'mongodb';
import type { KeyVault } from '../crypto/keyVault';
import type { KeyRef } from '../metadata/types';

/** A key vault entry without its key material. */
export interface KeyEntry {
  id: string;
  altNames: string[];
  provider: string;
}

/**
 * The key vault read once (ids, alt names, provider; never key material), to name the keys
 * found in ciphertext headers and to tell which key a document should use, without creating
 * anything: audits and dry runs only read.
 */
export class KeyIndex {
  private readonly byId = new Map<string, KeyEntry>();
  private readonly byAltName = new Map<string, string>();

  constructor(entries: KeyEntry[]) {
    for (const entry of entries) {
      this.byId.set(entry.id, entry);
      for (const name of entry.altNames) this.byAltName.set(name, entry.id);
    }
  }

  static async load(keyVault: KeyVault): Promise<KeyIndex> {
    const docs = await keyVault.collection.find({}, { projection: { _id: 1, keyAltNames: 1, 'masterKey.provider': 1 } }).toArray();
    return new KeyIndex(docs.map((d: Document) => ({
      id: (d._id as Binary).toUUID().toHexString(),
      altNames: (d.keyAltNames as string[] | undefined) ?? [],
      provider: String(d.masterKey?.provider ?? 'unknown'),
    })));
  }

  get(id: string): KeyEntry | undefined { return this.byId.get(id); }
  idOf(altName: string): string | undefined { return this.byAltName.get(altName); }
  entries(): KeyEntry[] { return [...this.byId.values()]; }

  /**
   * The id of the key a document's value should be encrypted with under `key`, or undefined
   * when that key does not exist (yet) or the document does not name one.
   */
  expectedKeyId(key: KeyRef, doc: Document): string | undefined {
    switch (key.kind) {
      case 'id': return key.id.toUUID().toHexString();
      case 'altName': return this.idOf(key.altName);
      case 'altNameFromField': {
        const name = key.path.reduce<unknown>((v, seg) => (v as Document | undefined)?.[seg], doc);
        return typeof name === 'string' ? this.idOf(name) : undefined;
      }
      case 'altNameFunction': {
        try {
          const name = key.fn(doc);
          return typeof name === 'string' ? this.idOf(name) : undefined;
        } catch {
          return undefined;
        }
      }
    }
  }
}

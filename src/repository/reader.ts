import { BSON, type Document } from 'mongodb';
import { isEncryptedBinary, inspectEncryptedBlob } from '../crypto/blob';
import { describeUndecryptable, isPlainDocument, type CryptoEngine, type UndecryptableField, type UndecryptableReason } from '../crypto/engine';
import { DecryptionError } from '../errors';
import { hydrate } from '../metadata/hydrate';
import type { ModelMetadata, ModelShape } from '../metadata/types';

/**
 * Stands in for a value that could not be decrypted, when a repository is created with
 * `onUndecryptable: 'marker'`. It is never a string/number, so it cannot pass for the value.
 */
export class UndecryptableValue {
  constructor(
    readonly path: string,
    readonly keyId: string | undefined,
    readonly algorithm: 'Deterministic' | 'Random' | undefined,
    readonly reason: UndecryptableReason,
  ) {}
  toJSON(): object { return { undecryptable: true, path: this.path, keyId: this.keyId, reason: this.reason }; }
}

export type UndecryptablePolicy = 'throw' | 'marker';

/** Decrypts a batch of stored documents and turns them into model instances. */
export class DocumentReader<T> {
  /** Whether the model declares an encrypted field anywhere (embedded documents included). */
  private readonly declaresEncryption: boolean;

  constructor(
    private readonly model: ModelMetadata,
    private readonly engine: CryptoEngine,
    private readonly policy: UndecryptablePolicy,
  ) {
    this.declaresEncryption = declaresEncryption(model, new Set());
  }

  async decrypt(stored: Document[]): Promise<Document[]> {
    return this.settle(await this.engine.decryptDocuments(stored));
  }

  /** decrypt() for a batch still in BSON (a `raw: true` cursor): deserialized once, after decryption. */
  async decryptRaw(stored: Uint8Array[]): Promise<Document[]> {
    if (!this.declaresEncryption) {
      // Documents of a model without encrypted fields rarely hold ciphertext: libmongocrypt only
      // gets them (as before) when some is actually there.
      const docs = stored.map((bytes) => BSON.deserialize(bytes));
      return docs.some(containsEncrypted) ? this.decrypt(docs) : docs;
    }
    return this.settle(await this.engine.decryptRawDocuments(stored));
  }

  private settle({ docs, failures }: { docs: Document[]; failures: Map<number, UndecryptableField[]> }): Document[] {
    // Whatever the engine reported, nothing still encrypted may pass as a value.
    docs.forEach((doc, i) => {
      // The cheap yes/no walk first: naming the paths of leftovers is only needed when there are some.
      const leftovers = containsEncrypted(doc) ? findEncrypted(doc, '') : [];
      const known = new Set((failures.get(i) ?? []).map((f) => f.path));
      const extra = leftovers.filter((f) => !known.has(f.path));
      if (extra.length) failures.set(i, [...(failures.get(i) ?? []), ...extra]);
    });
    for (const [i, problems] of failures) {
      if (this.policy === 'throw') {
        const first = problems[0];
        throw new DecryptionError(`DECRYPT_${first.reason.toUpperCase().replace(/-/g, '_')}`,
          describeUndecryptable(first, `${this.model.target.name} ${idText(docs[i])}`) + (problems.length > 1 ? ` (${problems.length - 1} more undecryptable value(s) in this document)` : ''),
          { fix: "restore the key or master key; to read the rest of such documents, create the repository with { onUndecryptable: 'marker' }." });
      }
      for (const problem of problems) setPath(docs[i], problem.path, new UndecryptableValue(problem.path, problem.keyId, problem.algorithm, problem.reason));
    }
    return docs;
  }

  async read(stored: Document[]): Promise<T[]> {
    const docs = await this.decrypt(stored);
    return docs.map((doc) => hydrate<T>(this.model, doc));
  }

  async readRaw(stored: Uint8Array[]): Promise<T[]> {
    const docs = await this.decryptRaw(stored);
    return docs.map((doc) => hydrate<T>(this.model, doc));
  }
}

function idText(doc: Document): string {
  const id = doc?._id;
  return id === undefined ? '(document without _id)' : `_id ${typeof id === 'object' && id !== null && 'toHexString' in id ? (id as { toHexString(): string }).toHexString() : String(id)}`;
}

function declaresEncryption(shape: ModelShape, seen: Set<ModelShape>): boolean {
  seen.add(shape);
  for (const field of shape.fields.values()) {
    if (field.encrypted) return true;
    if (field.embedded && !seen.has(field.embedded) && declaresEncryption(field.embedded, seen)) return true;
  }
  return false;
}

function containsEncrypted(value: unknown): boolean {
  if (isEncryptedBinary(value)) return true;
  if (Array.isArray(value)) return value.some(containsEncrypted);
  if (isPlainDocument(value)) {
    for (const key in value) if (containsEncrypted(value[key])) return true;
  }
  return false;
}

function findEncrypted(value: unknown, path: string): UndecryptableField[] {
  if (isEncryptedBinary(value)) {
    const info = inspectEncryptedBlob(value);
    return [{ path, keyId: info?.keyId, algorithm: info?.algorithm, reason: 'corrupt', detail: 'left encrypted after decryption' }];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findEncrypted(v, path ? `${path}.${i}` : String(i)));
  if (isPlainDocument(value)) {
    return Object.entries(value).flatMap(([k, v]) => findEncrypted(v, path ? `${path}.${k}` : k));
  }
  return [];
}

function setPath(doc: Document, path: string, value: unknown): void {
  const segments = path.split('.');
  let node: Document = doc;
  for (const seg of segments.slice(0, -1)) node = node[seg];
  node[segments[segments.length - 1]] = value;
}

import type { Binary, Document } from 'mongodb';
import type { EncryptionGroup, GroupKey } from '../../crypto/commandEncryptor';
import type { CryptoEngine } from '../../crypto/engine';
import type { KeyVault } from '../../crypto/keyVault';
import type { EncryptionSpec, FieldMetadata, ModelMetadata } from '../../metadata/types';
import { invalid } from './guards';
import { toDeclaredBson } from './values';

/** Encrypts the values of encrypted fields, resolving which data key each one uses. */
export class FieldEncryptor {
  constructor(
    readonly model: ModelMetadata,
    private readonly engine: CryptoEngine,
    private readonly keyVault: KeyVault,
  ) {}

  /**
   * Everything encrypt() checks before it needs the key vault: the value's type and, for
   * per-document keys, the key name. Analyzers call it while deciding, so bad input is refused
   * before any traffic; the value converted to its declared BSON type is returned, so the marking
   * carries it and encrypt() gets a value already of its declared type.
   */
  check(field: FieldMetadata, path: string, value: unknown, root: Document | undefined): unknown {
    const where = `${this.model.target.name}.${path}`;
    const plaintext = toDeclaredBson(value, { bsonType: field.encrypted!.bsonType, itemBsonType: field.itemBsonType }, where);
    this.keyFor(field.encrypted!, root, where);
    return plaintext;
  }

  /**
   * Encrypts one value; the engine encrypts it in one libmongocrypt pass with every other value
   * of the same command. Checks come first, synchronously, so bad input never joins a batch.
   * @param root the whole document being written, for keys chosen per document; undefined in
   *   queries, where only fixed keys can be used.
   */
  encrypt(field: FieldMetadata, path: string, value: unknown, root: Document | undefined): Promise<Binary> {
    const spec = field.encrypted!;
    const where = `${this.model.target.name}.${path}`;
    let plaintext: unknown;
    let keyId: Binary | Promise<Binary>;
    try {
      // Checks the declared type and refuses ciphertext and UndecryptableValue markers: a
      // caller-supplied encrypted Binary may be another field's or another customer's, and its
      // header cannot prove otherwise.
      plaintext = toDeclaredBson(value, { bsonType: spec.bsonType, itemBsonType: field.itemBsonType }, where);
      keyId = this.keyIdFor(spec, root, where);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.engine.encrypt(plaintext, spec.algorithm, keyId, where);
  }

  /**
   * encrypt() for a value of a document being written, named `where` ("Patient.ssn"): added to
   * the command's group with the place its ciphertext goes (no promise per value). A value of
   * the wrong type throws at once, as the walk reports it; a key that cannot be named fails the
   * group, which rejects when the command awaits it, as encrypt() would.
   */
  encryptInto(group: EncryptionGroup, field: FieldMetadata, where: string, value: unknown, root: Document | undefined, container: Document, key: string): void {
    const spec = field.encrypted!;
    const plaintext = toDeclaredBson(value, { bsonType: spec.bsonType, itemBsonType: field.itemBsonType }, where);
    let keyId: GroupKey;
    try {
      const dataKey = this.keyFor(spec, root, where);
      // Looked up (or created) only when the batch is encrypted, after every walk of the command passed.
      keyId = 'id' in dataKey ? dataKey.id : this.keyVault.knownDataKey(dataKey.altName) ?? (() => this.keyVault.ensureDataKey(dataKey.altName));
    } catch (err) {
      group.fail(err);
      return;
    }
    group.add(plaintext, spec.algorithm, keyId, where, container, key);
  }

  /** Encrypts the values of a group; see encryptInto. */
  encryptGroup(group: EncryptionGroup): Promise<void> {
    return this.engine.encryptGroup(group);
  }

  /** The id of the data key of a value (a promise while the key vault is asked, or the key created). */
  keyIdFor(spec: EncryptionSpec, root: Document | undefined, where: string): Binary | Promise<Binary> {
    const key = this.keyFor(spec, root, where);
    return 'id' in key ? key.id : this.keyVault.ensureDataKey(key.altName);
  }

  /** The data key a value is encrypted with, without touching the key vault. */
  private keyFor(spec: EncryptionSpec, root: Document | undefined, where: string): { id: Binary } | { altName: string } {
    const key = spec.key;
    switch (key.kind) {
      case 'id': return { id: key.id };
      case 'altName': return { altName: key.altName };
      case 'altNameFromField': {
        const name = root === undefined ? undefined : key.path.reduce<unknown>((v, seg) => (v as Document | undefined)?.[seg], root);
        if (typeof name !== 'string' || name.length === 0) {
          throw invalid('INPUT_KEY_FIELD_MISSING', `${where} is encrypted with a per-document key named by "${key.pointer}", but ${root === undefined ? 'this operation has no document to read it from' : 'the document has no non-empty string there'}.`,
            `include ${key.path.join('.')} in the document (for updates: pin it with an equality in the filter).`);
        }
        return { altName: name };
      }
      case 'altNameFunction': {
        if (root === undefined) {
          throw invalid('INPUT_KEY_FUNCTION_NO_DOC', `${where} chooses its key with a function, which needs the document, but this operation has none.`, 'write the field with insert or replace, which give the whole document.');
        }
        let name: unknown;
        try {
          name = key.fn(root);
        } catch {
          // Its own error is withheld: the function reads the document, encrypted fields included, and its message may quote them.
          throw invalid('INPUT_KEY_FUNCTION_FAILED', `${where}: the keyAltName function threw on this document (its error is withheld, as it may quote an encrypted value).`,
            'make the function return a key alt name for every document it can be given, without throwing.');
        }
        if (typeof name !== 'string' || name.length === 0) {
          throw invalid('INPUT_KEY_FUNCTION_RESULT', `${where}: the keyAltName function returned ${typeof name} instead of a non-empty string.`, 'make the function return the key alt name for every document.');
        }
        return { altName: name };
      }
    }
  }
}

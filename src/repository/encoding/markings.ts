import type { Document } from 'mongodb';
import { EncryptionGroup } from '../../crypto/commandEncryptor';
import type { FieldMetadata } from '../../metadata/types';
import { placeUpdateValue, plainUpdateValue, type UpdateValue } from './documentEncoder';
import type { FieldEncryptor } from './fieldEncryptor';
import type { PathNames } from './pathResolver';

/**
 * A value the analyzer decided to encrypt, left in place of the value in the analyzed command:
 * the same idea as the intent-to-encrypt markings of MongoDB's client-side encryption
 * specification, which a query analyzer puts into a command for libmongocrypt to encrypt.
 * Deciding (the analyzer, synchronous, refusing before any traffic) and encrypting (this module)
 * are two separate steps.
 */
export class ValueMarking {
  constructor(
    readonly field: FieldMetadata,
    readonly path: string,
    readonly value: unknown,
    /** The stored document the key comes from, for per-document keys; undefined where only fixed keys apply. */
    readonly keyRoot: Document | undefined,
  ) {}
}

/**
 * A value of a declared field encoded as a whole when the command is encrypted: an embedded
 * document (or array of them) whose encrypted fields get encrypted, or a plain value checked and
 * converted to its declared BSON type.
 */
export class DocumentMarking implements UpdateValue {
  constructor(
    readonly field: FieldMetadata,
    readonly path: string,
    readonly value: unknown,
    readonly keyRoot: Document | undefined,
    /** The field's whole value, one element of an array field, or a value inside a free-form field. */
    readonly names: PathNames,
  ) {}
}

/** Counts the markings an analysis produced, so commands without any skip the encryption walk. */
export class Markings {
  count = 0;

  value(field: FieldMetadata, path: string, value: unknown, keyRoot: Document | undefined, encryptor: FieldEncryptor): ValueMarking {
    // Checked now, not when encrypting: a value of the wrong type or a missing key name is refused before any traffic.
    const plaintext = encryptor.check(field, path, value, keyRoot);
    this.count++;
    return new ValueMarking(field, path, plaintext, keyRoot);
  }

  /**
   * A value of a declared field encoded as a whole: marked when there is something inside to
   * encrypt or walk (an embedded document, an encrypted field), encoded at once otherwise, so a
   * command that only writes plain values needs no encoding pass after its analysis.
   */
  document(field: FieldMetadata, path: string, value: unknown, keyRoot: Document | undefined, names: PathNames, encryptor: FieldEncryptor): unknown {
    if (!field.embedded && !field.encrypted) return plainUpdateValue(encryptor.model.target.name, { field, path, value, keyRoot, names });
    this.count++;
    return new DocumentMarking(field, path, value, keyRoot, names);
  }
}

/**
 * Replaces every marking of an analyzed command by its encryption: the values are placed in one
 * synchronous pass and encrypted together, as one group (so the command's size once encrypted is
 * known before encrypting), with no promise per value.
 */
export async function encryptMarked<T>(encryptor: FieldEncryptor, analyzed: T, markings: Markings): Promise<T> {
  if (markings.count === 0) return analyzed;
  const group = new EncryptionGroup();
  const result = replace(encryptor, group, analyzed) as T;
  if (group.items.length > 0 || group.hasFailed) await encryptor.encryptGroup(group);
  return result;
}

function replace(encryptor: FieldEncryptor, group: EncryptionGroup, node: unknown): unknown {
  if (Array.isArray(node)) {
    const out = node.slice();
    node.forEach((item, i) => placeInto(encryptor, group, out, i, item));
    return out;
  }
  if (node === null || typeof node !== 'object') return node;
  const proto = Object.getPrototypeOf(node);
  if (proto !== Object.prototype && proto !== null) return node;
  const out: Document = {};
  for (const key of Object.keys(node)) placeInto(encryptor, group, out, key, (node as Document)[key]);
  return out;
}

function placeInto(encryptor: FieldEncryptor, group: EncryptionGroup, container: Document | unknown[], key: string | number, node: unknown): void {
  if (node instanceof ValueMarking) {
    // The key is written now, so the command keeps the analyzed order; the ciphertext replaces it once the group is encrypted.
    (container as Document)[key] = undefined;
    encryptor.encryptInto(group, node.field, `${encryptor.model.target.name}.${node.path}`, node.value, node.keyRoot, container as Document, key as string);
  } else if (node instanceof DocumentMarking) {
    placeUpdateValue(encryptor, group, container, key, node);
  } else {
    (container as Document)[key] = replace(encryptor, group, node);
  }
}

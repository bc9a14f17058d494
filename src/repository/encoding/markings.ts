import type { Binary, Document } from 'mongodb';
import type { FieldMetadata } from '../../metadata/types';
import { encodeArrayElement, encodeField } from './documentEncoder';
import type { FieldEncryptor } from './fieldEncryptor';

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
export class DocumentMarking {
  constructor(
    readonly field: FieldMetadata,
    readonly path: string,
    readonly value: unknown,
    readonly keyRoot: Document | undefined,
    /** One element of an array field, rather than the field's whole value. */
    readonly element: boolean,
  ) {}
}

type Marking = ValueMarking | DocumentMarking;

/** Counts the markings an analysis produced, so commands without any skip the encryption walk. */
export class Markings {
  count = 0;

  value(field: FieldMetadata, path: string, value: unknown, keyRoot: Document | undefined, encryptor: FieldEncryptor): ValueMarking {
    // Checked now, not when encrypting: a value of the wrong type or a missing key name is refused before any traffic.
    const plaintext = encryptor.check(field, path, value, keyRoot);
    this.count++;
    return new ValueMarking(field, path, plaintext, keyRoot);
  }

  document(field: FieldMetadata, path: string, value: unknown, keyRoot: Document | undefined, element: boolean): DocumentMarking {
    this.count++;
    return new DocumentMarking(field, path, value, keyRoot, element);
  }
}

/** Replaces every marking of an analyzed command by its encryption; all values of a command are encrypted concurrently. */
export async function encryptMarked<T>(encryptor: FieldEncryptor, analyzed: T, markings: Markings): Promise<T> {
  if (markings.count === 0) return analyzed;
  const pending: Array<Promise<void>> = [];
  const result = replace(encryptor, analyzed, pending) as T;
  await Promise.all(pending);
  return result;
}

function replace(encryptor: FieldEncryptor, node: unknown, pending: Array<Promise<void>>): unknown {
  if (Array.isArray(node)) {
    const out = node.slice();
    node.forEach((item, i) => settleInto(out, i, replace(encryptor, item, pending), pending));
    return out;
  }
  if (node instanceof ValueMarking || node instanceof DocumentMarking) return encrypt(encryptor, node);
  if (node === null || typeof node !== 'object') return node;
  const proto = Object.getPrototypeOf(node);
  if (proto !== Object.prototype && proto !== null) return node;
  const out: Document = {};
  for (const key of Object.keys(node)) settleInto(out, key, replace(encryptor, (node as Document)[key], pending), pending);
  return out;
}

function settleInto(target: Document, key: string | number, value: unknown, pending: Array<Promise<void>>): void {
  if (value instanceof Promise) {
    target[key] = undefined;
    pending.push(value.then((settled) => { target[key] = settled; }));
  } else target[key] = value;
}

function encrypt(encryptor: FieldEncryptor, marking: Marking): Promise<Binary | unknown> {
  if (marking instanceof ValueMarking) return encryptor.encrypt(marking.field, marking.path, marking.value, marking.keyRoot);
  if (marking.element) return encodeArrayElement(encryptor, marking.field, marking.path, marking.value, marking.keyRoot);
  return encodeField(encryptor, marking.field, marking.path, marking.value, marking.keyRoot);
}

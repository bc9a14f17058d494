import { Double, Int32, type Document } from 'mongodb';
import { bsonTypeNumber, copyBson, slotsAt, type Slot } from '../../stored/values';
import { inspectEncryptedBlob, isEncryptedBinary } from '../../crypto/blob';
import { MigrationError, StrongboxError } from '../../errors';
import type { BsonType, EncryptionSpec, FieldMetadata } from '../../metadata/types';
import type { FieldEncryptor } from '../../repository/encoding/fieldEncryptor';
import { idText } from '../../bson/documents';

/** What a backfill does to the values at one path. */
export type RewriteTarget =
  | { kind: 'encrypt'; spec: EncryptionSpec }
  | { kind: 'decrypt' };

/** Per value: plaintext to encrypt, ciphertext to decrypt and encrypt again, ciphertext to decrypt. */
export type ValueAction = 'encrypt' | 'reencrypt' | 'decrypt';

/** A document whose values at the path need work, with a copy of its top-level field to rewrite. */
export interface PendingDocument {
  doc: Document;
  top: string;
  holder: Document;
  slots: Slot[];
  actions: Array<ValueAction | undefined>;
}

/**
 * The part of a backfill that looks at one document: which values at the path need work, and
 * the rewritten field. Encryption goes through the repository's FieldEncryptor, so values are
 * type-checked and per-document keys resolved exactly as on insert.
 */
export class FieldRewrite {
  readonly segments: string[];
  private readonly field: FieldMetadata;

  constructor(
    private readonly namespace: string,
    readonly path: string,
    readonly target: RewriteTarget,
    private readonly encryptor: FieldEncryptor,
  ) {
    this.segments = path.split('.');
    this.field = {
      name: this.segments[this.segments.length - 1], isArray: false, optional: true, isId: false,
      ...(target.kind === 'encrypt' ? { encrypted: target.spec } : {}),
    };
  }

  /** Undefined when nothing at the path needs work. */
  async inspect(doc: Document): Promise<PendingDocument | undefined> {
    const top = this.segments[0];
    if (doc[top] === undefined) return undefined;
    const holder = { [top]: copyBson(doc[top]) };
    const slots = slotsAt(holder, this.segments);
    const actions: Array<ValueAction | undefined> = [];
    for (const slot of slots) actions.push(await this.actionFor(slot.value, doc));
    return actions.some(Boolean) ? { doc, top, holder, slots, actions } : undefined;
  }

  needsPlaintext(pending: PendingDocument): boolean {
    return pending.actions.some((a) => a === 'reencrypt' || a === 'decrypt');
  }

  private async actionFor(value: unknown, doc: Document): Promise<ValueAction | undefined> {
    if (value === null) return undefined;
    const target = this.target;
    if (target.kind === 'decrypt') return isEncryptedBinary(value) ? 'decrypt' : undefined;
    if (!isEncryptedBinary(value)) return 'encrypt';
    const info = inspectEncryptedBlob(value);
    if (!info) throw this.failure(doc, 'holds BinData subtype 6 that is not a valid ciphertext (corrupt)', 'inspect it with `strongbox audit`; remove or restore the value, then run again.');
    if (info.algorithm !== target.spec.algorithm) return 'reencrypt';
    const expected = await this.guard(doc, async () => this.encryptor.keyIdFor(target.spec, doc, this.where()));
    return info.keyId === expected.toUUID().toHexString() ? undefined : 'reencrypt';
  }

  /**
   * Rewrites the copy. `plaintextSlots` are the same slots of the document read through a
   * decrypting client (needed for reencrypt/decrypt). Returns false when the two reads of the
   * document disagree (it changed in between): the document is then left for the next pass.
   */
  async rewrite(pending: PendingDocument, plaintextSlots: Slot[] | undefined): Promise<boolean> {
    const plaintexts: unknown[] = [];
    for (let i = 0; i < pending.slots.length; i++) {
      const action = pending.actions[i];
      if (!action) continue;
      const slot = pending.slots[i];
      plaintexts[i] = slot.value;
      if (action !== 'encrypt') {
        const twin = plaintextSlots?.[i];
        const info = inspectEncryptedBlob(slot.value);
        if (!twin || plaintextSlots!.length !== pending.slots.length || isEncryptedBinary(twin.value) || bsonTypeNumber(twin.value) !== info?.originalBsonType) return false;
        plaintexts[i] = twin.value;
      }
    }
    // All values start encrypting before any is awaited: together with the other documents of the batch, one libmongocrypt pass.
    const target = this.target;
    await Promise.all(pending.slots.map(async (slot, i) => {
      if (!pending.actions[i]) return;
      const value = target.kind === 'decrypt'
        ? plaintexts[i]
        : await this.guard(pending.doc, () => this.encryptor.encrypt(this.field, this.path, forEncryption(plaintexts[i], target.spec.bsonType), pending.doc));
      (slot.container as Record<string | number, unknown>)[slot.key] = value;
    }));
    return true;
  }

  private where(): string {
    return `${this.namespace}.${this.path}`;
  }

  private async guard<T>(doc: Document, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (!(err instanceof StrongboxError)) throw err;
      throw new MigrationError('MIGRATION_BACKFILL_VALUE', `The backfill of ${this.where()} stopped at document _id ${idText(doc._id)}: ${err.message}`, { cause: err });
    }
  }

  private failure(doc: Document, problem: string, fix: string): MigrationError {
    return new MigrationError('MIGRATION_BACKFILL_VALUE', `The backfill of ${this.where()} stopped at document _id ${idText(doc._id)}: the value ${problem}.`, { fix });
  }
}

/**
 * Values are read with promoteValues: false to keep their exact BSON types. A declared number
 * type is checked by the encryptor against JavaScript numbers, so Int32/Double wrappers are
 * unwrapped there; anything undeclared keeps its wrapper and thus its stored type.
 */
function forEncryption(value: unknown, bsonType: BsonType | undefined): unknown {
  if ((bsonType === 'int' || bsonType === 'double' || bsonType === 'long') && (value instanceof Int32 || value instanceof Double)) return value.valueOf();
  return value;
}

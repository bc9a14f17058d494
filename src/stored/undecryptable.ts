import type { UndecryptableReason } from '../crypto/engine';
import { InvalidInputError } from '../errors';

/**
 * Stands in for a value that could not be decrypted, when a repository is created with
 * `onUndecryptable: 'marker'`. It is never a string/number, so it cannot pass for the value,
 * and every write path refuses it, so a loaded entity written back cannot destroy the
 * ciphertext it replaced.
 */
export class UndecryptableValue {
  constructor(
    readonly path: string,
    readonly keyId: string | undefined,
    readonly algorithm: 'Deterministic' | 'Random' | undefined,
    readonly reason: UndecryptableReason,
  ) {}
  toJSON(): object { return { undecryptable: true, path: this.path, keyId: this.keyId, reason: this.reason }; }

  /**
   * BSON calls this when it writes the marker: wherever it was put (inside a Map, a class instance,
   * another object's toBSON, where no check looks), writing it throws, so it can never be stored
   * as a document of its fields in place of the value.
   */
  toBSON(): never {
    throw new InvalidInputError('INPUT_UNDECRYPTABLE_WRITE_BACK', `An UndecryptableValue (the value read at "${this.path}", which could not be decrypted) was about to be written; writing it would replace a stored value with its marker. Nothing was sent.`, {
      fix: 'leave the value out of the write, or set a real value in its place.',
    });
  }
}

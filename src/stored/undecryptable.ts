import type { UndecryptableReason } from '../crypto/engine';

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
}

import { createHash } from 'node:crypto';

/**
 * Byte values from this size up are kept in a written entity's snapshot as a digest, not a copy.
 *
 * A copy of a large value is its own ArrayBuffer outside the JavaScript heap, and V8 answers
 * external memory with full garbage collections: inserting 2.4 MB binaries, each insert's copy of
 * the value for the snapshot added a quarter of the external memory the insert allocates (the
 * driver's serialization and message are the rest) and with it a share of the full collections.
 * SHA-256 of the bytes costs about what copying them costs (1.6 ms for 2.4 MB on the benchmark
 * machine) and allocates 32 bytes. Below this size a copy is cheaper than hashing and adds little
 * external memory.
 */
const DIGEST_FROM = 64 * 1024;

/** The subtype of stored ciphertext (BSON binary subtype 6): never digested, so a read of the snapshot still finds it. */
const ENCRYPTED_SUBTYPE = 6;

/**
 * What a written entity's snapshot keeps of a large byte value: its BSON binary subtype, its length
 * and its SHA-256, enough for save() to tell whether the entity's value is still the same bytes
 * (a different value with the same digest would need a SHA-256 collision). Frozen, fields private:
 * nothing changes it and nothing reads the bytes back from it. It is never a value to send:
 * serializing it throws instead of writing an empty document.
 */
export class BytesDigest {
  readonly #subtype: number;
  readonly #length: number;
  readonly #sha256: Buffer;

  private constructor(subtype: number, bytes: Uint8Array) {
    this.#subtype = subtype;
    this.#length = bytes.length;
    this.#sha256 = sha256(bytes);
    Object.freeze(this);
  }

  /** The digest of `value` when it is a byte value worth digesting (not a ciphertext); undefined otherwise. */
  static of(value: unknown): BytesDigest | undefined {
    const bytes = storedBytes(value);
    if (bytes === undefined || bytes.subtype === ENCRYPTED_SUBTYPE || bytes.data.length < DIGEST_FROM) return undefined;
    return new BytesDigest(bytes.subtype, bytes.data);
  }

  /** Whether the driver would store `value` as the very bytes digested: same subtype, same length, same SHA-256 (hashed only when the rest agrees). */
  matches(value: unknown): boolean {
    const bytes = storedBytes(value);
    return bytes !== undefined && bytes.subtype === this.#subtype && bytes.data.length === this.#length && sha256(bytes.data).equals(this.#sha256);
  }

  toBSON(): never {
    throw new TypeError('Strongbox: a digest kept for change tracking reached a command; it is not a value and must never be sent.');
  }
}

/** The subtype and bytes the driver writes for a Binary (its first `position` bytes) or a Uint8Array (subtype 0). */
function storedBytes(value: unknown): { subtype: number; data: Uint8Array } | undefined {
  if (value instanceof Uint8Array) return { subtype: 0, data: value };
  if (typeof value !== 'object' || value === null || (value as { _bsontype?: unknown })._bsontype !== 'Binary') return undefined;
  const binary = value as { buffer: Uint8Array; position: number; sub_type: number };
  return { subtype: binary.sub_type, data: binary.buffer.subarray(0, binary.position) };
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

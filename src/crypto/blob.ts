import { Binary } from 'mongodb';

/*
 * The driver re-exports js-bson's classes through getters (its CommonJS index), so each
 * `instanceof` against an import pays a getter call; every value written or read is tested here,
 * so the class is read once.
 */
const BinaryClass = Binary;

/** BSON binary subtype for client-side encrypted values (the spec's "ciphertext"). */
const ENCRYPTED_SUBTYPE = 6;

export type StoredAlgorithm = 'Deterministic' | 'Random';

/** The algorithm names of the client-side encryption specification, as schema maps and the driver spell them. */
export const ALGORITHM_NAMES: Readonly<Record<StoredAlgorithm, string>> = {
  Deterministic: 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic',
  Random: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random',
};

/** Shared between values with the same header (see inspectEncryptedBlob): frozen, never changed. */
export interface EncryptedBlobInfo {
  readonly algorithm: StoredAlgorithm;
  /** The data key's id, as a canonical UUID string. */
  readonly keyId: string;
  /** The same id as 32 lowercase hex digits (how the key cache names a key). */
  readonly keyHex: string;
  /** BSON type number of the plaintext (2 string, 16 int, …). */
  readonly originalBsonType: number;
}

export function isEncryptedBinary(value: unknown): value is Binary {
  return value instanceof BinaryClass && value.sub_type === ENCRYPTED_SUBTYPE;
}

/**
 * Reads the clear header of a stored ciphertext: byte 0 is the algorithm (1 Deterministic,
 * 2 Random; 0 is an intent-to-encrypt marking that must never be stored), bytes 1–16 the data
 * key's UUID, byte 17 the plaintext's BSON type. Lets audits and error messages name the key
 * without decrypting anything. Returns undefined for anything that is not such a value.
 */
export function inspectEncryptedBlob(value: unknown): EncryptedBlobInfo | undefined {
  if (!isEncryptedBinary(value)) return undefined;
  const bytes = value.buffer;
  if (bytes.length < HEADER_BYTES) return undefined;
  for (let i = 0; i < recentHeaders.length; i++) if (sameHeader(bytes, recentHeaders[i].bytes)) return recentHeaders[i].info;
  const algorithm = bytes[0] === 1 ? 'Deterministic' : bytes[0] === 2 ? 'Random' : undefined;
  if (!algorithm) return undefined;
  const keyHex = hexAt(bytes, 1, 17);
  const info: EncryptedBlobInfo = Object.freeze({ algorithm, keyId: uuidText(keyHex), keyHex, originalBsonType: bytes[17] });
  if (recentHeaders.length === RECENT_HEADERS) recentHeaders.pop();
  // A copy of its own: Buffer's slice() is a view, which a change to the value's bytes would change too.
  recentHeaders.unshift({ bytes: new Uint8Array(bytes.subarray(0, HEADER_BYTES)), info });
  return info;
}

/** The clear header of a stored value: algorithm, key id and plaintext type, the bytes an EncryptedBlobInfo says. */
export const HEADER_BYTES = 18;

/**
 * The last few headers read, each with its (frozen) info: a batch's values mostly share a handful
 * of headers (one per algorithm and type under one key), and an info object per value read was a
 * good part of what verifying a cursor's batch allocated.
 */
const RECENT_HEADERS = 8;
const recentHeaders: Array<{ bytes: Uint8Array; info: EncryptedBlobInfo }> = [];

function sameHeader(bytes: Uint8Array, header: Uint8Array): boolean {
  for (let b = 0; b < HEADER_BYTES; b++) if (bytes[b] !== header[b]) return false;
  return true;
}

/** The canonical text (RFC 9562 section 4: 8-4-4-4-12 lowercase hex digits) of a UUID given as 32 hex digits, as js-bson's UUID.toHexString() spells it. */
function uuidText(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** bytes[start, end) as lowercase hex, without copying them. */
export function hexAt(bytes: Uint8Array, start: number, end: number): string {
  const view = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.toString('hex', start, end);
}

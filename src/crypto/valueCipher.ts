import { Binary, BSON } from 'mongodb';
import { aeadCiphertextLength, IV_BYTES, randomIvs, type AeadJob, type AeadKey } from './aead';
import { HEADER_BYTES, inspectEncryptedBlob, type StoredAlgorithm } from './blob';
import type { Plaintext } from './plaintext';
import { slabAllocator, wipe } from '../bson/memory';

/*
 * The stored form of an encrypted value (client-side encryption specification, "ciphertext"):
 * BSON binary subtype 6 holding the algorithm byte (1 Deterministic, 2 Random), the data key's
 * 16-byte UUID and the plaintext's BSON type byte (together the associated data the tag
 * authenticates), then AEAD_AES_256_CBC_HMAC_SHA_512 of the plaintext.
 */

const ENCRYPTED_SUBTYPE = 6;
const ALGORITHM_BYTE: Readonly<Record<StoredAlgorithm, number>> = { Deterministic: 1, Random: 2 };
const UUID_BYTES = 16;

/** Bytes of the stored value of a plaintext of `plaintextBytes`. */
export function encryptedValueLength(plaintextBytes: number): number {
  return HEADER_BYTES + aeadCiphertextLength(plaintextBytes);
}

export interface ValueToSeal {
  algorithm: StoredAlgorithm;
  plaintext: Plaintext;
}

/**
 * Ciphertexts are cut from slabs that hold nothing else: a command listener gets a view of the
 * whole slab.
 */
const ciphertextMemory = slabAllocator();

/**
 * Encrypts values under one data key (`key`, with `keyId` its UUID), in order. Random takes a
 * fresh IV from the CSPRNG for each value; Deterministic derives it from the value.
 */
export function encryptValues(key: AeadKey, keyId: Binary, values: readonly ValueToSeal[]): Binary[] {
  const id = keyId.buffer;
  if (id.length !== UUID_BYTES) throw new TypeError('a data key id is a UUID');
  let randomCount = 0;
  for (const value of values) if (value.algorithm === 'Random') randomCount++;
  const ivs = randomIvs(randomCount);
  let nextIv = 0;
  const jobs: AeadJob[] = [];
  let total = 0;
  for (const { plaintext } of values) total += encryptedValueLength(plaintext.bytes.length);
  const memory = ciphertextMemory(total);
  let offset = 0;
  for (const { algorithm, plaintext } of values) {
    const out = memory.subarray(offset, (offset += encryptedValueLength(plaintext.bytes.length)));
    out[0] = ALGORITHM_BYTE[algorithm];
    out.set(id, 1);
    out[HEADER_BYTES - 1] = plaintext.type;
    if (algorithm === 'Deterministic') key.writeDeterministicIv(out, HEADER_BYTES, out.subarray(0, HEADER_BYTES), plaintext.bytes);
    else for (let b = 0; b < IV_BYTES; b++) out[HEADER_BYTES + b] = ivs[nextIv++];
    jobs.push({ plaintext: plaintext.bytes, out, at: HEADER_BYTES, associatedBytes: HEADER_BYTES });
  }
  key.encryptMany(jobs);
  return jobs.map((job) => new Binary(job.out, ENCRYPTED_SUBTYPE));
}

/** Bytes of the smallest stored value: the header, an IV, one block, the tag. */
const MIN_SEALED_BYTES = HEADER_BYTES + aeadCiphertextLength(0);

/**
 * The data key id a stored value names (its bytes 1–16, as a UUID), or undefined when the value
 * is not a Deterministic or Random ciphertext of the specification's form.
 */
export function sealedKeyId(value: Binary): Binary | undefined {
  return isSealed(value) ? new Binary(value.buffer.slice(1, 1 + UUID_BYTES), Binary.SUBTYPE_UUID) : undefined;
}

/**
 * The data key id a stored value names, as hex (what hexOf gives for sealedKeyId's Binary), or
 * undefined as sealedKeyId: a read of thousands of values groups them by key without an object
 * per value.
 */
export function sealedKeyHex(value: Binary): string | undefined {
  // The header's reading is shared by the values that have it (see inspectEncryptedBlob): no string per value.
  return isSealed(value) ? inspectEncryptedBlob(value)?.keyHex : undefined;
}

function isSealed(value: Binary): boolean {
  const bytes = value.buffer;
  return value.sub_type === ENCRYPTED_SUBTYPE && bytes.length >= MIN_SEALED_BYTES && (bytes[0] === ALGORITHM_BYTE.Deterministic || bytes[0] === ALGORITHM_BYTE.Random);
}

/**
 * Decrypts values sealed under one data key, in order, each to the value BSON deserialization
 * gives for its type and bytes; undefined when any one of them does not open under the key or
 * is not exactly one BSON value of its type (libmongocrypt then tells which and why). The
 * plaintexts are wiped once read.
 */
export function decryptValues(key: AeadKey, values: readonly Binary[]): unknown[] | undefined {
  const buffers = new Array<Uint8Array>(values.length);
  for (let i = 0; i < values.length; i++) buffers[i] = values[i].buffer;
  const { plaintext, start, end } = key.openMany(buffers, HEADER_BYTES);
  try {
    const out = new Array<unknown>(values.length);
    for (let i = 0; i < values.length; i++) {
      if (start[i] < 0) return undefined;
      out[i] = valueOf(buffers[i][HEADER_BYTES - 1], plaintext, start[i], end[i]);
    }
    return out;
  } catch {
    return undefined;
  } finally {
    wipe(plaintext);
  }
}

const STRING_TYPE = 0x02;

/**
 * Types whose deserialized value may be a view of the bytes it was read from: binData, and
 * documents, arrays and code with scope, which can hold binData.
 */
const VIEWING_TYPES = new Set([0x05, 0x03, 0x04, 0x0f]);

/** Bytes of the fixed-size BSON types (bsonspec.org), by type byte. */
const FIXED_BYTES: Record<number, number> = { 0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0a: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16, 0xff: 0, 0x7f: 0 };

/**
 * How many bytes the BSON value of `type` starting at `bytes[start]` takes, as its type's layout
 * (bsonspec.org) says, reading no further than `end`, or undefined for a type this does not know.
 * Deserialization checks the value's own contents; this says whether anything follows it.
 */
function valueBytes(type: number, bytes: Buffer, start: number, end: number): number | undefined {
  if (type in FIXED_BYTES) return FIXED_BYTES[type];
  const int32At = (at: number) => (end - start >= at + 4 ? bytes.readInt32LE(start + at) : undefined);
  switch (type) {
    case 0x02: case 0x0d: case 0x0e: { const n = int32At(0); return n === undefined ? undefined : 4 + n; } // string, JavaScript, symbol
    case 0x03: case 0x04: case 0x0f: return int32At(0); // document, array, code with scope: the length counts itself
    case 0x05: { const n = int32At(0); return n === undefined ? undefined : 4 + 1 + n; } // binData: length, subtype, bytes
    case 0x0c: { const n = int32At(0); return n === undefined ? undefined : 4 + n + 12; } // dbPointer: string, ObjectId
    case 0x0b: { // regex: pattern and options, each ending with a 0
      const pattern = bytes.indexOf(0, start);
      const options = pattern < 0 || pattern >= end ? -1 : bytes.indexOf(0, pattern + 1);
      return options < 0 || options >= end ? undefined : options + 1 - start;
    }
    default: return undefined;
  }
}

/** The value of a BSON element of `type` with the bytes `bytes[start, end)`: the document { v } around them, deserialized. */
function valueOf(type: number, bytes: Buffer, start: number, end: number): unknown {
  // Exactly one value, ending where the plaintext ends: bytes after it (a second element named v,
  // which deserialization would take instead) make it no value of ours; libmongocrypt decides.
  const length = end - start;
  if (valueBytes(type, bytes, start, end) !== length) throw new TypeError('a decrypted plaintext is not exactly one BSON value');
  // Most values are strings: read directly when they are a well-formed BSON string (length, the
  // bytes, 0) that decodes without a replacement character. Node puts U+FFFD for each malformed
  // UTF-8 sequence (WHATWG Encoding, "UTF-8 decode"), so a string without one was valid UTF-8;
  // one with it goes through BSON, which refuses malformed UTF-8 as in any document.
  if (type === STRING_TYPE && length >= 5 && bytes[end - 1] === 0) {
    const text = bytes.toString('utf8', start + 4, end - 1);
    if (!text.includes('\uFFFD')) return text;
  }
  const viewed = VIEWING_TYPES.has(type);
  // A value viewing these bytes gets memory of its own; any other value is a copy, and the bytes are wiped.
  const size = 4 + 1 + 2 + length + 1;
  const document = viewed ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  document.writeInt32LE(document.length, 0);
  document[4] = type;
  document[5] = 0x76;
  document[6] = 0;
  bytes.copy(document, 7, start, end);
  document[document.length - 1] = 0;
  try {
    return BSON.deserialize(document).v;
  } finally {
    // Wiped whether or not BSON reads it (it refuses malformed UTF-8): pool memory is handed out again.
    if (!viewed) wipe(document);
  }
}

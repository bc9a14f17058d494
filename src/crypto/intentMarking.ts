import { AS_THE_DRIVER_WRITES } from '../bson/documents';
import type { StoredAlgorithm } from './blob';
import { BSON, Int32, type Binary } from 'mongodb';

/** MongoDB's maximum BSON document size (maxBsonObjectSize, 16 MiB). */
/** MongoDB's limit on one document (the manual's "BSON Document Size" limit). */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** The marking's algorithm numbers ("a"), as the client-side encryption specification defines them. */
const ALGORITHM_NUMBERS: Record<StoredAlgorithm, Int32> = { Deterministic: new Int32(1), Random: new Int32(2) };

/**
 * BSON types (by type byte) Deterministic encryption takes: the query analyzer of MongoDB's
 * client-side encryption allows exactly these (binData, date, dbPointer, int, javascript, long,
 * objectId, regex, string, symbol, timestamp). libmongocrypt itself does not check markings, so
 * Strongbox, being the analyzer, must.
 */
const DETERMINISTIC_TYPES = new Set([0x05, 0x09, 0x0c, 0x10, 0x0d, 0x12, 0x07, 0x0b, 0x02, 0x0e, 0x11]);

/** Types no algorithm encrypts (undefined, null, MinKey, MaxKey): they carry nothing but their type, which stays visible. */
const NEVER_ENCRYPTED_TYPES = new Set([0x06, 0x0a, 0xff, 0x7f]);

/** Offset of the value's type byte in a marking document whose first element is "v". */
const VALUE_TYPE_OFFSET = 4;

/**
 * The document of one value's intent-to-encrypt marking (client-side encryption specification):
 * { v, a, ki }: the value, the algorithm, the data key's id. A marking is this document behind a
 * 0 byte, as BSON Binary subtype 6 (see markedCommandReply); mongocryptd or the crypt shared
 * library put such markings into a command, and libmongocrypt replaces each one by its
 * ciphertext. Throws, without quoting the value, when the value has no BSON form (a cycle), is
 * too large, or is of a type the algorithm refuses.
 */
export function intentMarking(value: unknown, algorithm: StoredAlgorithm, keyId: Binary): Uint8Array {
  const document = typeof value === 'string'
    ? stringMarking(value, ALGORITHM_NUMBERS[algorithm].value, keyId)
    : BSON.serialize({ v: value, a: ALGORITHM_NUMBERS[algorithm], ki: keyId }, AS_THE_DRIVER_WRITES);
  // libmongocrypt encrypts any size; the server then refuses a document beyond its limit, and the
  // driver fails serializing the command: refuse here, where the field is still known.
  if (document.length > MAX_BSON_SIZE) throw new RangeError('value too large for a BSON document');
  const type = document[VALUE_TYPE_OFFSET];
  if (NEVER_ENCRYPTED_TYPES.has(type)) throw new TypeError(`BSON type invalid for encryption (0x${type.toString(16)})`);
  if (algorithm === 'Deterministic' && !DETERMINISTIC_TYPES.has(type)) throw new TypeError(`BSON type invalid for deterministic encryption (0x${type.toString(16)})`);
  return document;
}

/** Bytes of a marking document besides its value's and its key id's (see stringMarking). */
const MARKING_FRAME = 4 + 3 + 7 + (4 + 4 + 1) + 1;

/**
 * The length of the ciphertext libmongocrypt makes of a marking's value, exactly: per the
 * client-side encryption specification, a BSON binary of subtype 6 holding a blob subtype byte,
 * the 16-byte key UUID, the value's BSON type byte, then AEAD_AES_256_CBC_HMAC_SHA_512 of the
 * value's bytes: a 16-byte IV, the bytes padded to whole 16-byte blocks (PKCS#7 always adds at
 * least one byte), a 32-byte tag.
 */
export function ciphertextLength(marking: Uint8Array, keyId: Binary): number {
  const plaintext = marking.length - MARKING_FRAME - keyId.buffer.length;
  return 1 + 16 + 1 + 16 + 16 * (Math.floor(plaintext / 16) + 1) + 32;
}

/**
 * The marking document of a string, written directly (strings are most encrypted values, and
 * this is a few times cheaper than general serialization): the same bytes BSON.serialize
 * produces, per the BSON specification (bsonspec.org): int32 total length; 0x02 "v" int32
 * length, UTF-8, 0; 0x10 "a" int32; 0x05 "ki" int32 length, subtype, bytes; 0.
 */
function stringMarking(value: string, algorithm: number, keyId: Binary): Uint8Array {
  const text = Buffer.byteLength(value, 'utf8');
  const key = keyId.buffer;
  const size = 4 + (3 + 4 + text + 1) + (3 + 4) + (4 + 4 + 1 + key.length) + 1;
  const out = Buffer.allocUnsafe(size);
  let at = out.writeInt32LE(size, 0);
  out[at++] = 0x02; out[at++] = 0x76; out[at++] = 0;
  at = out.writeInt32LE(text + 1, at);
  at += out.write(value, at, 'utf8');
  out[at++] = 0;
  out[at++] = 0x10; out[at++] = 0x61; out[at++] = 0;
  at = out.writeInt32LE(algorithm, at);
  out[at++] = 0x05; out[at++] = 0x6b; out[at++] = 0x69; out[at++] = 0;
  at = out.writeInt32LE(key.length, at);
  out[at++] = keyId.sub_type;
  out.set(key, at);
  at += key.length;
  out[at] = 0;
  return out;
}

import { AS_THE_DRIVER_WRITES } from '../bson/documents';
import type { StoredAlgorithm } from './blob';
import { BSON } from 'mongodb';
import { slabAllocator, wipe } from '../bson/memory';

/** MongoDB's limit on one document (the manual's "BSON Document Size" limit). */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/**
 * BSON types (by type byte) Deterministic encryption takes: the query analyzer of MongoDB's
 * client-side encryption allows exactly these (binData, date, dbPointer, int, javascript, long,
 * objectId, regex, string, symbol, timestamp). Strongbox is its own analyzer, so it must check.
 */
const DETERMINISTIC_TYPES = new Set([0x05, 0x09, 0x0c, 0x10, 0x0d, 0x12, 0x07, 0x0b, 0x02, 0x0e, 0x11]);

/** Types no algorithm encrypts (undefined, null, MinKey, MaxKey): they carry nothing but their type, which stays visible. */
const NEVER_ENCRYPTED_TYPES = new Set([0x06, 0x0a, 0xff, 0x7f]);

/** Offsets in the document { v: value }: the value's type byte, and its bytes (after the type, "v" and its 0). */
const TYPE_OFFSET = 4;
const VALUE_OFFSET = 7;

/**
 * What client-side encryption encrypts of a value (client-side encryption specification): the
 * bytes of its BSON element without type and name, and the type byte, which the ciphertext
 * keeps in the clear.
 */
export interface Plaintext {
  type: number;
  bytes: Uint8Array;
}

/**
 * The plaintext of a value. Throws, without quoting the value, when the value has no BSON form
 * (a cycle), is too large for a document, or is of a type the algorithm refuses.
 */
export function encryptionPlaintext(value: unknown, algorithm: StoredAlgorithm): Plaintext {
  const plaintext = typeof value === 'string' ? stringPlaintext(value) : serializedPlaintext(value);
  // The server refuses a document beyond its limit, and the driver fails serializing the
  // command: refuse here, where the field is still known.
  if (plaintext.bytes.length > MAX_BSON_SIZE) throw new RangeError('value too large for a BSON document');
  const { type } = plaintext;
  if (NEVER_ENCRYPTED_TYPES.has(type)) throw new TypeError(`BSON type invalid for encryption (0x${type.toString(16)})`);
  if (algorithm === 'Deterministic' && !DETERMINISTIC_TYPES.has(type)) throw new TypeError(`BSON type invalid for deterministic encryption (0x${type.toString(16)})`);
  return plaintext;
}

/** Plaintext copies live in slabs of their own, each wiped once its value is encrypted. */
const plaintextMemory = slabAllocator();

function serializedPlaintext(value: unknown): Plaintext {
  const document = BSON.serialize({ v: value }, AS_THE_DRIVER_WRITES);
  const bytes = plaintextMemory(document.length - 1 - VALUE_OFFSET);
  for (let b = 0; b < bytes.length; b++) bytes[b] = document[VALUE_OFFSET + b];
  const type = document[TYPE_OFFSET];
  // BSON serialization's output comes from Node's shared pool.
  wipe(document);
  return { type, bytes };
}

/**
 * A string's bytes written directly (strings are most encrypted values, and this is a few times
 * cheaper than general serialization), as the BSON specification (bsonspec.org) writes a
 * string: int32 length of the UTF-8 bytes plus one, the bytes, 0.
 */
function stringPlaintext(value: string): Plaintext {
  const text = Buffer.byteLength(value, 'utf8');
  const out = plaintextMemory(4 + text + 1);
  out.writeInt32LE(text + 1, 0);
  out.write(value, 4, 'utf8');
  out[4 + text] = 0;
  return { type: 0x02, bytes: out };
}

import { BSON, Int32, UUID, type Binary, type Document } from 'mongodb';

/*
 * What the native floor (floors.ts) hands libmongocrypt: a command of markings, as a query
 * analyzer (mongocryptd, the crypt shared library) would mark it, so that the floor times
 * libmongocrypt's encryption alone. The reply for a command of the markings namespace is written straight into one buffer: each marking is copied
 * once, where BSON serialization of Binary objects would copy it twice and allocate an object
 * per value. Layout per the BSON specification (bsonspec.org): little-endian int32 lengths,
 * elements as type byte, key as C string, value.
 *
 *   { ok: 1, result: { find: <collection>, filter: { v: [ BinData(6, 0x00 + marking), … ] } },
 *     hasEncryptedPlaceholders: true, schemaRequiresEncryption: true }
 */

const BSON_INT32 = 0x10;
const BSON_STRING = 0x02;
const BSON_DOCUMENT = 0x03;
const BSON_ARRAY = 0x04;
const BSON_BINARY = 0x05;
const BSON_BOOLEAN = 0x08;
const ENCRYPTED_SUBTYPE = 0x06;
/** The byte before a marking's document: 0 is "intent to encrypt", never a stored ciphertext. */
const INTENT_TO_ENCRYPT = 0x00;

class Writer {
  private offset = 0;
  constructor(readonly bytes: Buffer) {}

  byte(value: number): void { this.bytes[this.offset++] = value; }
  int32(value: number): void { this.offset = this.bytes.writeInt32LE(value, this.offset); }
  cstring(text: string): void { this.offset += this.bytes.write(text, this.offset, 'latin1'); this.byte(0); }
  copy(source: Uint8Array): void { this.bytes.set(source, this.offset); this.offset += source.length; }
  /** Writes a document's length prefix once its end is known. */
  open(): number { const start = this.offset; this.offset += 4; return start; }
  close(start: number): void { this.byte(0); this.bytes.writeInt32LE(this.offset - start, start); }
  get length(): number { return this.offset; }
}

/** The marked-command reply for `markings` (each a marking document from intentMarking). */
export function markedCommandReply(collection: string, markings: readonly Uint8Array[]): Buffer {
  let size = 200 + collection.length;
  for (let i = 0; i < markings.length; i++) size += markings[i].length + 16 + String(i).length;
  const w = new Writer(Buffer.allocUnsafe(size));
  const reply = w.open();
  w.byte(BSON_INT32); w.cstring('ok'); w.int32(1);
  w.byte(BSON_DOCUMENT); w.cstring('result');
  const result = w.open();
  w.byte(BSON_STRING); w.cstring('find'); w.int32(Buffer.byteLength(collection, 'latin1') + 1); w.cstring(collection);
  w.byte(BSON_DOCUMENT); w.cstring('filter');
  const filter = w.open();
  w.byte(BSON_ARRAY); w.cstring('v');
  const array = w.open();
  for (let i = 0; i < markings.length; i++) {
    w.byte(BSON_BINARY); w.cstring(String(i)); w.int32(markings[i].length + 1); w.byte(ENCRYPTED_SUBTYPE);
    w.byte(INTENT_TO_ENCRYPT); w.copy(markings[i]);
  }
  w.close(array);
  w.close(filter);
  w.close(result);
  w.byte(BSON_BOOLEAN); w.cstring('hasEncryptedPlaceholders'); w.byte(1);
  w.byte(BSON_BOOLEAN); w.cstring('schemaRequiresEncryption'); w.byte(1);
  w.close(reply);
  return w.bytes.subarray(0, w.length);
}

/** The namespace whose commands libmongocrypt asks markings for; its commands are never sent. */
export const MARKINGS_DB = 'strongbox';
export const MARKINGS_COLLECTION = 'markings';

/** The schema map that makes libmongocrypt ask for markings for the markings namespace. */
export function markingsSchemaMap(): Document {
  const anyKey = new UUID('00000000-0000-4000-8000-000000000000');
  return {
    [`${MARKINGS_DB}.${MARKINGS_COLLECTION}`]: {
      bsonType: 'object',
      properties: { v: { encrypt: { bsonType: 'string', algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random', keyId: [anyKey] } } },
    },
  };
}

/**
 * The document of one value's intent-to-encrypt marking (client-side encryption specification):
 * { v, a, ki }: the value, the algorithm number (1 Deterministic, 2 Random), the data key's id.
 */
export function intentMarking(value: unknown, algorithm: 'Deterministic' | 'Random', keyId: Binary): Uint8Array {
  return BSON.serialize({ v: value, a: new Int32(algorithm === 'Deterministic' ? 1 : 2), ki: keyId });
}

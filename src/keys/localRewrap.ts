import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeyError } from '../errors';
import { LOCAL_MASTER_KEY_BYTES } from '../crypto/masterKey';

/*
 * How the 'local' KMS provider wraps a data key (libmongocrypt, the client-side encryption
 * specification's AEAD_AES_256_CBC_HMAC_SHA_512 with no associated data): the 96-byte master
 * key gives a 32-byte MAC key (bytes 0–31) and a 32-byte encryption key (bytes 32–63); the
 * wrapped key is IV (16) ‖ AES-256-CBC(PKCS#7) ciphertext ‖ the first 32 bytes of
 * HMAC-SHA-512 over IV ‖ ciphertext ‖ the associated data's bit length (eight zero bytes).
 *
 * It exists because rewrapManyDataKey cannot move keys from one local master key to another
 * with libmongocrypt 1.7.2 (the version Debian ships and the binding here builds against): a
 * second local key needs a named provider ("local:new"), which only libmongocrypt ≥ 1.9
 * accepts ("unsupported KMS provider: local:new"). Key material lives only in local variables
 * and is overwritten when done.
 */

const IV_BYTES = 16;
const TAG_BYTES = 32;
const NO_ASSOCIATED_DATA_LENGTH = Buffer.alloc(8);

function keys(masterKey: Buffer): { mac: Buffer; enc: Buffer } {
  if (masterKey.length !== LOCAL_MASTER_KEY_BYTES) {
    throw new KeyError('KEY_MASTER_WRONG_LENGTH', `A local master key must be ${LOCAL_MASTER_KEY_BYTES} bytes, got ${masterKey.length}.`, { fix: 'pass the 96-byte key (decoded from base64).' });
  }
  return { mac: masterKey.subarray(0, 32), enc: masterKey.subarray(32, 64) };
}

/** The data key material, or undefined when this master key did not wrap it (the MAC does not verify). */
export function unwrapLocal(masterKey: Buffer, wrapped: Buffer): Buffer | undefined {
  const { mac, enc } = keys(masterKey);
  if (wrapped.length < IV_BYTES + 16 + TAG_BYTES) return undefined;
  const body = wrapped.subarray(0, wrapped.length - TAG_BYTES);
  const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
  const expected = createHmac('sha512', mac).update(body).update(NO_ASSOCIATED_DATA_LENGTH).digest().subarray(0, TAG_BYTES);
  if (!timingSafeEqual(expected, tag)) return undefined;
  const decipher = createDecipheriv('aes-256-cbc', enc, body.subarray(0, IV_BYTES));
  return Buffer.concat([decipher.update(body.subarray(IV_BYTES)), decipher.final()]);
}

export function wrapLocal(masterKey: Buffer, material: Buffer): Buffer {
  const { mac, enc } = keys(masterKey);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-cbc', enc, iv);
  const body = Buffer.concat([iv, cipher.update(material), cipher.final()]);
  const tag = createHmac('sha512', mac).update(body).update(NO_ASSOCIATED_DATA_LENGTH).digest().subarray(0, TAG_BYTES);
  return Buffer.concat([body, tag]);
}

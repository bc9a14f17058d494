import { randomBytes } from 'node:crypto';
import { KeyError } from '../errors';
import { AeadKey, IV_BYTES } from '../crypto/aead';
import { LOCAL_MASTER_KEY_BYTES } from '../crypto/masterKey';

/*
 * How the 'local' KMS provider wraps a data key (libmongocrypt): the client-side encryption
 * specification's AEAD_AES_256_CBC_HMAC_SHA_512 with no associated data and a random IV, under
 * the 96-byte master key.
 *
 * It exists because rewrapManyDataKey cannot move keys from one local master key to another
 * with libmongocrypt 1.7.2 (the version Debian ships and the binding here builds against): a
 * second local key needs a named provider ("local:new"), which only libmongocrypt ≥ 1.9
 * accepts ("unsupported KMS provider: local:new"). Key material lives only in local variables
 * and is overwritten when done.
 */

function checked(masterKey: Buffer): Buffer {
  if (masterKey.length !== LOCAL_MASTER_KEY_BYTES) {
    throw new KeyError('KEY_MASTER_WRONG_LENGTH', `A local master key must be ${LOCAL_MASTER_KEY_BYTES} bytes, got ${masterKey.length}.`, { fix: 'pass the 96-byte key (decoded from base64).' });
  }
  return masterKey;
}

/** The data key material, or undefined when this master key did not wrap it (the MAC does not verify). */
export function unwrapLocal(masterKey: Buffer, wrapped: Buffer): Buffer | undefined {
  return new AeadKey(checked(masterKey)).decrypt(wrapped);
}

export function wrapLocal(masterKey: Buffer, material: Buffer): Buffer {
  return new AeadKey(checked(masterKey)).encrypt(randomBytes(IV_BYTES), material);
}

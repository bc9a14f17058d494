import { createCipheriv, createDecipheriv, randomFillSync, type Cipher, type Decipher } from 'node:crypto';
import { HmacSha512 } from './hmac';
import { wipe } from '../bson/memory';

/*
 * AEAD_AES_256_CBC_HMAC_SHA_512, the cipher of MongoDB's client-side field level encryption
 * (the client-side encryption specification, after draft-mcgrew-aead-aes-cbc-hmac-sha2-05),
 * on Node's OpenSSL bindings. A 96-byte key holds a MAC key (bytes 0–31), an encryption key
 * (32–63) and, for deterministic encryption, an IV key (64–95). The ciphertext is
 *
 *   IV (16) ‖ AES-256-CBC with PKCS#7 padding of the plaintext ‖ the first 32 bytes of
 *   HMAC-SHA-512(MAC key, A ‖ IV ‖ ciphertext ‖ AL)
 *
 * where A is the associated data and AL its length in bits as a 64-bit big-endian integer. A
 * deterministic IV is the first 16 bytes of HMAC-SHA-512(IV key, A ‖ AL ‖ plaintext), so equal
 * plaintexts under one key give equal ciphertexts. The same construction without associated
 * data wraps data keys under the local KMS provider's master key.
 */

export const AEAD_KEY_BYTES = 96;
export const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const TAG_BYTES = 32;

/**
 * Values of at most this many blocks are chained together (see AeadKey.encryptMany); a longer
 * value gets a CBC cipher of its own, whose setup its length outweighs.
 */
const CHAINED_BLOCKS = 4;

/** AL by length of the associated data (it is 18 bytes for every stored value); never modified. */
const bitLengths = new Map<number, Buffer>();

/** The length in bits of the associated data, as the MAC and the deterministic IV append it. */
function bitLength(associatedBytes: number): Buffer {
  let out = bitLengths.get(associatedBytes);
  if (!out) {
    out = Buffer.alloc(8);
    out.writeUInt32BE(associatedBytes * 8, 4);
    if (bitLengths.size < 64) bitLengths.set(associatedBytes, out);
  }
  return out;
}

/** The length of the ciphertext of a plaintext of `plaintextBytes` (PKCS#7 always adds 1 to 16 bytes). */
export function aeadCiphertextLength(plaintextBytes: number): number {
  return IV_BYTES + paddedLength(plaintextBytes) + TAG_BYTES;
}

function paddedLength(plaintextBytes: number): number {
  return BLOCK_BYTES * (Math.floor(plaintextBytes / BLOCK_BYTES) + 1);
}

/**
 * One value to encrypt. Its associated data is already in `out`, just before `at` (the last
 * `associatedBytes` bytes before it), and so is its IV, from `at`; the ciphertext and the tag
 * follow it (IV ‖ ciphertext ‖ tag: aeadCiphertextLength bytes from `at`).
 */
export interface AeadJob {
  plaintext: Uint8Array;
  out: Buffer;
  at: number;
  associatedBytes: number;
}

/** What openMany gives: the plaintexts of many values, each a range of one buffer. */
export interface OpenedValues {
  plaintext: Buffer;
  start: Int32Array;
  end: Int32Array;
}

/**
 * A 96-byte AEAD key, ready to encrypt and decrypt many values. CBC is computed from single AES
 * block operations (NIST SP 800-38A, 6.2: C[i] = AES(P[i] XOR C[i-1]) and
 * P[i] = AES⁻¹(C[i]) XOR C[i-1], with C[-1] = IV) so that the blocks of many short values go
 * through one AES call, not one cipher object per value: setting up a cipher costs Node several
 * times more than encrypting a short value.
 */
export class AeadKey {
  private readonly blocks: Cipher;
  private readonly inverse: Decipher;
  private readonly macKey: HmacSha512;
  private readonly ivKey: HmacSha512;

  constructor(readonly key: Uint8Array) {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`an AEAD key has ${AEAD_KEY_BYTES} bytes`);
    // ECB of whole blocks only (no padding, never finalized): each block on its own, with no state between calls.
    this.blocks = createCipheriv('aes-256-ecb', key.subarray(32, 64), null).setAutoPadding(false);
    this.inverse = createDecipheriv('aes-256-ecb', key.subarray(32, 64), null).setAutoPadding(false);
    this.macKey = new HmacSha512(key.subarray(0, 32));
    this.ivKey = new HmacSha512(key.subarray(64, 96));
  }

  /** Writes the IV deterministic encryption uses for this plaintext and associated data into `out` at `at`. */
  writeDeterministicIv(out: Buffer, at: number, associated: Uint8Array, plaintext: Uint8Array): void {
    out.write(this.ivKey.digest(associated, bitLength(associated.length), plaintext), at, IV_BYTES, 'latin1');
  }

  /** Encrypts every job: IV, CBC ciphertext, then the tag over both. */
  encryptMany(jobs: readonly AeadJob[]): void {
    const chained: AeadJob[] = [];
    for (const job of jobs) {
      const { plaintext, out, at } = job;
      const padded = paddedLength(plaintext.length);
      if (padded / BLOCK_BYTES > CHAINED_BLOCKS) {
        const cipher = createCipheriv('aes-256-cbc', this.key.subarray(32, 64), out.subarray(at, at + IV_BYTES));
        const end = at + IV_BYTES + cipher.update(plaintext).copy(out, at + IV_BYTES);
        cipher.final().copy(out, end);
      } else {
        // The padded plaintext after the IV (PKCS#7: n bytes of value n), encrypted in place below.
        out.set(plaintext, at + IV_BYTES);
        out.fill(padded - plaintext.length, at + IV_BYTES + plaintext.length, at + IV_BYTES + padded);
        chained.push(job);
      }
    }
    this.chain(chained);
    for (const job of jobs) this.tag(job);
  }

  /** CBC over the padded plaintexts in place: one AES call per block position for all of them. */
  private chain(jobs: readonly AeadJob[]): void {
    for (let position = 0; jobs.length > 0; position++) {
      const due = jobs.filter((job) => paddedLength(job.plaintext.length) > position * BLOCK_BYTES);
      if (due.length === 0) return;
      const input = Buffer.allocUnsafe(due.length * BLOCK_BYTES);
      for (let j = 0; j < due.length; j++) {
        const { out, at } = due[j];
        // The block before this one is the previous ciphertext block, or the IV for the first.
        const block = at + IV_BYTES + position * BLOCK_BYTES;
        for (let b = 0; b < BLOCK_BYTES; b++) input[j * BLOCK_BYTES + b] = out[block + b] ^ out[block - BLOCK_BYTES + b];
      }
      const encrypted = this.blocks.update(input);
      // Each block XOR the ciphertext before it gives the plaintext back: wipe it.
      wipe(input);
      for (let j = 0; j < due.length; j++) {
        const { out, at } = due[j];
        const block = at + IV_BYTES + position * BLOCK_BYTES;
        // A loop: for 16 bytes it is cheaper than a copy() call.
        for (let b = 0; b < BLOCK_BYTES; b++) out[block + b] = encrypted[j * BLOCK_BYTES + b];
      }
    }
  }

  /** The tag: HMAC-SHA-512 of A ‖ IV ‖ ciphertext ‖ AL (contiguous in `out` up to AL), its first TAG_BYTES bytes. */
  private tag({ plaintext, out, at, associatedBytes }: AeadJob): void {
    const end = at + IV_BYTES + paddedLength(plaintext.length);
    out.write(this.macKey.digestRange(out, at - associatedBytes, end, bitLength(associatedBytes)), end, TAG_BYTES, 'latin1');
  }

  /**
   * The plaintexts of values whose first `associatedBytes` bytes are their associated data, then
   * IV ‖ ciphertext ‖ tag: value i is `plaintext[start[i], end[i])`, or start[i] is -1 when its tag
   * does not verify under this key (another key, or damaged bytes), it is not of this cipher's
   * shape or its padding is wrong. The tags are checked before anything is decrypted. Ranges of
   * one buffer rather than a buffer per value: a cursor reads thousands of values per batch, and
   * a view per value was most of what reading them allocated.
   */
  openMany(values: readonly Uint8Array[], associatedBytes: number): OpenedValues {
    const start = new Int32Array(values.length);
    const end = new Int32Array(values.length);
    let total = 0;
    for (let i = 0; i < values.length; i++) {
      const bytes = values[i];
      const sealedBytes = bytes.length - associatedBytes - IV_BYTES - TAG_BYTES;
      let ok = sealedBytes >= BLOCK_BYTES && sealedBytes % BLOCK_BYTES === 0;
      if (ok) {
        const tagAt = bytes.length - TAG_BYTES;
        const expected = this.macKey.digestRange(bytes, 0, tagAt, bitLength(associatedBytes));
        // Compared without an early exit, so the time taken does not tell how much of a tag matched.
        let difference = 0;
        for (let b = 0; b < TAG_BYTES; b++) difference |= expected.charCodeAt(b) ^ bytes[tagAt + b];
        ok = difference === 0;
      }
      if (ok) {
        start[i] = total;
        total += sealedBytes;
        end[i] = total;
      } else start[i] = -1;
    }
    const sealed = Buffer.allocUnsafe(total);
    const from = associatedBytes + IV_BYTES;
    for (let i = 0; i < values.length; i++) {
      if (start[i] < 0) continue;
      const bytes = values[i];
      for (let b = 0, at = start[i]; at < end[i]; b++, at++) sealed[at] = bytes[from + b];
    }
    const plaintext = this.inverse.update(sealed);
    for (let i = 0; i < values.length; i++) {
      if (start[i] < 0) continue;
      const bytes = values[i];
      const first = start[i];
      const last = end[i];
      // Each block's previous ciphertext block (the IV for the first) is at the same offset of IV ‖ ciphertext.
      for (let at = first, b = associatedBytes; at < last; at++, b++) plaintext[at] ^= bytes[b];
      const padding = plaintext[last - 1];
      let padded = padding >= 1 && padding <= BLOCK_BYTES;
      for (let at = last - padding; padded && at < last; at++) padded = plaintext[at] === padding;
      if (padded) end[i] = last - padding; else start[i] = -1;
    }
    return { plaintext, start, end };
  }

  /** The plaintext of one value, or undefined (see openMany). */
  decrypt(bytes: Uint8Array, associatedBytes = 0): Buffer | undefined {
    const opened = this.openMany([bytes], associatedBytes);
    return opened.start[0] < 0 ? undefined : opened.plaintext.subarray(opened.start[0], opened.end[0]);
  }

  /** IV ‖ ciphertext ‖ tag of one plaintext, without associated data, as a new buffer. */
  encrypt(iv: Uint8Array, plaintext: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(aeadCiphertextLength(plaintext.length));
    out.set(iv, 0);
    this.encryptMany([{ plaintext, out, at: 0, associatedBytes: 0 }]);
    return out;
  }
}

/** Random bytes drawn from the CSPRNG a pool at a time (one call per many IVs); each byte is handed out once. */
const RANDOM_POOL_BYTES = 64 * 1024;
let randomPool = Buffer.alloc(0);
let randomUsed = 0;

/** `count` fresh random IVs, as one buffer of count × IV_BYTES bytes. */
export function randomIvs(count: number): Buffer {
  const bytes = count * IV_BYTES;
  if (bytes > RANDOM_POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(bytes));
  if (randomUsed + bytes > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafe(RANDOM_POOL_BYTES));
    randomUsed = 0;
  }
  const out = randomPool.subarray(randomUsed, randomUsed + bytes);
  randomUsed += bytes;
  return out;
}

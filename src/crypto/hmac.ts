import * as crypto from 'node:crypto';
import { concealKey } from './masterKey';

/*
 * HMAC-SHA-512 (RFC 2104) computed as two one-shot hashes over key blocks prepared once:
 *
 *   H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ message))
 *
 * Node's createHmac builds an OpenSSL context per call, which costs several times the hashing of
 * a short message; the AEAD computes one or two HMACs per encrypted value, so that set-up was most
 * of the in-process encryption's cost. crypto.hash (Node ≥ 20.12) hashes a buffer without a
 * context object; on older Node the same construction runs on createHash.
 */

const BLOCK_BYTES = 128;
const DIGEST_BYTES = 64;

/** Messages longer than this are hashed by a streaming context rather than copied. */
const ONE_SHOT_MAX_BYTES = 16 * 1024;

/**
 * SHA-512 of the bytes, as a latin1 string (one character per byte): Node returns a string for
 * about half what it costs to return a new Buffer, and writes it back into a buffer cheaply.
 */
const oneShot: (data: Uint8Array) => string = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (data) => (crypto as unknown as { hash(algorithm: string, data: Uint8Array, encoding: 'latin1'): string }).hash('sha512', data, 'latin1')
  : (data) => crypto.createHash('sha512').update(data).digest('binary');

/** Where inner messages are assembled; wiped after each use (it holds plaintext for a deterministic IV). */
let scratch = Buffer.alloc(1024);
/**
 * The last view of the scratch buffer's start handed to the hash: values read together mostly
 * have one length, and a view per HMAC was most of what the HMACs of a cursor's values allocated.
 */
let scratchStart = scratch.subarray(0, 0);

function scratchUpTo(length: number): Buffer {
  if (scratchStart.length !== length || scratchStart.buffer !== scratch.buffer) scratchStart = scratch.subarray(0, length);
  return scratchStart;
}

export class HmacSha512 {
  /** K ⊕ ipad, then room for the message. */
  private readonly inner: Buffer;
  /** K ⊕ opad ‖ the inner digest. */
  private readonly outer: Buffer;

  constructor(key: Uint8Array) {
    if (key.length > BLOCK_BYTES) throw new RangeError(`an HMAC-SHA-512 key here has at most ${BLOCK_BYTES} bytes`);
    this.inner = concealKey(Buffer.alloc(BLOCK_BYTES, 0x36), 'HMAC key block');
    this.outer = concealKey(Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES, 0x5c), 'HMAC key block');
    for (let i = 0; i < key.length; i++) {
      this.inner[i] ^= key[i];
      this.outer[i] ^= key[i];
    }
  }

  /** HMAC-SHA-512 of the concatenation of the parts, as a latin1 string (one character per byte). */
  digest(...parts: Uint8Array[]): string {
    let messageBytes = 0;
    for (const part of parts) messageBytes += part.length;
    if (messageBytes > ONE_SHOT_MAX_BYTES) {
      const hash = crypto.createHash('sha512').update(this.inner);
      for (const part of parts) hash.update(part);
      return this.finish(hash.digest('binary'));
    }
    let at = this.begin(messageBytes);
    for (const part of parts) {
      scratch.set(part, at);
      at += part.length;
    }
    return this.end(messageBytes);
  }

  /** HMAC-SHA-512 of bytes[start, end) ‖ suffix, without a view of the range, as digest() gives it. */
  digestRange(bytes: Uint8Array, start: number, end: number, suffix: Uint8Array): string {
    const messageBytes = end - start + suffix.length;
    if (messageBytes > ONE_SHOT_MAX_BYTES) return this.digest(bytes.subarray(start, end), suffix);
    let at = this.begin(messageBytes);
    for (let i = start; i < end; i++) scratch[at++] = bytes[i];
    scratch.set(suffix, at);
    return this.end(messageBytes);
  }

  /** Puts K ⊕ ipad at the start of the scratch buffer, with room for the message after it; returns where the message goes. */
  private begin(messageBytes: number): number {
    if (scratch.length < BLOCK_BYTES + messageBytes) scratch = Buffer.alloc(Math.max(BLOCK_BYTES + messageBytes, 2 * scratch.length));
    scratch.set(this.inner, 0);
    return BLOCK_BYTES;
  }

  /** The HMAC of the message begin() made room for, once written; the scratch buffer is wiped. */
  private end(messageBytes: number): string {
    const length = BLOCK_BYTES + messageBytes;
    const innerDigest = oneShot(scratchUpTo(length));
    scratch.fill(0, 0, length);
    return this.finish(innerDigest);
  }

  private finish(innerDigest: string): string {
    this.outer.write(innerDigest, BLOCK_BYTES, DIGEST_BYTES, 'latin1');
    return oneShot(this.outer);
  }
}

/*
 * Memory for plaintext and key material. Buffer.from, Buffer.allocUnsafe and BSON serialization
 * cut small buffers from Node's shared pool, whose other slices become the ObjectIds and Binaries
 * of commands, replies and documents handed to command listeners and to the application: a view
 * of any of them reaches the whole pool. Plaintext and keys are kept in memory of their own
 * instead, and wiped once no longer needed.
 */

/**
 * Zeroes bytes that held plaintext or key material once they are no longer needed. A loop is
 * cheaper than fill() for the short values most are.
 */
export function wipe(bytes: Uint8Array): void {
  if (bytes.length > 256) bytes.fill(0);
  else for (let b = 0; b < bytes.length; b++) bytes[b] = 0;
}

/** A copy of the bytes in memory of its own (never Node's shared pool). */
export function ownCopy(bytes: Uint8Array): Buffer {
  const own = Buffer.alloc(bytes.length);
  own.set(bytes);
  return own;
}

/**
 * An allocator of zero-filled memory cut from slabs of its own, used for nothing else: one
 * allocation per slab rather than per value, and no neighbours from Node's shared pool. A request
 * over a quarter of a slab gets memory of its own.
 */
export function slabAllocator(slabBytes = 16 * 1024): (bytes: number) => Buffer {
  let slab = Buffer.alloc(0);
  let used = 0;
  return (bytes) => {
    if (bytes > slabBytes / 4) return Buffer.alloc(bytes);
    if (used + bytes > slab.length) {
      slab = Buffer.alloc(slabBytes);
      used = 0;
    }
    return slab.subarray(used, (used += bytes));
  };
}

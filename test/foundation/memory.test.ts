/**
 * Memory for plaintext and keys (src/bson/memory.ts): never a slice of Node's shared buffer pool,
 * whose other slices become ObjectIds and Binaries that command listeners and the application see.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { ownCopy, slabAllocator, wipe } from '../../src/bson/memory';

/** The ArrayBuffer Node's pool currently cuts small buffers from. */
const pool = () => Buffer.allocUnsafe(1).buffer;

test('slab allocations are zero-filled, never overlap, and never come from the shared pool', (t) => {
  fc.assert(fc.property(fc.array(fc.nat(6000), { minLength: 1, maxLength: 60 }), (sizes) => {
    const allocate = slabAllocator(4096);
    const given = sizes.map((size) => allocate(size));
    given.forEach((bytes, i) => {
      t.is(bytes.length, sizes[i]);
      t.true(bytes.every((b) => b === 0));
      t.not(bytes.buffer, pool());
      bytes.fill(i + 1);
    });
    // Every allocation still holds what was written to it: none shares a byte with another.
    given.forEach((bytes, i) => t.true(bytes.every((b) => b === ((i + 1) & 0xff))));
  }), { numRuns: 100 });
});

test('ownCopy copies into memory of its own; wipe zeroes short and long buffers', (t) => {
  const pooled = Buffer.from('a pooled secret');
  const own = ownCopy(pooled);
  t.is(own.toString(), 'a pooled secret');
  t.not(own.buffer, pooled.buffer);
  t.is(own.byteLength, own.buffer.byteLength);
  for (const length of [0, 1, 255, 256, 257, 5000]) {
    const bytes = Buffer.alloc(length, 0xab);
    wipe(bytes);
    t.true(bytes.every((b) => b === 0), `${length} bytes`);
  }
});

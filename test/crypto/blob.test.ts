/**
 * inspectEncryptedBlob shares one frozen info object between values with the same clear header
 * (algorithm, key id, plaintext type). Generated sequences of headers, more distinct ones than it
 * remembers, values reused and changed in place between reads: each answer (its key id spelled as
 * a UUID and as hex, which sealedKeyHex hands the key cache) is the one read fresh
 * from the value's own bytes, as the client-side encryption specification lays the header out.
 */
import test from 'ava';
import fc from 'fast-check';
import { Binary } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';

/** The header read from scratch: byte 0 the algorithm, bytes 1–16 the key's UUID, byte 17 the BSON type. */
function reference(bytes: Uint8Array): { algorithm: string; keyId: string; keyHex: string; originalBsonType: number } | undefined {
  if (bytes.length < 18) return undefined;
  const algorithm = bytes[0] === 1 ? 'Deterministic' : bytes[0] === 2 ? 'Random' : undefined;
  if (algorithm === undefined) return undefined;
  const id = Buffer.from(bytes.subarray(1, 17));
  return { algorithm, keyId: new Binary(id, 4).toUUID().toHexString(), keyHex: id.toString('hex'), originalBsonType: bytes[17] };
}

const header = fc.record({
  algorithm: fc.constantFrom(0, 1, 2, 3),
  id: fc.constantFrom(...[0, 1, 2].map((seed) => Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 17 + seed) & 0xff)))),
  type: fc.constantFrom(1, 2, 8, 16, 18),
  tail: fc.integer({ min: 0, max: 40 }),
});

const step = fc.oneof(
  fc.record({ kind: fc.constant('new' as const), header }),
  // The last value again, one of its header bytes (or a byte after the header) changed in place.
  fc.record({ kind: fc.constant('mutate' as const), at: fc.integer({ min: 0, max: 19 }), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('short' as const), length: fc.integer({ min: 0, max: 17 }) }),
);

test('generated headers, reused and changed in place: each value reads as its own bytes say, as a frozen info', (t) => {
  let checked = 0;
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
    let last = new Binary(Buffer.alloc(18 + 16, 0), 6);
    for (const s of steps) {
      if (s.kind === 'new') {
        const bytes = Buffer.alloc(18 + s.header.tail, 0x5a);
        bytes[0] = s.header.algorithm;
        s.header.id.copy(bytes, 1);
        bytes[17] = s.header.type;
        last = new Binary(bytes, 6);
      } else if (s.kind === 'mutate') {
        if (s.at < last.buffer.length) last.buffer[s.at] ^= s.xor;
      } else {
        const value = new Binary(Buffer.alloc(s.length, 1), 6);
        if (inspectEncryptedBlob(value) !== undefined) throw new Error(`a ${s.length}-byte value read as a ciphertext`);
        continue;
      }
      const info = inspectEncryptedBlob(last);
      const expected = reference(last.buffer);
      if (JSON.stringify(info) !== JSON.stringify(expected)) throw new Error(`${Buffer.from(last.buffer.subarray(0, 18)).toString('hex')}: ${JSON.stringify(info)}, expected ${JSON.stringify(expected)}`);
      if (info !== undefined && !Object.isFrozen(info)) throw new Error('an info object that can be changed');
      checked++;
    }
  }), { numRuns: 800, seed: 1806 });
  t.true(checked > 2000, `${checked} reads checked`);
});

test('a value of another subtype is no ciphertext, whatever its header', (t) => {
  const bytes = Buffer.alloc(40, 0);
  bytes[0] = 1;
  t.truthy(inspectEncryptedBlob(new Binary(bytes, 6)));
  t.is(inspectEncryptedBlob(new Binary(bytes, 0)), undefined);
  t.is(inspectEncryptedBlob(bytes), undefined);
});

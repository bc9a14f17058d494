/**
 * Strongbox's AEAD_AES_256_CBC_HMAC_SHA_512 (src/crypto/aead.ts, hmac.ts) against a reference
 * built directly from Node's OpenSSL objects the way the client-side encryption specification
 * writes the construction: createHmac for the MAC and the deterministic IV, one aes-256-cbc
 * cipher per value. Values of every length around the block and batching boundaries, many at
 * once, with and without associated data. (Agreement with libmongocrypt itself is proven per
 * client at run time and by the security tests against ClientEncryption.)
 */
import test from 'ava';
import * as fc from 'fast-check';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { AeadKey, aeadCiphertextLength, type AeadJob, type OpenedValues } from '../../src/crypto/aead';
import { HmacSha512 } from '../../src/crypto/hmac';
import { encryptionPlaintext } from '../../src/crypto/plaintext';
import { decryptValues, encryptValues } from '../../src/crypto/valueCipher';
import { Binary, BSON, BSONRegExp, Code, Decimal128, Double, Int32, Long, ObjectId } from 'mongodb';

function al(associated: Uint8Array | undefined): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32BE((associated?.length ?? 0) * 8, 4);
  return out;
}

function reference(key: Buffer, iv: Buffer, plaintext: Buffer, associated: Buffer | undefined): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key.subarray(32, 64), iv);
  const body = Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha512', key.subarray(0, 32));
  if (associated) mac.update(associated);
  return Buffer.concat([body, mac.update(body).update(al(associated)).digest().subarray(0, 32)]);
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

test('HMAC-SHA-512 from prepared key blocks equals createHmac for keys up to a block and messages in any number of parts, short and long', (t) => {
  fc.assert(fc.property(bytes(128), fc.array(fc.oneof(bytes(300), bytes(20_000)), { maxLength: 4 }), (key, parts) => {
    const expected = createHmac('sha512', key);
    for (const part of parts) expected.update(part);
    t.is(Buffer.from(new HmacSha512(key).digest(...parts), 'latin1').toString('hex'), expected.digest('hex'));
  }), { numRuns: 300 });
  t.throws(() => new HmacSha512(Buffer.alloc(129)), { instanceOf: RangeError });
});

test('the prepared key blocks do not show in util.inspect', (t) => {
  const key = Buffer.alloc(32, 0xab);
  const mac = new HmacSha512(key);
  mac.digest(Buffer.from('a message'));
  const shown = inspect(mac, { showHidden: true, depth: 5 });
  // K ⊕ ipad and K ⊕ opad of 0xab bytes.
  for (const leaked of ['9d 9d', 'f7 f7', '157, 157', '247, 247']) t.false(shown.includes(leaked), shown);
});

test('values encrypted together (one AES call per block position) are byte for byte the reference, and decrypt to their plaintexts', (t) => {
  fc.assert(fc.property(fc.array(fc.record({ plaintext: fc.oneof(bytes(80), bytes(200)), associated: bytes(40) }), { minLength: 1, maxLength: 12 }), (values) => {
    const raw = randomBytes(96);
    const key = new AeadKey(raw);
    // Each value's associated data written just before where its IV goes, after 3 unrelated bytes.
    const jobs: AeadJob[] = values.map(({ plaintext, associated }) => {
      const out = Buffer.alloc(3 + associated.length + aeadCiphertextLength(plaintext.length));
      associated.copy(out, 3);
      randomBytes(16).copy(out, 3 + associated.length);
      return { plaintext, out, at: 3 + associated.length, associatedBytes: associated.length };
    });
    key.encryptMany(jobs);
    jobs.forEach((job, i) => t.is(job.out.subarray(job.at).toString('hex'), reference(raw, job.out.subarray(job.at, job.at + 16), values[i].plaintext, values[i].associated.length ? values[i].associated : undefined).toString('hex')));
    // Opened together, by length of associated data; then again with one tag damaged, which closes that value alone.
    for (const associatedBytes of new Set(jobs.map((job) => job.associatedBytes))) {
      const group = jobs.flatMap((job, i) => (job.associatedBytes === associatedBytes ? [{ sealed: Buffer.from(job.out.subarray(3)), plaintext: values[i].plaintext }] : []));
      const read = (opened: OpenedValues, k: number) => (opened.start[k] < 0 ? undefined : opened.plaintext.toString('hex', opened.start[k], opened.end[k]));
      const opened = key.openMany(group.map((value) => value.sealed), associatedBytes);
      group.forEach((value, k) => t.is(read(opened, k), value.plaintext.toString('hex')));
      group[0].sealed[group[0].sealed.length - 1] ^= 1;
      const damaged = key.openMany(group.map((value) => value.sealed), associatedBytes);
      group.forEach((value, k) => t.is(read(damaged, k), k === 0 ? undefined : value.plaintext.toString('hex')));
    }
  }), { numRuns: 150 });
});

test('a deterministic IV is HMAC-SHA-512 under the IV key of A ‖ AL ‖ plaintext', (t) => {
  fc.assert(fc.property(bytes(64), bytes(100), (associated, plaintext) => {
    const raw = randomBytes(96);
    const expected = createHmac('sha512', raw.subarray(64, 96)).update(associated).update(al(associated)).update(plaintext).digest().subarray(0, 16);
    const out = Buffer.alloc(20);
    new AeadKey(raw).writeDeterministicIv(out, 2, associated, plaintext);
    t.is(out.subarray(2, 18).toString('hex'), expected.toString('hex'));
    t.is(out.subarray(0, 2).toString('hex') + out.subarray(18).toString('hex'), '00000000', 'nothing written outside the IV');
  }), { numRuns: 200 });
});

test('a value whose tag, body, padding or associated data is wrong does not open', (t) => {
  const raw = randomBytes(96);
  const key = new AeadKey(raw);
  const associated = Buffer.from('associated');
  const sealed = Buffer.concat([associated, reference(raw, randomBytes(16), Buffer.from('a plaintext of some length'), associated)]);
  t.truthy(key.decrypt(sealed, associated.length));
  for (let i = 0; i < sealed.length; i++) {
    const flipped = Buffer.from(sealed);
    flipped[i] ^= 1;
    t.is(key.decrypt(flipped, associated.length), undefined, `byte ${i} flipped`);
  }
  t.is(key.decrypt(sealed, associated.length - 1), undefined, 'a shorter associated data');
  t.is(key.decrypt(sealed.subarray(0, sealed.length - 1), associated.length), undefined);
  t.is(new AeadKey(randomBytes(96)).decrypt(sealed, associated.length), undefined);
  // Without associated data, as the local KMS provider wraps a data key.
  const wrapped = key.encrypt(randomBytes(16), Buffer.from('key material'));
  t.is(key.decrypt(wrapped)?.toString(), 'key material');
  t.is(wrapped.toString('hex').length, reference(raw, wrapped.subarray(0, 16), Buffer.from('key material'), undefined).toString('hex').length);
  t.is(wrapped.toString('hex'), reference(raw, wrapped.subarray(0, 16), Buffer.from('key material'), undefined).toString('hex'));
});

test('HMAC-SHA-512 of a range and a suffix equals the HMAC of their concatenation', (t) => {
  fc.assert(fc.property(bytes(64), bytes(400), fc.nat(400), fc.nat(400), bytes(20), (key, all, a, b, suffix) => {
    const [start, end] = [Math.min(a, b, all.length), Math.min(Math.max(a, b), all.length)];
    const mac = new HmacSha512(key);
    t.is(Buffer.from(mac.digestRange(all, start, end, suffix), 'latin1').toString('hex'), createHmac('sha512', key).update(all.subarray(start, end)).update(suffix).digest('hex'));
  }), { numRuns: 200 });
});

test('values of every BSON type read together from one buffer each read back as BSON reads them alone; one damaged value sends the whole batch to libmongocrypt', (t) => {
  const value = fc.oneof(
    fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.integer().map((n) => new Int32(n)), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => Long.fromBigInt(n)),
    fc.double({ noNaN: true }).map((n) => new Double(n)), fc.boolean(), fc.date({ noInvalidDate: true }), fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(Buffer.from(b))),
    fc.uint8Array({ maxLength: 40 }).map((b) => new Binary(Buffer.from(b))), fc.tuple(fc.stringMatching(/^[a-z.*]{0,8}$/), fc.constantFrom('', 'i', 'im')).map(([p, o]) => new BSONRegExp(p, o)),
    fc.constant(Decimal128.fromString('12.345')), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }), fc.constant(new Code('x + 1')),
  );
  fc.assert(fc.property(fc.array(fc.tuple(value, fc.constantFrom('Random', 'Deterministic') as fc.Arbitrary<'Random' | 'Deterministic'>), { minLength: 1, maxLength: 12 }), fc.nat(), (items, damage) => {
    const key = new AeadKey(randomBytes(96));
    const keyId = new Binary(randomBytes(16), Binary.SUBTYPE_UUID);
    // What each value reads as when BSON reads it alone; a value BSON cannot read (a regex JavaScript refuses) leaves the batch to libmongocrypt.
    const hex = (v: unknown) => Buffer.from(BSON.serialize({ v })).toString('hex');
    let alone: string[] | undefined;
    try {
      alone = items.map(([v]) => hex(BSON.deserialize(BSON.serialize({ v })).v));
    } catch {
      alone = undefined;
    }
    const sealed = encryptValues(key, keyId, items.map(([v, algorithm]) => ({ algorithm, plaintext: encryptionPlaintext(v, 'Random') })));
    t.deepEqual(decryptValues(key, sealed)?.map(hex), alone);
    const damaged = sealed.map((s) => new Binary(Buffer.from(s.buffer), s.sub_type));
    damaged[damage % damaged.length].buffer[damaged[damage % damaged.length].buffer.length - 1] ^= 0x80;
    t.is(decryptValues(key, damaged), undefined);
  }), { numRuns: 200 });
});

/**
 * What Strongbox encrypts of a value (src/crypto/plaintext.ts): the bytes of its BSON element
 * without type and name, and the type byte; each algorithm takes exactly the types MongoDB's
 * query analyzer allows it.
 */
import test from 'ava';
import { Binary, BSON, BSONSymbol, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { encryptionPlaintext } from '../../src/crypto/plaintext';

/** The element bytes of { v: value } as BSON serialization writes them, after type byte and name. */
function serialized(value: unknown): { type: number; hex: string } {
  const doc = BSON.serialize({ v: value });
  return { type: doc[4], hex: Buffer.from(doc.subarray(7, doc.length - 1)).toString('hex') };
}

test('a string\'s plaintext is byte for byte what BSON serialization gives', (t) => {
  for (const value of ['', 'a', 'value 0001', 'é✓ – 日本語 🙂', 'x'.repeat(70_000), 'lone \ud800 surrogate']) {
    const plaintext = encryptionPlaintext(value, 'Deterministic');
    t.deepEqual({ type: plaintext.type, hex: Buffer.from(plaintext.bytes).toString('hex') }, serialized(value), value.slice(0, 12));
  }
});

test('every other type\'s plaintext is its serialized element value', (t) => {
  for (const value of [new Int32(7), Long.fromNumber(-3), new Date(5), new ObjectId(), new Binary(Buffer.from('b')), /a/i, new Double(1.5), true, { a: [1, 'x'] }, [1, 2]]) {
    const plaintext = encryptionPlaintext(value, 'Random');
    t.deepEqual({ type: plaintext.type, hex: Buffer.from(plaintext.bytes).toString('hex') }, serialized(value), String(value));
  }
});

test('Deterministic takes exactly the types the query analyzer allows; no algorithm takes null, undefined, MinKey, MaxKey', (t) => {
  const accepted: Array<[string, unknown]> = [
    ['string', 's'], ['int', new Int32(1)], ['long', Long.fromNumber(1)], ['date', new Date(0)], ['objectId', new ObjectId()],
    ['binData', new Binary(Buffer.from('b'))], ['regex', /a/], ['javascript', new Code('x')], ['symbol', new BSONSymbol('s')], ['timestamp', new Timestamp({ t: 1, i: 1 })],
  ];
  const randomOnly: Array<[string, unknown]> = [
    ['double', new Double(1.5)], ['decimal', Decimal128.fromString('1')], ['bool', true], ['object', { a: 1 }], ['array', [1]], ['javascriptWithScope', new Code('x', { a: 1 })],
  ];
  const never: Array<[string, unknown]> = [['null', null], ['undefined', undefined], ['minKey', new MinKey()], ['maxKey', new MaxKey()]];
  for (const [type, value] of accepted) {
    t.notThrows(() => encryptionPlaintext(value, 'Deterministic'), `Deterministic ${type}`);
    t.notThrows(() => encryptionPlaintext(value, 'Random'), `Random ${type}`);
  }
  for (const [type, value] of randomOnly) {
    t.throws(() => encryptionPlaintext(value, 'Deterministic'), { message: /invalid for deterministic encryption/ }, `Deterministic ${type}`);
    t.notThrows(() => encryptionPlaintext(value, 'Random'), `Random ${type}`);
  }
  for (const [type, value] of never) {
    for (const algorithm of ['Deterministic', 'Random'] as const) t.throws(() => encryptionPlaintext(value, algorithm), { message: /invalid for encryption/ }, `${algorithm} ${type}`);
  }
});

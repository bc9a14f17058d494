/**
 * The marking format Strongbox hands libmongocrypt in place of a query analyzer: the reply is
 * byte for byte the BSON of the equivalent document, and each algorithm takes exactly the types
 * MongoDB's query analyzer allows it.
 */
import test from 'ava';
import { Binary, BSON, BSONSymbol, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'mongodb';
import { intentMarking } from '../../src/crypto/intentMarking';
import { markedCommandReply } from '../../src/crypto/markedCommand';

const keyId = new Binary(new UUID().buffer, 4);

test('the marked-command reply is the BSON of { ok, result: { find, filter: { v: [markings] } }, flags }', (t) => {
  for (const count of [0, 1, 11, 250]) {
    const markings = Array.from({ length: count }, (_, i) => intentMarking(i % 2 ? `value ${i} é✓` : new Int32(i), i % 3 ? 'Random' : 'Deterministic', keyId));
    const expected = BSON.serialize({
      ok: new Int32(1),
      result: { find: 'markings', filter: { v: markings.map((m) => new Binary(Buffer.concat([Buffer.from([0]), m]), 6)) } },
      hasEncryptedPlaceholders: true,
      schemaRequiresEncryption: true,
    });
    t.is(Buffer.from(markedCommandReply('markings', markings)).toString('hex'), Buffer.from(expected).toString('hex'), `${count} markings`);
  }
});

test('a marking is { v, a, ki } with the algorithm number of the specification', (t) => {
  const doc = BSON.deserialize(intentMarking('x', 'Deterministic', keyId), { promoteValues: false });
  t.deepEqual(Object.keys(doc), ['v', 'a', 'ki']);
  t.is((doc.a as Int32).value, 1);
  t.is((BSON.deserialize(intentMarking('x', 'Random', keyId), { promoteValues: false }).a as Int32).value, 2);
  t.true(Buffer.from((doc.ki as Binary).buffer).equals(Buffer.from(keyId.buffer)));
});

test('string markings are byte for byte what BSON serialization gives', (t) => {
  for (const value of ['', 'a', 'value 0001', 'é✓ – 日本語 🙂', 'x'.repeat(70_000), 'lone \ud800 surrogate']) {
    for (const algorithm of ['Deterministic', 'Random'] as const) {
      const expected = BSON.serialize({ v: value, a: new Int32(algorithm === 'Deterministic' ? 1 : 2), ki: keyId });
      t.is(Buffer.from(intentMarking(value, algorithm, keyId)).toString('hex'), Buffer.from(expected).toString('hex'), `${algorithm} ${value.slice(0, 12)}`);
    }
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
  const never: Array<[string, unknown]> = [['null', null], ['minKey', new MinKey()], ['maxKey', new MaxKey()]];
  for (const [type, value] of accepted) {
    t.notThrows(() => intentMarking(value, 'Deterministic', keyId), `Deterministic ${type}`);
    t.notThrows(() => intentMarking(value, 'Random', keyId), `Random ${type}`);
  }
  for (const [type, value] of randomOnly) {
    t.throws(() => intentMarking(value, 'Deterministic', keyId), { message: /invalid for deterministic encryption/ }, `Deterministic ${type}`);
    t.notThrows(() => intentMarking(value, 'Random', keyId), `Random ${type}`);
  }
  for (const [type, value] of never) {
    for (const algorithm of ['Deterministic', 'Random'] as const) t.throws(() => intentMarking(value, algorithm, keyId), { message: /invalid for encryption/ }, `${algorithm} ${type}`);
  }
});

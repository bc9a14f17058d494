/**
 * The marked command the benchmark's native floor hands libmongocrypt (bench/markings.ts): the
 * reply is byte for byte the BSON of the equivalent document, so the floor times libmongocrypt
 * encrypting exactly what a query analyzer would have marked.
 */
import test from 'ava';
import { Binary, BSON, Int32, UUID } from 'mongodb';
import { intentMarking, markedCommandReply } from '../../bench/markings';

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

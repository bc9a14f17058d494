/**
 * Entities read through a cursor keep only their own document alive. The driver hands out each
 * document of a `raw` batch as a view into the whole server reply; an entity kept from a streamed
 * batch (its change-tracking snapshot, or a Binary value deserialized from that view) must not
 * keep the reply — every other document of its batch — in memory.
 */
import test from 'ava';
import { Binary, type ObjectId } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const BATCH = 10;
const PAYLOAD = 400;

@Model({ db: DB, collection: 'readings', keyAltName: 'retention' })
class Reading {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'int' }) n!: number;
  @Field() label!: string;
  @Field({ bsonType: 'binData' }) payload!: Binary;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) secret!: Random<string>;
}

let client: StrongboxClient;
test.before(async () => {
  client = await testClient([Reading]);
  await client.repository(Reading).insertMany(Array.from({ length: 3 * BATCH }, (_, n) => Object.assign(new Reading(), {
    n, label: `reading ${n}`, payload: new Binary(Buffer.alloc(PAYLOAD, n)), secret: `secret ${n}`,
  })));
});
test.after.always(async () => { await client?.close(); });

test.serial('a Binary value of an entity read through a cursor lies in memory of its own document, not in the batch\'s reply', async (t) => {
  const kept: Reading[] = [];
  for await (const batch of client.repository(Reading).find({}, { batchSize: BATCH, sort: { n: 1 } }).batches()) {
    t.is(batch.length, BATCH);
    kept.push(...batch);
  }
  t.is(kept.length, 3 * BATCH);
  for (const reading of kept) {
    t.is(reading.secret, `secret ${reading.n}`);
    t.deepEqual([...reading.payload.buffer], Array.from({ length: PAYLOAD }, () => reading.n));
    // The memory under the value: one document (the payload plus a few short fields), where a
    // view into the reply would span the whole batch of BATCH such documents.
    const underlying = reading.payload.buffer.buffer.byteLength;
    t.true(underlying < 2 * PAYLOAD, `the payload of reading ${reading.n} lies in ${underlying} bytes of memory (a batch is over ${BATCH * PAYLOAD})`);
  }
});

test.serial('an entity kept from a streamed batch saves its change and keeps its other values', async (t) => {
  let kept: Reading | undefined;
  for await (const batch of client.repository(Reading).find({}, { batchSize: BATCH, sort: { n: 1 } }).batches()) kept ??= batch[3];
  kept!.label = 'relabelled';
  await client.repository(Reading).save(kept!);
  const again = await client.repository(Reading).findOne({ n: 3 });
  t.is(again?.label, 'relabelled');
  t.is(again?.secret, 'secret 3');
  t.deepEqual([...again!.payload.buffer], Array.from({ length: PAYLOAD }, () => 3));
});

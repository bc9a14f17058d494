/*
 * A backfill encrypts each batch it reads in one libmongocrypt encryption context: N documents
 * cost ceil(N / batchSize) contexts, not one per value. Counted on a client of its own, so no
 * other test file's commands are counted with it; its tests run one at a time for the same reason.
 */
import test from 'ava';
import type { ObjectId } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { isEncryptedBinary } from '../../src/crypto/blob';
import { Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'people' })
class Person {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'backfill-contexts' }) ssn!: Random<string>;
}

let client: StrongboxClient;
test.before(async () => { client = await testClient([Person]); });
test.after.always(async () => { await client?.close(); });

for (const [documents, batchSize] of [[23, 5], [20, 5], [7, 1000]] as const) {
  test.serial(`encrypting ${documents} documents in batches of ${batchSize} takes ${Math.ceil(documents / batchSize)} encryption context${Math.ceil(documents / batchSize) === 1 ? '' : 's'}`, async (t) => {
    const collection = `people_${documents}_${batchSize}`;
    const raw = await rawClient();
    try {
      const people = raw.db(DB).collection(collection);
      await people.insertMany(Array.from({ length: documents }, (_, i) => ({ name: `person ${i}`, ssn: `ssn-${i}` })));
      // The data key is made first: creating it is key management, not a context of the backfill.
      await client.keyVault.ensureDataKey('backfill-contexts');
      const migration = defineLoadedMigration('20250101T000000_contexts', {
        up: [{ op: 'encryptField', namespace: `${DB}.${collection}`, path: 'ssn', algorithm: 'Random', key: { altName: 'backfill-contexts' } }],
        down: [],
      });
      const before = client.engine.commands.batches;
      await new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_${collection}`, batchSize }, out: () => undefined }).up();
      t.is(client.engine.commands.batches - before, Math.ceil(documents / batchSize));
      const stored = await people.find().toArray();
      t.is(stored.length, documents);
      t.true(stored.every((d) => isEncryptedBinary(d.ssn)), 'every value was encrypted');
    } finally {
      await raw.close();
    }
  });
}

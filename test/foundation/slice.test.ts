import test from 'ava';
import { BSON, Binary, type ObjectId } from 'mongodb';
import { Deterministic, Encrypted, Field, Id, Model, Random } from '../../src/metadata';
import { rawClient, testClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import type { StrongboxClient } from '../../src/client/strongboxClient';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'patients' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'slice-key' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'slice-key' }) ssn!: Random<string>;
}

const PHONE = '+1-555-0100';
const SSN = '123-45-6789';
let client: StrongboxClient;
let id: ObjectId;

test.before(async (t) => {
  t.log(`server: ${(await testServer()).description}`);
  client = await testClient([Patient]);
  const saved = await client.repository(Patient).insertOne({ name: 'John Doe', phone: PHONE, ssn: SSN });
  id = saved._id;
});
test.after.always(async () => { await client?.close(); });

test('a document with a Deterministic and a Random field round-trips over TLS', async (t) => {
  const found = await client.repository(Patient).findOne({ phone: PHONE });
  t.truthy(found, 'equality on the Deterministic field finds the document');
  t.true(found instanceof Patient);
  t.deepEqual([found!.name, found!.phone, found!.ssn], ['John Doe', PHONE, SSN]);
  t.is(await client.repository(Patient).findOne({ phone: '+1-555-0199' }), null, 'a different phone matches nothing');
});

test('the server stores BinData subtype 6 and the plaintext appears nowhere', async (t) => {
  const raw = await rawClient();
  try {
    const stored = await raw.db(DB).collection('patients').findOne({ _id: id });
    t.truthy(stored);
    for (const field of ['phone', 'ssn']) {
      t.true(stored![field] instanceof Binary, `${field} is binary`);
      t.is((stored![field] as Binary).sub_type, 6, `${field} is subtype 6`);
    }
    t.is((stored!.phone as Binary).buffer[0], 1, 'phone carries the Deterministic marker');
    t.is((stored!.ssn as Binary).buffer[0], 2, 'ssn carries the Random marker');
    const bytes = Buffer.from(BSON.serialize(stored!));
    t.is(bytes.indexOf(PHONE), -1);
    t.is(bytes.indexOf(SSN), -1);
    t.true(bytes.indexOf('John Doe') >= 0, 'the plain field is stored as is (the check can see plaintext)');
  } finally {
    await raw.close();
  }
});

test('the data key was created by alt name in the key vault, with a unique index on keyAltNames', async (t) => {
  const keys = await client.keyVault.collection.find({ keyAltNames: 'slice-key' }).toArray();
  t.is(keys.length, 1);
  t.is(keys[0].masterKey.provider, 'local');
  const indexes = await client.keyVault.collection.listIndexes().toArray();
  const index = indexes.find((i) => i.key.keyAltNames === 1);
  t.truthy(index);
  t.true(index!.unique);
});

import test from 'ava';
import type { ObjectId } from 'mongodb';
import { ConfigError, ModelDefinitionError } from '../../src/errors';
import { Deterministic, Encrypted, Field, Id, Index, MetadataRegistry, Model, Random } from '../../src/metadata';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'patients', keyAltName: 'idx' })
class Patient {
  @Id() _id!: ObjectId;
  @Index() @Field() name!: string;
  @Index({ unique: true }) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) ssn!: Deterministic<string>;
}

@Model({ db: DB, collection: 'visits' })
class Visit {
  @Id() _id!: ObjectId;
  @Index({ name: 'by_day', direction: -1 }) @Field() day!: string;
}

const names = async (collection: string) => {
  const raw = await rawClient();
  try {
    return (await raw.db(DB).collection(collection).listIndexes().toArray().catch(() => [])).map((i) => i.name as string).sort();
  } finally { await raw.close(); }
};

test.serial('syncIndexes: dryRun reports, a run creates the missing indexes, extra ones are dropped only with dropExtra', async (t) => {
  const raw = await rawClient();
  try { await raw.db(DB).collection('patients').createIndex({ legacy: 1 }, { name: 'legacy_1' }); } finally { await raw.close(); }
  const client = await testClient([Patient, Visit]);
  try {
    const plan = await client.syncIndexes({ dryRun: true });
    t.true(plan.dryRun);
    t.deepEqual(plan.created.map((c) => `${c.namespace}:${c.name}`).sort(), [`${DB}.patients:name_1`, `${DB}.patients:ssn_1`, `${DB}.visits:by_day`]);
    t.deepEqual(plan.extra.map((c) => c.name), ['legacy_1']);
    t.deepEqual(await names('patients'), ['_id_', 'legacy_1'], 'a dry run changes nothing');

    const run = await client.syncIndexes();
    t.is(run.created.length, 3);
    t.deepEqual(run.dropped, [], 'extra indexes stay without dropExtra');
    t.deepEqual(await names('patients'), ['_id_', 'legacy_1', 'name_1', 'ssn_1']);
    t.deepEqual(await names('visits'), ['_id_', 'by_day']);

    const again = await client.syncIndexes({ dropExtra: true });
    t.deepEqual(again.created, []);
    t.is(again.unchanged.length, 3);
    t.deepEqual(again.dropped.map((c) => c.name), ['legacy_1']);
    t.deepEqual(await names('patients'), ['_id_', 'name_1', 'ssn_1']);
  } finally { await client.close(); }
});

test.serial('a unique index on a Deterministic field enforces uniqueness of the plaintext', async (t) => {
  const client = await testClient([Patient, Visit], { autoIndex: true });
  try {
    const patients = client.repository(Patient);
    await patients.insertOne({ name: 'A', ssn: '123-45-6789' });
    await patients.insertOne({ name: 'B', ssn: '987-65-4321' });
    const duplicate = await t.throwsAsync(() => patients.insertOne({ name: 'C', ssn: '123-45-6789' }));
    t.regex(String(duplicate?.message), /duplicate key|E11000/i);
    t.is(await patients.count({ ssn: '123-45-6789' }), 1);
  } finally { await client.close(); }
});

test('autoIndex is refused in production', async (t) => {
  await t.throwsAsync(() => testClient([Patient], { autoIndex: true, environment: 'production' }), { instanceOf: ConfigError, message: /autoIndex is for development/ });
});

test('a unique (or any) index on a Random field is refused when the model is defined, with the reason', (t) => {
  @Model({ db: DB, collection: 'bad', keyAltName: 'idx' })
  class Bad {
    @Id() _id!: ObjectId;
    @Index({ unique: true }) @Encrypted({ algorithm: 'Random', bsonType: 'string' }) taxid!: Random<string>;
  }
  const error = t.throws(() => new MetadataRegistry([Bad]), { instanceOf: ModelDefinitionError });
  t.regex(error!.message, /Random-encrypted: every write produces a different ciphertext/);
});

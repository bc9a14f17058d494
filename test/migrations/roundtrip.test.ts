import test from 'ava';
import { Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { auditModel } from '../../src/audit/audit';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { inspectEncryptedBlob, isEncryptedBinary } from '../../src/crypto/blob';
import { MetadataRegistry } from '../../src/metadata';
import { diffSnapshots } from '../../src/migrations/differ';
import { MigrationRunner } from '../../src/migrations/runner';
import { emptySnapshot, takeSnapshot } from '../../src/migrations/snapshot';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { exactBson, lines, loaded } from './helpers';
import { encryptedModels, plainModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient: PlainPatient } = plainModels(DB);
const { Patient } = encryptedModels(DB);

function patient(i: number): Document {
  const id = i % 3 === 0 ? new ObjectId() : i % 3 === 1 ? `p-${i}` : new Int32(i);
  return {
    _id: id, name: `Patient ${i}`, tenant: `tenant-${i % 4}`, ssn: `123-45-${String(i).padStart(4, '0')}`, phone: `+1-555-${i}`,
    score: new Double(i % 2 ? i + 0.25 : i),
    address: { street: `${i} Main St`, zip: new Int32(10_000 + i) },
    contacts: i % 5 === 0 ? [] : [{ label: 'home', email: `p${i}@home.test` }, { label: 'work', email: `p${i}@work.test` }],
    medical: { blood: 'A+', weight: new Double(70), history: [new Int32(1), Long.fromNumber(2), new Double(3)] },
    notes: `note ${i}`,
  };
}

/** Shapes a backfill must leave alone: missing fields, nulls. */
const SPARSE: Document[] = [
  { _id: 'sparse-1', name: 'No secrets', tenant: 'tenant-0' },
  { _id: 'sparse-2', name: 'Nulls', tenant: 'tenant-1', ssn: null, phone: null, address: { street: 'x' }, contacts: [{ label: 'none' }], medical: null },
];

let client: StrongboxClient;
let original: Document[];

test.before(async () => {
  client = await testClient([Patient]);
  const raw = await rawClient();
  try {
    original = [...Array.from({ length: 40 }, (_, i) => patient(i)), ...SPARSE];
    await raw.db(DB).collection('patients').insertMany(original);
    original = await raw.db(DB).collection('patients').find({}, { promoteValues: false }).toArray();
  } finally {
    await raw.close();
  }
});
test.after.always(async () => { await client?.close(); });

test('generated up encrypts every shape of path in place and down restores the data byte for byte', async (t) => {
  const plain = takeSnapshot(new MetadataRegistry([PlainPatient]));
  const encrypted = takeSnapshot(new MetadataRegistry([Patient]));
  const migrations = [
    loaded('20250101T000000_patients', diffSnapshots(emptySnapshot(), plain)),
    loaded('20250102T000000_encrypt', diffSnapshots(plain, encrypted)),
  ];
  const output = lines();
  // A small batch size, so the 42 documents with three kinds of _id take several batches.
  const runner = new MigrationRunner(client, { migrations, settings: { database: `${DB}_sb`, batchSize: 7 }, out: output.out });

  await runner.up();
  t.log(output.text());
  const raw = await rawClient();
  try {
    const collection = raw.db(DB).collection('patients');
    const stored = await collection.find({}, { promoteValues: false }).toArray();
    t.is(stored.length, original.length, 'no document lost or added');
    const p7 = stored.find((d) => (d._id as unknown) === 'p-7')!;
    for (const value of [p7.ssn, p7.phone, p7.score, p7.address.zip, p7.contacts[0].email, p7.contacts[1].email, p7.medical, p7.notes]) {
      t.true(isEncryptedBinary(value));
    }
    t.is(inspectEncryptedBlob(p7.phone)!.algorithm, 'Deterministic');
    t.is(inspectEncryptedBlob(p7.score)!.originalBsonType, 1, 'the double stays a double inside the ciphertext');
    t.is(p7.address.street, '7 Main St', 'plain fields beside encrypted ones are untouched');
    const sparse = stored.find((d) => (d._id as unknown) === 'sparse-2')!;
    t.is(sparse.ssn, null, 'null stays null (nothing to encrypt)');
    t.deepEqual(sparse.contacts, [{ label: 'none' }]);

    const audit = await auditModel(client, Patient);
    t.true(audit.consistent, JSON.stringify(audit.paths.filter((p) => p.plaintext || p.mismatch.key || p.mismatch.algorithm)));
    const notes = audit.paths.find((p) => p.path === 'notes')!;
    t.is(notes.keys.length, 4, 'one key per tenant, from the per-document key pointer');

    const read = await client.repository(Patient).find({}).toArray();
    t.is(read.length, original.length);
    const one = read.find((p) => (p._id as unknown) === 'p-7')!;
    t.is(one.ssn, '123-45-0007');
    t.is(one.contacts[1].email, 'p7@work.test');
    t.is(one.medical.blood, 'A+');
    t.is(await client.repository(Patient).count({ phone: '+1-555-7' }), 1, 'Deterministic equality works on backfilled values');

    const again = lines();
    await new MigrationRunner(client, { migrations, settings: { database: `${DB}_sb` }, out: again.out }).up();
    t.regex(again.text(), /Nothing to apply/);

    await t.throwsAsync(runner.down(), { code: 'MIGRATION_DESTRUCTIVE' }, 'decrypting needs permission');
    await runner.down({ allowDestructive: true });
    const restored = await collection.find({}, { promoteValues: false }).toArray();
    t.deepEqual(exactBson(restored), exactBson(original), 'every document is byte-identical to the original');
    t.deepEqual((await runner.status()).map((s) => s.state), ['applied', 'pending']);
  } finally {
    await raw.close();
  }
});

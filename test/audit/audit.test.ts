/*
 * The audit reads what is really stored: the silent inconsistency the MongoDB manual's CSFLE page warns about (one
 * client writing Random where the model says Deterministic, another using another key) shows
 * up per path, and a repair migration built from the report fixes what re-encryption can fix.
 */
import test from 'ava';
import { Int32, ObjectId } from 'mongodb';
import { auditModel } from '../../src/audit/audit';
import { formatAudit } from '../../src/audit/format';
import { repairPlan } from '../../src/migrations/repair';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { MigrationRunner } from '../../src/migrations/runner';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { loaded } from '../migrations/helpers';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'customers' })
class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'audit-a' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'audit-a' }) ssn!: Random<string>;
}

let client: StrongboxClient;
test.before(async () => { client = await testClient([Customer]); });
test.after.always(async () => { await client?.close(); });

test('audit counts plaintext, Deterministic and Random per path, names the keys and flags every disagreement', async (t) => {
  const repo = client.repository(Customer);
  await repo.insertMany(Array.from({ length: 10 }, (_, i) => ({ name: `ok ${i}`, email: `ok${i}@example.test`, ssn: `ssn-${i}` })));
  const keyA = await client.keyVault.ensureDataKey('audit-a');
  const keyB = await client.keyVault.ensureDataKey('audit-b');
  const raw = await rawClient();
  const misfits = {
    plaintext: new ObjectId(), random: new ObjectId(), otherKey: new ObjectId(), otherType: new ObjectId(), stray: new ObjectId(),
  };
  try {
    await raw.db(DB).collection('customers').insertMany([
      // An application that never encrypted.
      { _id: misfits.plaintext, name: 'plain', email: 'plain@example.test', ssn: 'ssn-plain' },
      // A client configured with Random for email: equality queries silently miss it.
      { _id: misfits.random, name: 'random', email: await client.engine.encrypt('random@example.test', 'Random', keyA), ssn: await client.engine.encrypt('x', 'Random', keyA) },
      // A client using another key.
      { _id: misfits.otherKey, name: 'other key', email: await client.engine.encrypt('key@example.test', 'Deterministic', keyB), ssn: await client.engine.encrypt('x', 'Random', keyB) },
      // A number where the model says string.
      { _id: misfits.otherType, name: 'other type', email: await client.engine.encrypt(new Int32(42), 'Deterministic', keyA) },
      // Ciphertext where the model expects plaintext.
      { _id: misfits.stray, name: await client.engine.encrypt('stray', 'Random', keyA) },
    ]);
  } finally {
    await raw.close();
  }

  const report = await auditModel(client, Customer);
  const email = report.paths.find((p) => p.path === 'email')!;
  const ssn = report.paths.find((p) => p.path === 'ssn')!;
  t.is(report.documents, 15);
  t.false(report.consistent);
  t.deepEqual([email.plaintext, email.deterministic, email.random, email.absent], [1, 12, 1, 1]);
  t.deepEqual(email.mismatch, { algorithm: 1, key: 1, type: 1 });
  t.deepEqual([ssn.plaintext, ssn.deterministic, ssn.random, ssn.absent], [1, 0, 12, 2]);
  t.deepEqual(ssn.mismatch, { algorithm: 0, key: 1, type: 0 });
  t.deepEqual(email.keys.map((k) => [k.altNames[0], k.count, k.inKeyVault]), [['audit-a', 12], ['audit-b', 1]].map(([n, c]) => [n, c, true]));
  t.deepEqual(new Set(email.examples), new Set([misfits.plaintext, misfits.random, misfits.otherKey, misfits.otherType].map((id) => id.toHexString())));
  t.deepEqual(report.unexpected, [{ path: 'name', count: 1, examples: [misfits.stray.toHexString()] }], 'ciphertext in a plain field is reported with its document id');

  const text = formatAudit(report).join('\n');
  t.log(text);
  t.regex(text, /email\s+Deterministic string, key 'audit-a'\s+1\s+12\s+1\s+1\s+1 other algorithm, 1 other key, 1 other type/);
  t.regex(text, new RegExp(`ciphertext where the model expects none: name \\(1 document\\(s\\), e\\.g\\. _id ${misfits.stray.toHexString()}\\)`));
  t.regex(text, /Inconsistent: 2 plaintext value\(s\)/);

  // The repair: re-encrypt what disagrees, through an ordinary migration.
  const plan = repairPlan(report);
  t.deepEqual(plan.up.map((s) => s.operation), [
    { op: 'encryptField', namespace: `${DB}.customers`, path: 'email', algorithm: 'Deterministic', bsonType: 'string', key: { altName: 'audit-a' } },
    { op: 'encryptField', namespace: `${DB}.customers`, path: 'ssn', algorithm: 'Random', key: { altName: 'audit-a' } },
  ]);
  t.true(plan.notes.some((n) => /another type than declared/.test(n)));
  await new MigrationRunner(client, { migrations: [loaded('20250101T000000_repair', plan)], settings: { database: `${DB}_sb` } }).up();

  const after = await auditModel(client, Customer);
  const emailAfter = after.paths.find((p) => p.path === 'email')!;
  t.deepEqual([emailAfter.plaintext, emailAfter.random, emailAfter.mismatch.algorithm, emailAfter.mismatch.key], [0, 0, 0, 0]);
  t.is(emailAfter.mismatch.type, 1, 'a wrong type cannot be fixed by re-encryption and stays flagged');
  t.is(after.paths.find((p) => p.path === 'ssn')!.mismatch.key, 0);
  const found = await client.repository(Customer).findOne({ email: 'random@example.test' });
  t.is(found?.name, 'random', 'the value written Random is found by equality now');
});

test('ciphertext under a key missing from the key vault is reported as such', async (t) => {
  @Model({ db: DB, collection: 'orphans' })
  class Orphan {
    @Id() _id!: ObjectId;
    @Encrypted({ algorithm: 'Random', keyAltName: 'audit-orphan' }) secret!: Random<string>;
  }
  const own = await testClient([Orphan]);
  try {
    await own.repository(Orphan).insertOne({ secret: 'gone soon' });
    const id = (await own.keyVault.findKeyId('audit-orphan'))!;
    await own.encryption.deleteKey(id);
    const report = await auditModel(own, Orphan);
    const [path] = report.paths;
    t.deepEqual(path.keys, [{ id: id.toUUID().toHexString(), altNames: [], count: 1, inKeyVault: false }]);
    t.is(path.mismatch.key, 1, 'the model\'s key no longer exists, so the value is under another key');
    t.regex(formatAudit(report).join('\n'), /NOT IN THE KEY VAULT/);
  } finally {
    await own.close();
  }
});

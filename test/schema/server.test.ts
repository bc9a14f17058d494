import test from 'ava';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { buildValidator } from '../../src/schema';
import { Employee as SeedEmployee } from '../../examples/models/employee';
import { Model } from '../../src/metadata';
import { rawClient, testClient } from '../harness/client';
import { requires, uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
/** The CSFLE manual's hr.employees model, stored in this test's own database. */
@Model({ db: DB, collection: 'employees' })
class Employee extends SeedEmployee {}

let client: StrongboxClient;
test.before(async () => { client = await testClient([Employee]); });
test.after.always(async () => { await client?.close(); });

requires('validators')('the generated validator makes the server reject plaintext in enforced fields', async (t) => {
  const validator = buildValidator(client.registry.get(Employee), await client.ensureDataKeys());
  const db = client.dataClient.db(DB);
  await db.collection('employees').drop().catch(() => undefined);
  await db.createCollection('employees', { validator });
  const raw = await rawClient();
  try {
    const err = await t.throwsAsync(raw.db(DB).collection('employees').insertOne({ fname: 'A', lname: 'B', taxid: '123-45-6789', 'taxid-short': '6789' }));
    t.is((err as { code?: number }).code, 121, 'DocumentValidationFailure');
    t.is(await raw.db(DB).collection('employees').countDocuments(), 0);
  } finally { await raw.close(); }
  await client.repository(Employee).insertOne({ fname: 'A', lname: 'B', taxid: '123-45-6789', 'taxid-short': '6789' });
  t.is((await client.repository(Employee).findOne({ 'taxid-short': '6789' }))?.taxid, '123-45-6789', 'Strongbox writes satisfy the validator');
});

test('on every server: Strongbox writes what the validator demands (subtype 6 in both enforced fields)', async (t) => {
  await client.repository(Employee).insertOne({ fname: 'C', lname: 'D', taxid: '987-65-4321', 'taxid-short': '4321' });
  const raw = await rawClient();
  try {
    const doc = await raw.db(DB).collection('employees').findOne({ fname: 'C' });
    t.is(doc?.taxid?.sub_type, 6);
    t.is(doc?.['taxid-short']?.sub_type, 6);
    t.is(doc?.taxid?.buffer[0], 2, 'taxid Random as the validator says');
    t.is(doc?.['taxid-short']?.buffer[0], 1, 'taxid-short Deterministic as the validator says');
  } finally { await raw.close(); }
});

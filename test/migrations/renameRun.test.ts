/*
 * A generated rename applied against the real server: the per-document key's field and an
 * encrypted field are renamed; the new model reads every value (the ciphertext moved as it was,
 * and the key pointer follows the renamed field), and the indexes follow the new name.
 */
import test from 'ava';
import { MetadataRegistry } from '../../src/metadata';
import { Encrypted, Field, Id, Index, Model, RenamedFrom, type Deterministic, type Random } from '../../src/metadata';
import { diffSnapshots } from '../../src/migrations/differ';
import { declaredRenames } from '../../src/migrations/fieldTypes';
import { MigrationRunner } from '../../src/migrations/runner';
import { takeSnapshot } from '../../src/migrations/snapshot';
import { masterKeyFile, rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { loaded } from './helpers';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'staff' })
class StaffBefore {
  @Id() _id!: string;
  @Index() @Field() fullName!: string;
  @Field() employeeNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) salary!: Random<number>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'staff' }) ssn!: Deterministic<string>;
}

@Model({ db: DB, collection: 'staff' })
class StaffAfter {
  @Id() _id!: string;
  @Index() @RenamedFrom('fullName') @Field() name!: string;
  @RenamedFrom('employeeNo') @Field() staffNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/staffNo' }) salary!: Random<number>;
  @RenamedFrom('ssn') @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'staff' }) taxId!: Deterministic<string>;
}

test('renames run: per-document key pointer and encrypted field follow; the new model reads everything', async (t) => {
  const keyFile = masterKeyFile();
  const keyVault = { namespace: `${DB}_keys.__keyVault` };
  const old = await testClient([StaffBefore], { kms: { local: { keyFile } }, keyVault });
  try {
    await old.repository(StaffBefore).insertMany(Array.from({ length: 12 }, (_, i) => ({ _id: `s${i}`, fullName: `Person ${i}`, employeeNo: `E${i % 3}`, salary: 1000 + i, ssn: `ssn-${i}` })));
  } finally {
    await old.close();
  }
  const plan = diffSnapshots(takeSnapshot(new MetadataRegistry([StaffBefore])), takeSnapshot(new MetadataRegistry([StaffAfter])), declaredRenames(new MetadataRegistry([StaffAfter])));
  t.false(plan.up.some((s) => s.operation.op === 'encryptField'), 'nothing is re-encrypted');
  const client = await testClient([StaffAfter], { kms: { local: { keyFile } }, keyVault });
  try {
    await new MigrationRunner(client, { migrations: [loaded('20250701T000000_rename_staff', plan)], settings: { database: `${DB}_sb` } }).up({ allowDestructive: true });
    const staff = await client.repository(StaffAfter).find({}, { sort: { _id: 1 } }).toArray();
    t.is(staff.length, 12);
    for (const s of staff) {
      const i = Number(s._id.slice(1));
      t.deepEqual([s.name, s.staffNo, s.salary, s.taxId], [`Person ${i}`, `E${i % 3}`, 1000 + i, `ssn-${i}`]);
    }
    t.is((await client.repository(StaffAfter).findOne({ taxId: 'ssn-4' }))?._id, 's4', 'the Deterministic value is still findable under its new name');
    const raw = await rawClient();
    try {
      const indexes = (await raw.db(DB).collection('staff').indexes()).map((ix) => ix.name).sort();
      t.deepEqual(indexes, ['_id_', 'name_1']);
      t.is(await raw.db(DB).collection('staff').countDocuments({ $or: [{ fullName: { $exists: true } }, { employeeNo: { $exists: true } }, { ssn: { $exists: true } }] }), 0);
    } finally {
      await raw.close();
    }
  } finally {
    await client.close();
  }
});

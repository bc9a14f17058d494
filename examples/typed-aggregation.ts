/**
 * Typed aggregation (`node dist/examples/typed-aggregation.js` after `npm run build`): each stage
 * is checked against the documents the stages before it produce, and the result type follows the
 * pipeline. Patients carry a Deterministic phone and a Random ssn; the lines marked "compile
 * error" show what the types refuse (each is also refused at run time).
 */
import type { ObjectId } from 'mongodb';
import { ArrayField, createClient, Deterministic, Encrypted, Field, Id, Model, Random } from '../src';
import { exampleConnection } from './support/connection';

@Model({ db: 'clinic_example', collection: 'patients', keyAltName: 'clinic' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field() city!: string;
  @ArrayField({ of: 'string' }) tags!: string[];
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const clinic = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, models: [Patient] });
  try {
    const patients = clinic.repository(Patient);
    await patients.deleteMany({});
    await patients.insertMany([
      { name: 'Ada', city: 'London', tags: ['math', 'poetry'], phone: '555-0001', ssn: '100-00-0001' },
      { name: 'Grace', city: 'Arlington', tags: ['navy', 'cobol'], phone: '555-0002', ssn: '100-00-0002' },
      { name: 'Alan', city: 'London', tags: ['math'], phone: '555-0003', ssn: '100-00-0003' },
    ]);

    // { _id: string; n: number }[]
    const perCity = await patients.aggregate([{ $group: { _id: '$city', n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }]).toArray();
    console.log('patients per city:', perCity.map((row) => `${row._id}: ${row.n}`).join(', '));

    // { name: string; ssn: string }[]: the Deterministic phone is matched encrypted, the Random ssn comes back decrypted
    const [grace] = await patients.aggregate([{ $match: { phone: '555-0002' } }, { $project: { _id: 0, name: 1, ssn: 1 } }]).toArray();
    console.log(`the patient with phone 555-0002: ${grace.name}, ssn ${grace.ssn}`);

    // { _id: string; n: number }[] after $unwind turned tags into strings
    const perTag = await patients.aggregate([{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }, { $limit: 1 }]).toArray();
    console.log(`most common tag: ${perTag[0]._id} (${perTag[0].n})`);

    // { londoners: number }[]
    const [counted] = await patients.aggregate([{ $match: { city: 'London' } }, { $count: 'londoners' }]).toArray();
    console.log(`patients in London: ${counted.londoners}`);

    // Compile errors (uncomment to see them):
    // patients.aggregate([{ $sort: { phone: 1 } }]);            ciphertext order says nothing about plaintext order
    // patients.aggregate([{ $group: { _id: '$ssn' } }]);         the server cannot group by an encrypted value
    // patients.aggregate([{ $project: { p: '$phone' } }, { $sort: { p: 1 } }]);   p still holds the phone's ciphertext
    try {
      // A Document[] pipeline is not checked by the types, but still by the run time, before anything is sent.
      const untyped: import('mongodb').Document[] = [{ $sort: { phone: 1 } }];
      await patients.aggregate(untyped).toArray();
    } catch (err) {
      console.log(`untyped pipeline refused at run time: ${(err as Error).message.split(':')[0]}`);
    }
  } finally {
    await clinic.close();
    await connection.stop();
  }
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });

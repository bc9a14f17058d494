/**
 * Change streams (`node dist/examples/watch.js` after `npm run build`).
 *
 * Runs only against a MongoDB replica set or sharded cluster: set MONGODB_URI (with the TLS
 * options your server needs). Change streams need the oplog, which a standalone server and the
 * embedded FerretDB do not have; without MONGODB_URI this example says so and exits.
 *
 * It watches the inserts and updates of one patient, chosen by an encrypted (Deterministic)
 * field: the `$match` on `fullDocument.phone` is encrypted like a filter on `phone`, and each
 * event arrives with `fullDocument` decrypted into a Patient and updated values decrypted.
 */
import type { ObjectId } from 'mongodb';
import { createClient, Deterministic, Encrypted, Field, Id, Model, Random } from '../src';

@Model({ db: 'watch_example', collection: 'patients', keyAltName: 'clinic' })
class Patient {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) diagnosis!: Random<string>;
}

async function main(): Promise<void> {
  const uri = process.env.MONGODB_URI;
  if (!uri) {
    console.log('examples/watch: set MONGODB_URI to a MongoDB replica set; the embedded server has no change streams.');
    return;
  }
  const clinic = await createClient({ uri, kms: { local: {} }, models: [Patient] });
  const patients = clinic.repository(Patient);
  const stream = patients.watch(
    [{ $match: { 'fullDocument.phone': '+1 555 0100', operationType: { $in: ['insert', 'update'] } } }],
    { fullDocument: 'updateLookup' },
  );
  // patients.watch([{ $match: { 'fullDocument.diagnosis': 'flu' } }])   refused: Random values cannot be compared
  // patients.watch([{ $group: { _id: '$operationType' } }])              refused: not a change-stream stage
  try {
    await stream.tryNext(); // opens the stream before the writes below
    const ada = await patients.insertOne({ name: 'Ada', phone: '+1 555 0100', diagnosis: 'flu' });
    await patients.insertOne({ name: 'Bob', phone: '+1 555 0199', diagnosis: 'cold' }); // not this phone: filtered by the server
    await patients.updateOne({ _id: ada._id }, { $set: { diagnosis: 'recovered' } });
    let seen = 0;
    for await (const event of stream) {
      if (event.operationType === 'insert') console.log(`insert: ${event.fullDocument.name}, diagnosis ${event.fullDocument.diagnosis}`);
      if (event.operationType === 'update') console.log(`update: diagnosis now ${String(event.updateDescription.updatedFields.diagnosis)} (${event.fullDocument?.name})`);
      if (++seen === 2) break; // leaving the loop closes the stream
    }
    await patients.deleteMany({});
  } finally {
    await stream.close();
    await clinic.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

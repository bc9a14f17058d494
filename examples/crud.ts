/**
 * A CRUD walkthrough on the John Doe record of the MongoDB manual's CSFLE page (`node dist/examples/crud.js` after
 * `npm run build`): every operation below encrypts phone and ssn before anything leaves the
 * process and returns decrypted Person instances. Uncomment the last lines to see what the
 * compiler refuses.
 */
import { createClient } from '../src';
import { Person } from './models/person';
import { exampleConnection } from './support/connection';

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const strongbox = await createClient({
    uri: connection.uri,
    tls: connection.tls,
    kms: { local: {} },
    models: [Person],
    queryLog: (line) => console.log(`  ${line}`),
  });
  const people = strongbox.repository(Person);
  try {
    console.log('insertMany — phone (Deterministic) and ssn (Random) are encrypted first:');
    await people.deleteMany({ name: { $in: ['John Doe', 'Jane Roe'] } });
    await people.insertMany([
      { name: 'John Doe', address: { street: '123 Main St', city: 'Springfield', zip: 12345 }, phone: '+1-555-0100', ssn: '123-45-6789' },
      { name: 'Jane Roe', address: { street: '9 Elm St', city: 'Shelbyville', zip: 67890 }, phone: '+1-555-0101', ssn: '987-65-4321' },
    ]);

    console.log('\nfindOne by phone — equality on a Deterministic field:');
    const john = await people.findOne({ phone: '+1-555-0100' });
    console.log(`  → ${john?.name}, ssn ${john?.ssn}`);

    console.log('\nupdateOne — the new ssn is encrypted too:');
    await people.updateOne({ phone: '+1-555-0100' }, { $set: { ssn: '111-22-3333', 'address.city': 'Capital City' } });

    console.log('\nupsert — inserts when nothing matches; the filter pins phone, $setOnInsert gives every other required field:');
    await people.deleteMany({ phone: '+1-555-0102' });
    const upserted = await people.upsert({ phone: '+1-555-0102' }, { $setOnInsert: { name: 'Sam Poe', address: { street: '1 Oak St', city: 'Ogdenville', zip: 24680 }, ssn: '555-44-3333' } });
    console.log(`  → inserted: ${upserted.upsertedCount === 1}`);
    // Refused at run time (INPUT_REQUIRED_MISSING, nothing sent): were nothing to match, the
    // inserted document would lack name, address and ssn.
    // people.upsert({ phone: '+1-555-0102' }, { $set: { 'address.city': 'Ogdenville' } });
    await people.deleteMany({ phone: '+1-555-0102' });

    console.log('\nfind with $in, sorted by a plain field, streamed in batches:');
    for await (const person of people.find({ phone: { $in: ['+1-555-0100', '+1-555-0101'] } }, { sort: { name: 1 }, batchSize: 1 })) {
      console.log(`  → ${person.name} lives in ${person.address.city}; ssn ${person.ssn}`);
    }

    console.log('\naggregate — $match on encrypted equality, group by a plain field:');
    const perCity = await people.aggregate([{ $match: { phone: { $in: ['+1-555-0100', '+1-555-0101'] } } }, { $group: { _id: '$address.city', n: { $sum: 1 } } }]).toArray();
    console.log(`  → ${JSON.stringify(perCity)}`);

    console.log('\ndeleteMany by phone:');
    const { deletedCount } = await people.deleteMany({ phone: { $in: ['+1-555-0100', '+1-555-0101'] } });
    console.log(`  → deleted ${deletedCount}`);

    // What does not compile (and is refused at run time for JavaScript callers):
    // people.find({ ssn: '123-45-6789' });             // Random fields cannot be queried
    // people.find({ phone: { $gt: '+1-555' } });       // Deterministic supports equality only
    // people.find({}, { sort: { phone: 1 } });         // ciphertext has no useful order
    // people.updateOne({}, { $inc: { phone: 1 } });    // no arithmetic on ciphertext
  } finally {
    await strongbox.close();
    await connection.stop();
  }
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });

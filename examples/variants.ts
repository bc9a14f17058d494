/**
 * Two classes in one collection (`node dist/examples/variants.js` after `npm run build`): a
 * discriminator field, variants with their own encrypted fields, the base repository returning
 * each document as its own class, and one schema map covering them all.
 */
import type { ObjectId } from 'mongodb';
import { createClient, Encrypted, Field, Id, Model, Variant, type Deterministic, type Random } from '../src';
import { exampleConnection } from './support/connection';

@Model({ db: 'app', collection: 'parties', keyAltName: 'parties', discriminator: 'kind' })
class Party {
  @Id() _id!: ObjectId;
  @Field() kind!: string;
  @Field() displayName!: string;
}

@Variant('person')
class Person extends Party {
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

@Variant('company')
class Company extends Party {
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) vatNumber!: Deterministic<string>;
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const strongbox = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, models: [Party, Person, Company] });
  try {
    await strongbox.repository(Party).deleteMany({});
    await strongbox.repository(Person).insertOne({ kind: 'person', displayName: 'Ada', ssn: '123-45-6789' });
    await strongbox.repository(Company).insertOne({ kind: 'company', displayName: 'Analytical Engines Ltd', vatNumber: 'GB123456789' });

    for (const party of await strongbox.repository(Party).find({}).toArray()) {
      console.log(`${party.constructor.name} ${party.displayName}:`, party instanceof Person ? `ssn ${party.ssn}` : party instanceof Company ? `VAT ${party.vatNumber}` : '');
    }
    const company = await strongbox.repository(Company).findOne({ vatNumber: 'GB123456789' });
    console.log(`the Company repository queries its encrypted field and sees only companies: ${company?.displayName}`);
    const rule = (await strongbox.schemaMap())['app.parties'] as { properties: Record<string, unknown> };
    console.log(`one schema map for the collection, with every variant's encrypted fields: ${Object.keys(rule.properties).join(', ')}`);
  } finally {
    await strongbox.close();
    await connection.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

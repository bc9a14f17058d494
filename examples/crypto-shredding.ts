/**
 * One data key per customer: deleting a customer's key makes exactly that customer's encrypted
 * data unreadable, forever, while everyone else's still reads (`node dist/examples/crypto-shredding.js`).
 */
import { ObjectId } from 'mongodb';
import { createClient, Encrypted, Field, Id, Model, Random, UndecryptableValue } from '../src';
import { deleteKey } from '../src/entries/keys';
import { exampleConnection } from './support/connection';

@Model({ db: 'shop', collection: 'customers' })
class Customer {
  @Id() _id!: ObjectId;
  @Field() customerId!: string;
  @Field() name!: string;
  // The key alt name is the value of customerId: one data key per customer.
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/customerId' }) cardNumber!: Random<string>;
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const config = { uri: connection.uri, tls: connection.tls, kms: { local: {} }, keyVault: { namespace: 'shop.__keyVault' }, models: [Customer] };
  const first = await createClient(config);
  try {
    const customers = first.repository(Customer);
    await customers.deleteMany({ customerId: { $in: ['alice', 'bob'] } });
    await customers.insertMany([
      { customerId: 'alice', name: 'Alice', cardNumber: '4111-1111-1111-1111' },
      { customerId: 'bob', name: 'Bob', cardNumber: '5500-0000-0000-0004' },
    ]);
    const impact = await deleteKey(first, { altName: 'alice' }, { confirm: true });
    console.log(`Deleted Alice's data key (she asked to be forgotten): ${impact.documents} document(s) now unreadable.`);
  } finally {
    await first.close();
  }
  // A new client: data keys are cached for 60 s inside a running client.
  const later = await createClient(config);
  try {
    for (const c of await later.repository(Customer, { onUndecryptable: 'marker' }).find({ customerId: { $in: ['alice', 'bob'] } }, { sort: { name: 1 } }).toArray()) {
      const card = c.cardNumber as unknown;
      console.log(`${c.name}: ${card instanceof UndecryptableValue ? `unreadable (${card.reason})` : String(card)}`);
    }
  } finally {
    await later.close();
    await connection.stop();
  }
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });

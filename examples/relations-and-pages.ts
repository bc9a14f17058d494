/**
 * Relations and pagination (`node dist/examples/relations-and-pages.js` after `npm run build`):
 * orders reference customers whose email is Deterministic and ssn Random; orders are read a page
 * at a time with continuation tokens, and each page's customers are loaded with one query.
 */
import type { ObjectId } from 'mongodb';
import { createClient, Deterministic, Encrypted, Field, Id, Model, Random, Ref } from '../src';
import { exampleConnection } from './support/connection';

@Model({ db: 'shop_example', collection: 'customers', keyAltName: 'shop' })
class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

@Model({ db: 'shop_example', collection: 'orders' })
class Order {
  @Id() _id!: ObjectId;
  @Field() item!: string;
  @Field({ bsonType: 'int' }) total!: number;
  @Ref(() => Customer) customer!: Ref<Customer>;
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const shop = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, models: [Customer, Order] });
  try {
    const customers = shop.repository(Customer);
    const orders = shop.repository(Order);
    await Promise.all([customers.deleteMany({}), orders.deleteMany({})]);
    const [ada, bob] = await customers.insertMany([
      { name: 'Ada', email: 'ada@example.com', ssn: '123-45-6789' },
      { name: 'Bob', email: 'bob@example.com', ssn: '987-65-4321' },
    ]);
    await orders.insertMany(Array.from({ length: 7 }, (_, i) => ({ item: `item ${i}`, total: 10 * (i % 3), customer: (i % 2 ? bob : ada)._id })));

    console.log('orders by total (descending), 3 per page, each page with its customers:');
    let page = await orders.paginate({}, { sort: { total: -1 }, limit: 3 });
    for (let n = 1; ; n++) {
      const withCustomers = await orders.populate(page.items, ['customer']); // one $in query for the page
      console.log(`  page ${n}: ${withCustomers.map((o) => `${o.item} (${o.total}) for ${o.customer?.name} <${o.customer?.email}>`).join('; ')}`);
      if (!page.next) break;
      page = await orders.paginate({}, { sort: { total: -1 }, limit: 3, after: page.next });
    }
    const back = await orders.paginate({}, { sort: { total: -1 }, limit: 3, before: page.previous! });
    console.log(`  back one page: ${back.items.map((o) => o.item).join(', ')}`);

    console.log('distinct customer emails that ordered (Deterministic, decrypted):');
    const ids = await orders.distinct('customer');
    console.log(`  ${(await customers.distinct('email', { _id: { $in: ids } })).sort().join(', ')}`);

    // orders.paginate({}, { sort: { customer: 1 }, limit: 3 })   compiles; sort by an encrypted field does not:
    // customers.paginate({}, { sort: { email: 1 }, limit: 3 });  // ciphertext order says nothing about plaintext order
    // customers.distinct('ssn');                                   // Random: one ciphertext per document
  } finally {
    await shop.close();
    await connection.stop();
  }
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });

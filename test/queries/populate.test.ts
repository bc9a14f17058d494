import test from 'ava';
import { ObjectId } from 'mongodb';
import { InvalidInputError } from '../../src/errors';
import { Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, Random, Ref } from '../../src/metadata';
import { uniqueDbName } from '../harness/server';
import { LeakWatch, secretString } from '../security/leakDetector';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'customers', keyAltName: 'crm' })
class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
}

@Model({ db: DB, collection: 'shippers' })
class Shipper {
  @Id() _id!: ObjectId;
  @Field() name!: string;
}

@Model({ db: DB, collection: 'orders', keyAltName: 'crm' })
class Order {
  @Id() _id!: ObjectId;
  @Field() item!: string;
  @Ref(() => Customer) customer!: Ref<Customer>;
  @Ref(() => Shipper, { optional: true }) shipper?: Ref<Shipper>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
}

@Model({ db: DB, collection: 'products', keyAltName: 'crm' })
class Product {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) sku!: Deterministic<string>;
}

class BillTo {
  @Field() city!: string;
  @Ref(() => Customer) customer!: Ref<Customer>;
}

class Line {
  @Field({ bsonType: 'int' }) quantity!: number;
  @Ref(() => Product) product!: Ref<Product>;
  @Ref(() => Shipper, { optional: true }) shipper?: Ref<Shipper>;
}

class Memo {
  @Field() text!: string;
  @Ref(() => Customer) author!: Ref<Customer>;
}

@Model({ db: DB, collection: 'invoices', keyAltName: 'crm' })
class Invoice {
  @Id() _id!: ObjectId;
  @Field() number!: string;
  @Embedded(() => BillTo) billTo!: BillTo;
  @EmbeddedArray(() => Line) lines!: Line[];
  @Encrypted({ algorithm: 'Random' }) @Embedded(() => Memo) memo!: Random<Memo>;
}

let watch: LeakWatch;
test.before(async () => { watch = await LeakWatch.open([Customer, Shipper, Order, Product, Invoice]); });
test.after.always(async () => { await watch?.close(); });

test.serial('populate loads each relation with one $in query for the whole batch, decrypting the targets', async (t) => {
  const customers = await watch.client.repository(Customer).insertMany([0, 1, 2].map((i) => ({ name: `C${i}`, email: secretString(100 + i), ssn: secretString(200 + i) })));
  const [shipper] = await watch.client.repository(Shipper).insertMany([{ name: 'S' }]);
  const ghost = new ObjectId();
  const orders = watch.client.repository(Order);
  await orders.insertMany(Array.from({ length: 12 }, (_, i) => ({
    item: `I${i}`, note: secretString(300 + i),
    customer: i === 11 ? ghost : customers[i % 3]._id,
    ...(i % 2 ? { shipper: shipper._id } : {}),
  })));
  const read = await orders.find({}, { sort: { item: 1 } }).toArray();
  const seen = await watch.observe(async () => {
    const populated = await orders.populate(read, ['customer', 'shipper']);
    t.is(populated.length, 12);
    const first = populated.find((o) => o.item === 'I0')!;
    t.true(first instanceof Order, 'a populated item is a copy of the instance');
    t.true(first.customer instanceof Customer);
    t.is(first.customer!.email, secretString(100));
    t.is(first.customer!.ssn, secretString(200), 'Random fields of the target are decrypted too');
    t.is(first.shipper, undefined, 'no id, nothing to load');
    t.is(populated.find((o) => o.item === 'I1')!.shipper!.name, 'S');
    t.is(populated.find((o) => o.item === 'I11')!.customer, null, 'a missing target becomes null');
    t.true(read[0].customer instanceof ObjectId, 'the items passed in are left as they were');
  });
  t.is(seen.error, undefined, String(seen.error));
  const finds = seen.dataCommands.filter((c) => c.commandName === 'find');
  t.deepEqual(finds.map((c) => c.command.find).sort(), ['customers', 'shippers'], 'one query per relation, not per document');
  t.is(finds.find((c) => c.command.find === 'customers')!.command.filter._id.$in.length, 4, 'each distinct id once');
  t.deepEqual(watch.verdict({}, seen), []);
});

test.serial('populate refuses fields that are not @Ref, before any traffic', async (t) => {
  const orders = watch.client.repository(Order);
  for (const key of ['item', 'note', 'nope']) {
    const seen = await watch.observe(() => orders.populate([], [key as never]));
    t.true(seen.error instanceof InvalidInputError, String(seen.error));
    t.regex((seen.error as Error).message, /is not a @Ref field/);
    t.is(seen.dataCommands.length, 0);
  }
  await t.throwsAsync(() => orders.populate([], ['customer'], { projection: {} } as never), { instanceOf: InvalidInputError, message: /projection is not an option/ });
});

test.serial('references inside embedded documents and arrays of them: one query per relation for the whole batch, every element populated', async (t) => {
  const [c1, c2] = await watch.client.repository(Customer).insertMany([1, 2].map((i) => ({ name: `N${i}`, email: secretString(400 + i), ssn: secretString(500 + i) })));
  const products = await watch.client.repository(Product).insertMany([0, 1, 2, 3].map((i) => ({ title: `P${i}`, sku: secretString(600 + i) })));
  const [shipper] = await watch.client.repository(Shipper).insertMany([{ name: 'nested shipper' }]);
  const gone = new ObjectId();
  const invoices = watch.client.repository(Invoice);
  await invoices.insertMany(Array.from({ length: 5 }, (_, i) => ({
    number: `INV${i}`,
    billTo: { city: 'Lyon', customer: (i % 2 ? c2 : c1)._id },
    lines: i === 4 ? [] : [
      { quantity: 1, product: products[i % 4]._id, shipper: shipper._id },
      { quantity: 2, product: i === 3 ? gone : products[(i + 1) % 4]._id },
    ],
    memo: { text: 'm', author: c1._id },
  })));
  const read = await invoices.find({}, { sort: { number: 1 } }).toArray();
  const seen = await watch.observe(async () => {
    const populated = await invoices.populate(read, ['billTo.customer', 'lines.product', 'lines.shipper']);
    const first = populated[0];
    t.true(first instanceof Invoice && first.billTo instanceof BillTo, 'copies keep their classes');
    t.is(first.billTo.customer!.email, secretString(401), 'the customer is loaded and decrypted');
    t.is(populated[1].billTo.customer!.name, 'N2');
    t.deepEqual(first.lines.map((l) => l.product!.sku), [secretString(600), secretString(601)], 'every element of the array');
    t.is(first.lines[0].shipper!.name, 'nested shipper');
    t.is(first.lines[1].shipper, undefined, 'no id, nothing to load');
    t.is(populated[3].lines[1].product, null, 'a missing target becomes null');
    t.deepEqual(populated[4].lines, []);
    t.true(read[0].billTo.customer instanceof ObjectId && read[0].lines[0].product instanceof ObjectId, 'the items passed in, and their embedded documents, are left as they were');
  });
  t.is(seen.error, undefined, String(seen.error));
  const finds = seen.dataCommands.filter((c) => c.commandName === 'find');
  t.deepEqual(finds.map((c) => c.command.find).sort(), ['customers', 'products', 'shippers'], 'one query per relation for the whole batch');
  t.is(finds.find((c) => c.command.find === 'products')!.command.filter._id.$in.length, 5, 'each distinct id once (4 products and the missing one)');
  t.deepEqual(watch.verdict({}, seen), []);

  for (const path of ['billTo.city', 'billTo.nope', 'number.customer', 'memo.author', 'lines']) {
    const refused = await watch.observe(() => invoices.populate(read, [path as never]));
    t.true(refused.error instanceof InvalidInputError, `${path}: ${String(refused.error)}`);
    t.regex((refused.error as Error).message, /is not a @Ref field/);
    t.is(refused.dataCommands.length, 0, 'refused before any traffic');
  }
});

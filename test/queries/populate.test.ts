import test from 'ava';
import { ObjectId } from 'mongodb';
import { InvalidInputError } from '../../src/errors';
import { Deterministic, Encrypted, Field, Id, Model, Random, Ref } from '../../src/metadata';
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

let watch: LeakWatch;
test.before(async () => { watch = await LeakWatch.open([Customer, Shipper, Order]); });
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

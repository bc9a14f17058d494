import test from 'ava';
import { ObjectId } from 'mongodb';
import { bindSession } from '../../src/client/transaction';
import { InvalidInputError } from '../../src/errors';
import { Deterministic, Encrypted, Field, Id, Model } from '../../src/metadata';
import { requires, uniqueDbName } from '../harness/server';
import { LeakWatch, secretString } from '../security/leakDetector';

const DB = uniqueDbName(__filename);

@Model({ db: DB, collection: 'accounts', keyAltName: 'bank' })
class Account {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Field({ bsonType: 'int' }) balance!: number;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) iban!: Deterministic<string>;
}

let watch: LeakWatch;
test.before(async () => {
  watch = await LeakWatch.open([Account]);
  // Collections must exist before a transaction writes to them on older servers.
  await watch.client.repository(Account).insertOne({ owner: 'seed', balance: 0, iban: secretString(1) });
});
test.after.always(async () => { await watch?.close(); });

requires('transactions')('withTransaction commits the work of bound repositories, and rolls all of it back on a throw', async (t) => {
  const accounts = watch.client.repository(Account);
  const [a, b] = await accounts.insertMany([{ owner: 'A', balance: 100, iban: secretString(2) }, { owner: 'B', balance: 0, iban: secretString(3) }]);
  const seen = await watch.observe(() => watch.client.withTransaction(async (tx) => {
    const repo = tx.repository(Account);
    await repo.updateOne({ iban: secretString(2) }, { $inc: { balance: -30 } });
    await repo.updateOne({ _id: b._id }, { $inc: { balance: 30 } });
    return repo.findById(a._id);
  }));
  t.is(seen.error, undefined, String(seen.error));
  const writes = seen.dataCommands.filter((c) => c.commandName === 'update');
  t.is(writes.length, 2);
  t.true(writes.every((c) => c.command.txnNumber !== undefined && c.command.lsid !== undefined), 'both writes ran in the transaction');
  t.deepEqual(watch.verdict({}, seen), []);
  t.is((await accounts.findById(a._id))!.balance, 70);
  t.is((await accounts.findById(b._id))!.balance, 30);

  await t.throwsAsync(() => watch.client.withTransaction(async (tx) => {
    await tx.repository(Account).updateOne({ _id: a._id }, { $inc: { balance: -70 } });
    throw new Error('changed my mind');
  }), { message: 'changed my mind' });
  t.is((await accounts.findById(a._id))!.balance, 70, 'rolled back');
});

test.serial('a bound repository sends the session with every call and refuses another session or calls that cannot run in a transaction', async (t) => {
  const session = watch.client.dataClient.startSession();
  try {
    const repo = bindSession(watch.client.repository(Account), session);
    const seen = await watch.observe(async () => {
      await repo.findOne({ owner: 'seed' });
      await repo.find({ owner: 'seed' }).toArray();
      await repo.count({ owner: 'seed' });
      await repo.distinct('owner');
    });
    t.is(seen.error, undefined, String(seen.error));
    const lsid = session.id!.id.toString('hex');
    t.is(seen.dataCommands.length, 4);
    t.true(seen.dataCommands.every((c) => c.command.lsid?.id?.toString('hex') === lsid), 'every command carried the bound session');
    const other = watch.client.dataClient.startSession();
    try {
      t.throws(() => repo.findOne({}, { session: other }), { instanceOf: InvalidInputError, message: /another session/ });
    } finally { await other.endSession(); }
    t.throws(() => repo.estimatedCount(), { instanceOf: InvalidInputError, message: /cannot run inside a transaction/ });
  } finally { await session.endSession(); }
});

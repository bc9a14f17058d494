/**
 * What gets stored stays what the model says (`node dist/examples/stored-types.js` after
 * `npm run build`): declared types are converted and checked on write and come back as one
 * JavaScript type; required fields are enforced; null in an optional field removes it; and
 * ciphertext only ever decrypts where the model declares it.
 */
import { Long, ObjectId } from 'mongodb';
import { createClient, Deterministic, Encrypted, Field, Id, InvalidInputError, DecryptionError, Model, Random } from '../src';
import { exampleConnection } from './support/connection';

@Model({ db: 'app', collection: 'accounts', keyAltName: 'accounts' })
class Account {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  /** A long: JavaScript numbers and bigints are stored as int64, reads return a Long. */
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'long' }) number!: Deterministic<Long | bigint | number>;
  /** Optional: null or undefined means no value (left out on insert, removed by $set). */
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) note?: Random<string>;
}

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const strongbox = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, models: [Account] });
  const accounts = strongbox.repository(Account);
  const stored = strongbox.dataClient.db('app').collection('accounts');
  try {
    await accounts.deleteMany({});
    const saved = await accounts.insertOne({ owner: 'Ada', number: 4_000_000_123, note: 'first customer' });
    const raw = (await stored.findOne({ _id: saved._id }))!;
    console.log(`number is stored as BSON type ${raw.number.buffer[17]} (18 = long) inside its ciphertext`);

    const ada = (await accounts.findOne({ number: 4_000_000_123n }))!;
    console.log(`read back as ${ada.number.constructor.name} ${String(ada.number)}; equality with a bigint, a number or the Long found it`);
    await accounts.replaceOne({ _id: ada._id }, ada);   // read-modify-write keeps the type
    console.log(`after writing the entity back: still type ${(await stored.findOne({ _id: ada._id }))!.number.buffer[17]}`);

    await accounts.updateOne({ _id: ada._id }, { $set: { note: undefined } });
    console.log(`$set of undefined (or null) into the optional note removed it: ${'note' in (await stored.findOne({ _id: ada._id }))!}`);

    for (const [what, attempt] of [
      ['a bigint beyond int64', () => accounts.insertOne({ owner: 'Bob', number: 2n ** 64n + 5n })],
      ['a missing required field', () => accounts.insertOne({ owner: 'Bob' } as never)],
      ['another document\'s ciphertext', () => accounts.insertOne({ owner: 'Eve', number: raw.number })],
    ] as const) {
      const err = await attempt().catch((e: unknown) => e);
      console.log(`${what}: ${err instanceof InvalidInputError ? `${err.code} — ${err.message}` : String(err)}`);
    }

    // Someone with write access to the database copies the ciphertext into a plain field…
    await stored.updateOne({ _id: ada._id }, { $set: { owner: raw.number } });
    const err = await accounts.findById(ada._id).catch((e: unknown) => e);
    console.log(`…and the read refuses to decrypt it there: ${err instanceof DecryptionError ? err.code : String(err)}`);
  } finally {
    await strongbox.close();
    await connection.stop();
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });

/*
 * Bad input to a conversion: a hand-written step with a target Strongbox cannot convert to is
 * refused when the migration is loaded; an encrypted value the configured keys cannot decrypt
 * stops the step with an error naming the migration, the step, the path and the document, and
 * nothing is converted twice when the run is repeated after the value is repaired.
 */
import test from 'ava';
import { UUID } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { defineLoadedMigration } from '../../src/migrations/loader';
import { MigrationRunner } from '../../src/migrations/runner';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { lines } from './helpers';

const DB = uniqueDbName(__filename);

test('a conversion to a type Strongbox cannot convert to is refused when the migration is loaded', (t) => {
  const error = t.throws(() => defineLoadedMigration('20250901T000000_flags', { up: [{ op: 'convertField', namespace: `${DB}.items`, path: 'flag', to: 'boolean' }], down: [] }), { code: 'MIGRATION_OPERATION_INVALID' } as never);
  t.regex(error!.message, /migration 20250901T000000_flags, up\[0\]: "boolean" is not a conversion target/);
  t.regex((error as { fix?: string }).fix ?? '', /'string', 'number', 'date', 'decimal', 'long', 'array'/);
});

test('an encrypted value the keys cannot decrypt stops the conversion, naming migration, step, path and document; the repaired re-run converts the rest once', async (t) => {
  const client = await testClient([]);
  const stranger = await testClient([]);
  const raw = await rawClient();
  try {
    const items = raw.db(DB).collection('items');
    const key = await client.encryption.createDataKey('local');
    const foreignKey = await stranger.encryption.createDataKey('local');
    await items.insertMany(await Promise.all(Array.from({ length: 12 }, async (_, i) => ({
      _id: `i${String(i).padStart(2, '0')}` as never,
      // i07 holds a value encrypted under a data key of another key vault (another master key).
      n: await (i === 7 ? stranger : client).engine.encrypt(i * 3, 'Deterministic', i === 7 ? foreignKey : key),
    }))));
    const migration = defineLoadedMigration('20250901T000001_n_to_text', { up: [{ op: 'convertField', namespace: `${DB}.items`, path: 'n', to: 'string' }], down: [] });
    const runner = () => new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_sb`, batchSize: 5 }, out: lines().out });

    const error = await t.throwsAsync(runner().up());
    t.regex(error!.message, /Migration 20250901T000001_n_to_text, step 1 \(convert n of .*\.items to string\) failed: /);
    t.regex(error!.message, new RegExp(`${DB}\\.items\\.n`));
    t.regex(error!.message, /"i07"/, 'the document is named by _id');
    t.notRegex(error!.message, /\b21\b/, 'no value in the message');
    const stored = await items.find({}, { sort: { _id: 1 } }).toArray();
    const converted = stored.filter((d) => inspectEncryptedBlob(d.n)?.originalBsonType === 2).map((d) => d._id);
    t.deepEqual(converted, ['i00', 'i01', 'i02', 'i03', 'i04', 'i05', 'i06'], 'the documents before the failing one were converted, none after');
    t.is((await raw.db(`${DB}_sb`).collection('changelog').countDocuments({})), 0, 'the migration is not recorded');

    // The fix: the value is encrypted again under a key of this key vault (here: replaced), then the run repeats.
    await items.updateOne({ _id: 'i07' as never }, { $set: { n: await client.engine.encrypt(21, 'Deterministic', new UUID(inspectEncryptedBlob(stored[0].n)!.keyId)) } });
    const output = lines();
    await new MigrationRunner(client, { migrations: [migration], settings: { database: `${DB}_sb`, batchSize: 5 }, out: output.out }).up();
    t.regex(output.text(), /resuming after 5 document\(s\) rewritten by an interrupted run/);
    // Five converted before the checkpoint (restored), i05 and i06 converted after it by the failed run (recognised), five now.
    t.regex(output.text(), /done: 10 value\(s\) converted, 2 already string$/m);
    const plain = await (await client.decryptingClient()).db(DB).collection('items').find({}, { sort: { _id: 1 } }).toArray();
    t.deepEqual(plain.map((d) => d.n), Array.from({ length: 12 }, (_, i) => String(i * 3)));
  } finally {
    await raw.close();
    await client.close();
    await stranger.close();
  }
});

/*
 * Conversions killed with SIGKILL mid-way and run again. The child applies a migration of three
 * conversions (plain nested text to numbers, an encrypted number to text, encrypted numbers in an
 * array of embedded documents to text, with values that do not convert) and is killed inside the
 * third, after a checkpoint. The re-run must convert every value exactly once, lose nothing, and
 * count the values that do not convert once each: those before the checkpoint (counted by the
 * killed run) and those after it alike.
 */
import test from 'ava';
import { Int32, UUID, type Document } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { Embedded, EmbeddedArray, Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/metadata';
import { BackfillState } from '../../src/migrations/backfill/state';
import { MigrationRunner } from '../../src/migrations/runner';
import { masterKeyFile, rawClient, testClient } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';
import { CONVERT_MIGRATION, convertMigration } from './convertChild';
import { ChildRun, CRASH_TEST_LOCK_TTL_MS, lines } from './helpers';

const DB = uniqueDbName(__filename);
const STATE_DB = `${DB}_sb`;
/*
 * Small on purpose: FerretDB 1.x hands a filter to its SQLite backend only when it is exactly
 * { _id: <string or ObjectId> }; the conditioned update of every rewritten document (and the
 * resume filter of every batch) is evaluated by decoding the whole collection, so a conversion
 * costs documents² there. 100 documents keep the test to seconds and give the kill 20 batches.
 */
const DOCUMENTS = 100;
const BATCH = 5;
const KILLED_STEP = 2;
const BSON_STRING = 2;
const BSON_BOOLEAN = 8;

class Address {
  @Field() zip!: string;
}
class Contact {
  @Field() label!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'convert' }) pin!: Random<number>;
}
@Model({ db: DB, collection: 'accounts' })
class Account {
  @Id() _id!: string;
  @Embedded(() => Address) address!: Address;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', keyAltName: 'convert' }) code!: Deterministic<number>;
  @EmbeddedArray(() => Contact) contacts!: Contact[];
}

const idOf = (i: number) => `a${String(i).padStart(5, '0')}`;
const zipIsText = (i: number) => i % 25 === 3;
const pinIsFlag = (i: number) => i % 20 === 5;
const ZIPS_NOT_NUMBERS = Array.from({ length: DOCUMENTS }, (_, i) => i).filter(zipIsText).length;
const PIN_FLAGS = Array.from({ length: DOCUMENTS }, (_, i) => i).filter(pinIsFlag).length;
const PINS = 2 * DOCUMENTS - PIN_FLAGS;

/** "…: 12 value(s) converted, 3 already string; 2 value(s) do not convert …" of step n of a run's output. */
function stepReport(output: string, step: number): { converted: number; already: number; unconvertible: number; resumed: boolean } {
  const [, section = ''] = output.split(new RegExp(`\\n  ${step + 1}\\. `));
  const body = section.split(/\n  \d\. /)[0];
  const count = (re: RegExp) => Number(re.exec(body)?.[1] ?? 0);
  if (!/\n     done: /.test(body)) throw new Error(`step ${step + 1} did not finish:\n${output}`);
  return { converted: count(/(\d+) value\(s\) converted/), already: count(/(\d+) already /), unconvertible: count(/(\d+) value\(s\) do not convert/), resumed: /resuming after/.test(body) };
}

/** Stored pins: how many are encrypted text (converted), and in how many documents. */
function convertedPins(docs: Document[]): { values: number; documents: number } {
  let values = 0;
  let documents = 0;
  for (const doc of docs) {
    const converted = (doc.contacts as Document[]).filter((c) => inspectEncryptedBlob(c.pin)?.originalBsonType === BSON_STRING).length;
    values += converted;
    if (converted > 0) documents++;
  }
  return { values, documents };
}

test('conversions killed with SIGKILL and run again convert every value once, lose nothing, count the unconvertible once', async (t) => {
  const server = await testServer();
  const keyFile = masterKeyFile();
  const keyVault = `${DB}_keys.__keyVault`;
  const client = await testClient([Account], { kms: { local: { keyFile } }, keyVault: { namespace: keyVault } });
  const raw = await rawClient();
  try {
    await client.repository(Account).insertMany(Array.from({ length: DOCUMENTS }, (_, i) => ({
      _id: idOf(i), address: { zip: zipIsText(i) ? 'N/A' : String(10000 + i) }, code: i * 7,
      contacts: [{ label: 'home', pin: i }, { label: 'work', pin: 5000 + i }],
    })));
    // Values a number-to-text conversion cannot take: an encrypted flag where a pin should be (written by hand, as old data would be).
    const accounts = raw.db(DB).collection('accounts');
    for (const doc of await accounts.find({}).toArray()) {
      const i = Number(String(doc._id).slice(1));
      if (!pinIsFlag(i)) continue;
      const header = inspectEncryptedBlob(doc.contacts[1].pin)!;
      await accounts.updateOne({ _id: doc._id }, { $set: { 'contacts.1.pin': await client.engine.encrypt(true, 'Random', new UUID(header.keyId)) } });
    }
    const codeKey = inspectEncryptedBlob((await accounts.findOne({}))!.code)!.keyId;

    // First run, in a child process, killed inside the third conversion once it has checkpointed a few batches.
    const child = new ChildRun('convertChild.js', { CONVERT_URI: server.uri, CONVERT_TLS: JSON.stringify(server.tls), CONVERT_KEY_FILE: keyFile, CONVERT_KEY_VAULT: keyVault, CONVERT_DB: DB, CONVERT_STATE_DB: STATE_DB, CONVERT_BATCH: String(BATCH), CONVERT_PAUSE_MS: '20' });
    const state = new BackfillState(raw.db(STATE_DB));
    const killedStep = `${CONVERT_MIGRATION}:up:${KILLED_STEP}`;
    await child.progressReaches(3 * BATCH, async () => Number((await state.checkpoint(killedStep))?.processed ?? 0));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
    t.is(await child.kill(), 'SIGKILL');
    const childOutput = child.output();

    // Where the kill landed: the first two steps finished, the third checkpointed but not finished, the migration not recorded.
    t.is(stepReport(childOutput, 0).unconvertible, ZIPS_NOT_NUMBERS);
    t.is(stepReport(childOutput, 1).converted, DOCUMENTS);
    const checkpoint = (await state.checkpoint(killedStep))!;
    t.truthy(checkpoint, 'the third step left its checkpoint');
    t.is(await raw.db(STATE_DB).collection('changelog').countDocuments({ _id: CONVERT_MIGRATION as never }), 0, 'the migration is not recorded as applied');
    const atKill = convertedPins(await accounts.find({}).toArray());
    const checkpointed = Number(checkpoint.tally?.counts.converted ?? 0);
    t.log(`killed after ${Number(checkpoint.processed)} document(s) checkpointed (last _id ${String(checkpoint.lastId)}); ${atKill.documents} document(s) with ${atKill.values} pin(s) converted`);
    t.true(atKill.documents >= Number(checkpoint.processed) && atKill.documents < DOCUMENTS, 'the first run stopped inside the step, after its checkpoint');
    t.true(atKill.values >= checkpointed, 'the checkpoint counts only values written');

    // Second run, in this process: takes over the dead runner's lock, redoes the finished steps (finding nothing to do), resumes the third.
    const output = lines();
    await new MigrationRunner(client, { migrations: [convertMigration(DB)], settings: { database: STATE_DB, batchSize: BATCH, lockTtlMs: CRASH_TEST_LOCK_TTL_MS }, out: output.out, lockWaitMs: 10_000 }).up();
    const text = output.text();
    t.log(text);
    t.regex(text, /took over the expired lock/);
    t.deepEqual(stepReport(text, 0), { converted: 0, already: DOCUMENTS - ZIPS_NOT_NUMBERS, unconvertible: ZIPS_NOT_NUMBERS, resumed: false });
    t.deepEqual(stepReport(text, 1), { converted: 0, already: DOCUMENTS, unconvertible: 0, resumed: false });
    const resumed = stepReport(text, 2);
    t.true(resumed.resumed, 'the third step resumed from its checkpoint');
    t.is(resumed.converted - checkpointed, PINS - atKill.values, 'the re-run converted exactly the pins the killed run had not');
    t.is(resumed.already, atKill.values - checkpointed, 'pins converted after the last checkpoint are recognised, not converted again');
    t.is(resumed.converted + resumed.already, PINS);
    t.is(resumed.unconvertible, PIN_FLAGS, 'every value that does not convert is counted once over both runs');

    // The stored result: nothing lost, every value converted once, encrypted values still encrypted with their algorithm and key.
    const stored = await accounts.find({}, { sort: { _id: 1 }, promoteValues: false }).toArray();
    t.deepEqual(stored.map((d) => d._id), Array.from({ length: DOCUMENTS }, (_, i) => idOf(i)), 'every document, none duplicated');
    for (const [i, doc] of stored.entries()) {
      if (zipIsText(i)) t.is(doc.address.zip, 'N/A');
      else if (!(doc.address.zip instanceof Int32) || doc.address.zip.value !== 10000 + i) t.fail(`${idOf(i)}: address.zip is not the number ${10000 + i}`);
      const code = inspectEncryptedBlob(doc.code);
      if (code?.algorithm !== 'Deterministic' || code.keyId !== codeKey || code.originalBsonType !== BSON_STRING) t.fail(`${idOf(i)}: code is not Deterministic text under its key`);
      const pins = (doc.contacts as Document[]).map((c) => inspectEncryptedBlob(c.pin));
      const expected = [BSON_STRING, pinIsFlag(i) ? BSON_BOOLEAN : BSON_STRING];
      if (pins.some((p, n) => p?.algorithm !== 'Random' || p.originalBsonType !== expected[n])) t.fail(`${idOf(i)}: a pin is not Random ciphertext of the expected type`);
    }
    const plain = await (await client.decryptingClient()).db(DB).collection('accounts').find({}, { sort: { _id: 1 } }).toArray();
    t.deepEqual(plain.map((d) => d.code), plain.map((_, i) => String(i * 7)));
    t.deepEqual(plain.map((d) => d.contacts.map((c: Document) => c.pin)), plain.map((_, i) => [String(i), pinIsFlag(i) ? true : String(5000 + i)]));
    t.is(await state.progress.countDocuments({}), 0, 'the checkpoints are cleared');
    t.is(await raw.db(STATE_DB).collection('changelog').countDocuments({ _id: CONVERT_MIGRATION as never }), 1, 'the migration is recorded as applied');
  } finally {
    await raw.close();
    await client.close();
  }
});

/**
 * Findings of the round-24 adversarial pass over command-level encryption groups, insertMany's
 * walk-first rule, the synchronous read path of models without encrypted fields, and the detached
 * snapshots save() compares against. Written as plain JavaScript against the public API (cast to
 * any), with command monitoring on the shared client.
 *
 * Each test asserts the correct behaviour; every finding is fixed. Serial: each test tells its
 * commands apart by clearing the shared list first.
 */
import test from 'ava';
import { BSON, Binary, DBRef, ObjectId, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { ArrayField, DecryptionError, Encrypted, Field, Id, Model, StrongboxError, type Deterministic, type Random } from '../../src/index';
import { describe, outcome, uniq, untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { exposedText } from './support';
import { uniqueDbName } from '../harness/server';
import { defineFleet, defineModels } from '../repository/models';

const DB = uniqueDbName(__filename);
const { Patient, Customer } = defineModels(DB);
/** One collection, variants with different encrypted fields: Car has vin, Truck has payload. */
const { Vehicle, Car, Truck } = defineFleet(DB);

/** A model without encrypted fields: its reads take the synchronous path (one scan for ciphertext). */
@Model({ db: DB, collection: 'notes' })
class Note {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @Field({ bsonType: 'objectId', optional: true }) ref?: ObjectId;
}

/** Per-document keys, with a plain field a caller can get wrong after the encrypted one. */
@Model({ db: DB, collection: 'accounts' })
class Account {
  @Id() _id!: ObjectId;
  @Field() customerId!: string;
  @Field() label!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/customerId' }) secret!: Random<string>;
}

/** Dates, plain and encrypted (a fixed key): the walk checks them, the batch encrypts them a turn of the event loop later. */
@Model({ db: DB, collection: 'diaries', keyAltName: 'diary' })
class Diary {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ bsonType: 'date' }) day!: Date;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'date' }) secretDay!: Deterministic<Date>;
}

/** A key chosen by a function of the document that reads an encrypted field (and can throw on it). */
@Model({ db: DB, collection: 'tenants', keyAltName: (doc: any) => JSON.parse(doc.profile).tenant })
class Tenant {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) profile!: Random<string>;
}

let client: StrongboxClient;
let raw: MongoClient;
const commands: CommandStartedEvent[] = [];
const CHATTER = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'killCursors', 'buildInfo']);
/** Every command started since the list was cleared, key vault commands included. */
const sent = () => commands.filter((c) => !CHATTER.has(c.commandName)).map((c) => `${c.commandName}@${c.databaseName}`);
const repo = (model: Function) => untypedRepository(client, model);
const notes = () => raw.db(DB).collection('notes');

test.before(async () => {
  client = await testClient([Patient, Customer, Note, Account, Vehicle, Car, Truck, Diary, Tenant], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (e) => commands.push(e));
  raw = await rawClient();
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

/** A real ciphertext, copied from a Customer's stored document. */
async function ciphertext(): Promise<Binary> {
  const customerId = uniq('cust');
  await repo(Customer).insertOne({ customerId, name: 'C', ssn: uniq('SSN') });
  return (await raw.db(DB).collection('customers').findOne({ customerId }))!.ssn as Binary;
}

const keyExists = async (altName: string) => (await client.keyVault.findKeyId(altName)) !== undefined;

/** Runs `change` synchronously when the next command named `name` starts (the write is on its way; its reply is not back yet). */
function onNextCommand(name: string, change: () => void): void {
  const listener = (e: CommandStartedEvent) => {
    if (e.commandName !== name) return;
    client.dataClient.off('commandStarted', listener);
    change();
  };
  client.dataClient.on('commandStarted', listener);
}

/** A document in its canonical EJSON form (keys sorted), to compare stored documents with entities. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => Array.isArray(v) ? v.map(sort)
    : v && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Document)[k])])) : v;
  return BSON.EJSON.stringify(sort(value) as Document, { relaxed: false });
}

// ---------------------------------------------------------------------------------------------
// Encryption groups and insertMany's walk-first rule

test.serial('insertMany: one document whose per-document key name is empty opens no encryption context and creates no data key for the other documents', async (t) => {
  const fresh = uniq('fresh-customer');
  const contexts = client.engine.commands.batches;
  commands.length = 0;
  const { error } = await outcome(() => repo(Customer).insertMany([
    { customerId: fresh, name: 'A', ssn: 'ssn-a' },
    { customerId: '', name: 'B', ssn: 'ssn-b' },
  ]));
  // Let a batch that was left running (setImmediate flush, key creation) finish before looking.
  await new Promise((r) => setTimeout(r, 300));
  const commandsSent = sent();
  t.is((error as StrongboxError)?.code, 'INPUT_KEY_FIELD_MISSING');
  t.is(client.engine.commands.batches - contexts, 0, 'the other document\'s values were encrypted although the insertMany was refused');
  t.false(await keyExists(fresh), 'a data key was created for a customer of a refused insertMany');
  t.deepEqual(commandsSent, [], 'commands were sent for a refused insertMany');
});

test.serial('a write refused by its walk (a wrong type after an encrypted value) creates no data key and sends nothing to the key vault', async (t) => {
  const one = uniq('fresh-account');
  const many = uniq('fresh-customer');
  commands.length = 0;
  // The encrypted value comes first in the input, so its per-document key is asked for before the walk meets the bad value.
  const single = await outcome(() => repo(Account).insertOne({ customerId: one, secret: 's', label: 42 }));
  const bulk = await outcome(() => repo(Customer).insertMany([{ customerId: many, name: 'A', ssn: 'ssn-a' }, { customerId: uniq('c'), name: 'B', ssn: 42 }]));
  await new Promise((r) => setTimeout(r, 300));
  const commandsSent = sent();
  t.is((single.error as StrongboxError)?.code, 'INPUT_WRONG_TYPE');
  t.is((bulk.error as StrongboxError)?.code, 'INPUT_WRONG_TYPE');
  t.false(await keyExists(one), 'insertOne refused for a wrong type created the customer\'s data key');
  t.false(await keyExists(many), 'insertMany refused for a wrong type created a data key for another document\'s customer');
  t.deepEqual(commandsSent, [], 'commands (key vault find/insert) were sent for refused writes');
});

test.serial('a document whose encrypted values each pass the 16 MiB check but together exceed it is refused with a StrongboxError before any command', async (t) => {
  const nine = () => 'x'.repeat(9 * 1024 * 1024);
  const patient = (name: string, big: boolean) => ({
    name, age: 1, tags: [], address: { street: 's', city: 'c', zip: 'z' }, contacts: [],
    phone: big ? nine() : 'p', ssn: big ? nine() : 's', score: 1, medical: { bloodType: 'A', allergies: [] },
  });
  const problems: string[] = [];
  for (const [what, call] of [
    ['insertOne', () => repo(Patient).insertOne(patient(uniq('big'), true))],
    ['insertMany', () => repo(Patient).insertMany([patient(uniq('ok'), false), patient(uniq('big'), true)])],
  ] as Array<[string, () => Promise<unknown>]>) {
    commands.length = 0;
    const { error } = await outcome(call);
    if (!(error instanceof StrongboxError)) problems.push(`${what}: failed with ${describe(error)} instead of a StrongboxError`);
    else if (error.code !== 'ENCRYPT_DOCUMENT_TOO_LARGE' || error.message.includes('xxxx')) problems.push(`${what}: ${error.code}: ${error.message}`);
    const data = sent().filter((c) => c.endsWith(`@${DB}`));
    if (data.length) problems.push(`${what}: started ${data.join(', ')}`);
  }
  t.deepEqual(problems, []);
});

test.serial('insertOne: a Date checked by the walk and changed before its batch is encrypted is not stored unchecked (an Invalid Date becomes epoch 0, in clear and in the ciphertext)', async (t) => {
  const day = new Date(1000);
  const secretDay = new Date(2000);
  const title = uniq('diary');
  const inserting = repo(Diary).insertOne({ title, day, secretDay });
  // Queued before the walk queues its batch's flush: runs after the walk, before the encryption.
  setImmediate(() => { day.setTime(NaN); secretDay.setTime(NaN); });
  const { value, error } = await outcome(() => inserting);
  const stored = await raw.db(DB).collection('diaries').findOne({ title });
  if (error !== undefined) {
    t.true(error instanceof StrongboxError, describe(error));
    t.is(stored, null, 'refused, yet stored');
    return;
  }
  const read = await repo(Diary).findOne({ title });
  const times = (d: any) => [d.day.getTime(), d.secretDay.getTime()];
  t.deepEqual(times(read), [1000, 2000], 'the values stored (epoch 0, in clear and encrypted) are not the values the walk checked');
  t.truthy(value);
});

test.serial('insertOne: the entity returned holds the Dates as stored, not the caller\'s objects changed after the call', async (t) => {
  const day = new Date(1000);
  const secretDay = new Date(2000);
  const title = uniq('diary');
  const inserting = repo(Diary).insertOne({ title, day, secretDay });
  setImmediate(() => { day.setTime(NaN); secretDay.setTime(NaN); });
  const value = await inserting;
  const read = await repo(Diary).findOne({ title });
  const times = (d: any) => [d.day.getTime(), d.secretDay.getTime()];
  t.deepEqual(times(value), times(read), 'the entity returned does not hold what is stored');
});

test.serial('a keyAltName function that throws on the document fails the write with a StrongboxError that does not quote the encrypted value', async (t) => {
  const secret = `SEKRIT-${uniq('profile')} (not JSON)`;
  commands.length = 0;
  const { error } = await outcome(() => repo(Tenant).insertOne({ title: uniq('tenant'), profile: secret }));
  t.deepEqual(sent(), [], 'nothing is sent');
  t.true(error instanceof StrongboxError, `failed with ${describe(error)} instead of a StrongboxError`);
  t.false(exposedText(error).includes('SEKRIT'), 'the error quotes the plaintext of Tenant.profile');
});

// ---------------------------------------------------------------------------------------------
// Ciphertext where the model declares none

test.serial('reads: a ciphertext inside a DBRef ($id or an extra field) in a free-form field is refused, on the synchronous path and in the decrypting walk', async (t) => {
  // FerretDB refuses to store $ref keys, so the documents are the bytes a MongoDB server returns, read by each repository's own reader.
  const blob = await ciphertext();
  const problems: string[] = [];
  const cases: Array<[string, Document]> = [
    ['$id', { link: new DBRef('elsewhere', blob as never) }],
    ['extra field', { link: new DBRef('elsewhere', new ObjectId(), undefined, { note: blob }) }],
  ];
  for (const [where, meta] of cases) {
    const bytes = BSON.serialize({ _id: new ObjectId(), title: 't', meta });
    const reader = (repo(Note) as unknown as { reader: { readRaw(b: Uint8Array[]): unknown; read(d: Document[]): Promise<unknown[]> } }).reader;
    for (const [path, read] of [
      ['synchronous scan (find)', async () => reader.readRaw([bytes])],
      ['decrypting walk (aggregate, findOneAndUpdate, populate)', () => reader.read([BSON.deserialize(bytes)])],
    ] as Array<[string, () => Promise<unknown>]>) {
      const { value, error } = await outcome(read);
      if (!(error instanceof DecryptionError)) problems.push(`${where}, ${path}: ${error ? describe(error) : 'returned the ciphertext inside ' + BSON.EJSON.stringify((value as Document[])[0] as Document).slice(0, 200)}`);
    }
  }
  t.deepEqual(problems, []);
});

test.serial('writes: a ciphertext inside a DBRef in a free-form field is refused (INPUT_CIPHERTEXT_GIVEN) before any command', async (t) => {
  const blob = await ciphertext();
  commands.length = 0;
  const { error } = await outcome(() => repo(Note).insertOne({ title: uniq('dbref'), meta: { link: new DBRef('elsewhere', blob as never) } }));
  t.is((error as StrongboxError)?.code, 'INPUT_CIPHERTEXT_GIVEN', describe(error));
  t.deepEqual(sent().filter((c) => c.startsWith('insert')), [], 'the ciphertext was sent inside an insert');
});

test.serial("reads through the base repository: a sibling variant's ciphertext planted in a document (a Car's vin in a Truck, or in a document of no variant) is refused, not decrypted onto the instance", async (t) => {
  const carName = uniq('car');
  await repo(Car).insertOne({ name: carName, vin: `VIN-${carName}` });
  const vin = (await raw.db(DB).collection('vehicles').findOne({ name: carName }))!.vin as Binary;
  const truckName = uniq('truck');
  await repo(Truck).insertOne({ name: truckName, payload: 5 });
  await raw.db(DB).collection('vehicles').updateOne({ name: truckName }, { $set: { vin } });
  const otherName = uniq('bike');
  await raw.db(DB).collection('vehicles').insertOne({ _id: new ObjectId(), kind: 'bike', name: otherName, vin });
  const problems: string[] = [];
  for (const [what, read] of [
    ['find (a Truck)', () => repo(Vehicle).find({ name: truckName }).toArray()],
    ['findOne (a Truck)', () => repo(Vehicle).findOne({ name: truckName })],
    ['aggregate (a Truck)', () => repo(Vehicle).aggregate([{ $match: { name: truckName } }]).toArray()],
    ['findOneAndUpdate (a Truck)', () => repo(Vehicle).findOneAndUpdate({ name: truckName }, { $set: { name: truckName } })],
    ['find (no variant)', () => repo(Vehicle).find({ name: otherName }).toArray()],
  ] as Array<[string, () => Promise<unknown>]>) {
    const { value, error } = await outcome(read);
    if (!(error instanceof DecryptionError)) problems.push(`${what}: ${error ? describe(error) : JSON.stringify(value).slice(0, 200)}`);
  }
  // The variant's own repository refuses the same document.
  await t.throwsAsync(repo(Truck).find({ name: truckName }).toArray(), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  t.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------
// Snapshots for save()

test.serial('insertOne: an ObjectId whose id was set to 13 bytes is either refused before the insert or reported written, never stored and then rejected', async (t) => {
  const ref = new ObjectId();
  (ref as { id: Uint8Array }).id = Buffer.alloc(13, 7);
  const title = uniq('oid13');
  const { error } = await outcome(() => repo(Note).insertOne({ title, ref }));
  const stored = await notes().countDocuments({ title });
  if (error === undefined) t.is(stored, 1);
  else {
    t.is(stored, 0, `insertOne rejected with ${describe(error)} after the document was stored (a retry inserts it twice)`);
    t.true(error instanceof StrongboxError, describe(error));
  }
});

test.serial('save: a free-form value with a (non-enumerable) toBSON is compared as it was stored, so a later change to it is sent', async (t) => {
  const meta: Document = { b: 2 };
  Object.defineProperty(meta, 'toBSON', { value: () => ({ a: 1 }), enumerable: false });
  const title = uniq('tobson');
  const entity = await repo(Note).insertOne({ title, meta });
  t.deepEqual((await notes().findOne({ title }))?.meta, { a: 1 }, 'stored as toBSON returned');
  entity.meta = { b: 2 };
  commands.length = 0;
  await repo(Note).save(entity);
  t.deepEqual((await notes().findOne({ title }))?.meta, { b: 2 }, `the change was not sent (${sent().join(', ') || 'no command'}): stored ≠ entity`);
});

test.serial('save: a free-form value holding undefined is compared as the driver stored it (null), so removing that key is sent', async (t) => {
  const title = uniq('undef');
  const entity = await repo(Note).insertOne({ title, meta: { a: undefined, b: 1 } });
  t.deepEqual((await notes().findOne({ title }))?.meta, { a: null, b: 1 }, 'the driver stores undefined as null');
  entity.meta = { b: 1 };
  commands.length = 0;
  await repo(Note).save(entity);
  t.deepEqual((await notes().findOne({ title }))?.meta, { b: 1 }, `the change was not sent (${sent().join(', ') || 'no command'}): stored ≠ entity`);
});

test.serial('save: a change made to the entity while its save is in flight is sent by the next save', async (t) => {
  const title = uniq('inflight-save');
  const entity = await repo(Note).insertOne({ title, tags: ['a'] });
  entity.tags.push('b');
  commands.length = 0;
  onNextCommand('update', () => entity.tags.push('c'));
  await repo(Note).save(entity);
  await repo(Note).save(entity);
  t.deepEqual((await notes().findOne({ title }))?.tags, entity.tags, 'the snapshot took the unsent change for a written one');
});

test.serial('insertOne: a change made to the input document while the insert is in flight is sent by a save of the returned entity', async (t) => {
  const title = uniq('inflight-insert');
  const doc = { title, tags: ['a'] };
  commands.length = 0;
  onNextCommand('insert', () => doc.tags.push('late'));
  const entity = await repo(Note).insertOne(doc);
  await repo(Note).save(entity);
  t.is(canonical(await notes().findOne({ title })), canonical({ ...entity }), 'the entity and its snapshot hold a value the server never got');
});

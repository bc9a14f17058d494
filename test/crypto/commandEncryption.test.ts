/**
 * Command-level encryption: each command's values are encrypted in one batch by Strongbox's own
 * cipher under data keys libmongocrypt unwrapped. Deterministic ciphertexts must be byte for
 * byte what per-value explicit encryption (the driver's public ClientEncryption.encrypt, i.e.
 * libmongocrypt) produces, on every field kind and every bsonType Deterministic accepts; Random
 * values must decrypt to the originals through libmongocrypt; a value refused inside a batch
 * fails its command naming the field. Serial: the tests count the batches and commands of one
 * shared client.
 */
import test from 'ava';
import fc from 'fast-check';
import { Binary, UUID, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { encryptionPlaintext } from '../../src/crypto/plaintext';
import { encryptedValueLength } from '../../src/crypto/valueCipher';
import { EncryptionError } from '../../src/errors';
import type { Repository } from '../../src/repository/repository';
import { ALGORITHM_NAMES } from '../../src/schema/encryptSchema';
import { toDeclaredBson } from '../../src/repository/encoding/values';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from '../repository/models';
import { defineTypedModel, fieldName, storagesOf, TYPE_CASES } from '../repository/typeTable';

const DB = uniqueDbName(__filename);
const Typed = defineTypedModel(DB, 'typed');
const { Patient, Customer } = defineModels(DB);

let client: StrongboxClient;
let raw: MongoClient;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Typed, Patient, Customer], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
  raw = await rawClient();
});
test.after.always(async () => {
  await client?.close();
  await raw?.close();
});

const stored = (collection: string, filter: Document) => raw.db(DB).collection(collection).findOne(filter);
const hex = (value: unknown) => Buffer.from((value as Binary).buffer).toString('hex');

/** Per-value explicit encryption by the driver's public API: the reference the command path must equal. */
async function explicitDeterministic(value: unknown, altName: string): Promise<string> {
  const keyId = await client.keyVault.ensureDataKey(altName);
  return hex(await client.encryption.encrypt(value, { algorithm: ALGORITHM_NAMES.Deterministic as never, keyId }));
}

/** Runs `action` and counts the encryption batches it made. */
async function batchesOf(action: () => Promise<unknown>): Promise<number> {
  const before = client.engine.commands.batches;
  await action();
  return client.engine.commands.batches - before;
}

function patient(n: number): Document {
  return {
    name: `P${n}`, age: 30 + n, tags: [],
    address: { street: `${n} Elm St`, city: 'Shelbyville', zip: `9${n}000` },
    contacts: [{ kind: 'home', phone: `555-01${n}`, note: `note ${n}` }, { kind: 'work', phone: `555-02${n}`, note: `work ${n}` }],
    phone: `+1-555-100${n}`, ssn: `000-11-100${n}`, score: n,
    medical: { bloodType: 'A-', allergies: [`pollen ${n}`] },
  };
}

test.serial('every bsonType Deterministic accepts: one insert, one batch, each ciphertext equal to explicit encryption', async (t) => {
  const cases = TYPE_CASES.filter((c) => storagesOf(c).includes('Deterministic'));
  t.true(cases.length >= 9, `${cases.length} Deterministic types`);
  const doc: Document = {};
  for (const c of cases) doc[fieldName('Deterministic', c.type)] = c.input();
  const repo = client.repository(Typed) as unknown as Repository<Document>;
  let id: unknown;
  t.is(await batchesOf(async () => { id = (await repo.insertOne(doc))._id; }), 1);
  const row = await stored('typed', { _id: id });
  for (const c of cases) {
    const name = fieldName('Deterministic', c.type);
    const expected = await explicitDeterministic(toDeclaredBson(doc[name], { bsonType: c.type }, name), 'types');
    t.is(hex(row![name]), expected, `${c.type}: command path and explicit encryption differ`);
  }
  // And every value reads back as written.
  const read = await repo.findById(id) as Document;
  for (const c of cases) t.true(c.isRead(read[fieldName('Deterministic', c.type)]), c.type);
});

test.serial('every field kind: top level, nested, in arrays of documents, in filters and $in, in $set: equal to explicit encryption', async (t) => {
  const repo = client.repository(Patient);
  const [first] = await repo.insertMany([patient(1), patient(2)] as never[]);
  const row = await stored('patients', { _id: first._id });
  t.is(hex(row!.phone), await explicitDeterministic('+1-555-1001', 'pii'));
  t.is(hex(row!.address.zip), await explicitDeterministic('91000', 'pii'));
  t.is(hex(row!.contacts[1].phone), await explicitDeterministic('555-021', 'pii'));

  commands.length = 0;
  t.is((await repo.find({ phone: { $in: ['+1-555-1001', '+1-555-1002'] }, 'address.zip': '91000' } as never).toArray()).length, 1);
  const find = commands.find((e) => e.commandName === 'find' && e.command.find === 'patients')!;
  t.is(hex(find.command.filter.phone.$in[1]), await explicitDeterministic('+1-555-1002', 'pii'));
  t.is(hex(find.command.filter['address.zip'].$eq ?? find.command.filter['address.zip']), await explicitDeterministic('91000', 'pii'));

  commands.length = 0;
  t.is(await batchesOf(() => repo.updateOne({ phone: '+1-555-1002' }, { $set: { 'address.zip': '99999', phone: '+1-555-9999' } })), 1, 'filter and update: one batch');
  const update = commands.find((e) => e.commandName === 'update')!;
  const statement = update.command.updates[0];
  t.is(hex(statement.u.$set.phone), await explicitDeterministic('+1-555-9999', 'pii'));
  t.is(hex(statement.u.$set['address.zip']), await explicitDeterministic('99999', 'pii'));
  t.is((await repo.findOne({ phone: '+1-555-9999' }))?.address.zip, '99999');
});

test.serial('insertMany, bulkWrite and replaceOne each encrypt all their values in one batch; Random values round-trip', async (t) => {
  const repo = client.repository(Patient);
  const docs = Array.from({ length: 50 }, (_, i) => patient(100 + i));
  // 50 documents × 8 encrypted values (one a whole embedded document under Random).
  t.is(await batchesOf(() => repo.insertMany(docs as never[])), 1);
  const read = await repo.find({ name: { $in: docs.map((d) => d.name) } } as never).toArray();
  t.is(read.length, 50);
  for (const p of read) {
    const n = Number(p.name.slice(1));
    t.is(p.ssn, `000-11-100${n}`);
    t.is(p.score, n);
    t.deepEqual({ ...p.medical }, { bloodType: 'A-', allergies: [`pollen ${n}`] });
    t.deepEqual(p.contacts.map((c) => c.note), [`note ${n}`, `work ${n}`]);
  }
  t.is(await batchesOf(() => repo.bulkWrite([
    { insertOne: { document: patient(200) as never } },
    { updateOne: { filter: { phone: '+1-555-100100' }, update: { $set: { ssn: 'bulk-ssn' } } } },
    { replaceOne: { filter: { phone: '+1-555-100101' }, replacement: patient(201) as never } },
    { deleteOne: { filter: { phone: '+1-555-100102' } } },
  ] as never)), 1);
  t.is((await repo.findOne({ phone: '+1-555-100100' }))?.ssn, 'bulk-ssn');
  t.is((await repo.findOne({ phone: '+1-555-100201' }))?.name, 'P201');
  t.is(await repo.findOne({ phone: '+1-555-100102' }), null);
});

test.serial('the size a ciphertext will take is known from its plaintext, exactly, for every length and BSON type (it bounds a document before it is encrypted)', async (t) => {
  const keyId = await client.keyVault.ensureDataKey('size-estimate');
  const values: unknown[] = [...Array.from({ length: 70 }, (_, n) => 'é'.repeat(n % 7) + 'x'.repeat(n)), 0, -1, 2 ** 40, 1.5, true, new Date(5), ['a', 1], { a: { b: [1, 2] } }, new Binary(new Uint8Array(33))];
  for (const value of values) {
    const plaintext = encryptionPlaintext(value, 'Random');
    const ciphertext = await client.engine.encrypt(value, 'Random', keyId, 'Size.value');
    t.is(encryptedValueLength(plaintext.bytes.length), ciphertext.length(), JSON.stringify(value)?.slice(0, 40));
  }
});

test.serial('a write refused after its walk encrypts nothing and sends nothing: a missing required field, a missing key name, a wrong type', async (t) => {
  const patients = client.repository(Patient);
  const customers = client.repository(Customer);
  const { name: _dropped, ...withoutName } = patient(300);
  const refusals: Array<[string, () => Promise<unknown>, string]> = [
    ['a required field left out (after encrypted values were found)', () => patients.insertOne(withoutName as never), 'INPUT_REQUIRED_MISSING'],
    ['a per-document key whose name field is empty', () => customers.insertOne({ customerId: '', name: 'X', ssn: 'ssn-x' } as never), 'INPUT_KEY_FIELD_MISSING'],
    ['one document of many with a value of the wrong type', () => patients.insertMany([patient(301), { ...patient(302), ssn: 42 }] as never[]), 'INPUT_WRONG_TYPE'],
  ];
  for (const [what, write, code] of refusals) {
    commands.length = 0;
    const before = client.engine.commands.batches;
    const err = await t.throwsAsync(write());
    t.is((err as { code?: string }).code, code, what);
    t.is(client.engine.commands.batches - before, 0, `${what}: no encryption batch was made`);
    t.deepEqual(commands.filter((e) => ['insert', 'update'].includes(e.commandName)).map((e) => e.commandName), [], `${what}: nothing sent`);
  }
  t.is(await raw.db(DB).collection('patients').countDocuments({ name: { $in: ['P301', 'P302'] } }), 0, 'no document of the refused insertMany was stored');
});

test.serial('per-document keys: one batch for many customers, each value under its own customer key', async (t) => {
  const repo = client.repository(Customer);
  const customers = Array.from({ length: 6 }, (_, i) => ({ customerId: `cust-${i}-${process.pid}`, name: `C${i}`, ssn: `ssn-${i}` }));
  // Creates the six keys first (key creation is its own step), then encrypts everything in one pass.
  t.is(await batchesOf(() => repo.insertMany(customers as never[])), 1);
  for (const c of customers) {
    const row = await stored('customers', { customerId: c.customerId });
    const keyId = await client.keyVault.findKeyId(c.customerId);
    t.is(inspectEncryptedBlob(row!.ssn)?.keyId, keyId!.toUUID().toHexString(), `${c.customerId}'s value is under its own key`);
    t.is((await repo.findOne({ customerId: c.customerId }))?.ssn, c.ssn);
  }
});

test.serial('a value refused inside a batch fails only its own request, naming the field and never the value', async (t) => {
  const key = await client.keyVault.ensureDataKey('types');
  const missingKey = new Binary(new UUID().buffer, 4);
  // Started together: one batch.
  const good = client.engine.encrypt('fine', 'Deterministic', key, 'Doc.good');
  const refused = client.engine.encrypt(true, 'Deterministic', key, 'Doc.flag');
  const noKey = client.engine.encrypt('SECRET-NO-KEY', 'Random', missingKey, 'Doc.orphan');
  t.true(inspectEncryptedBlob(await good)?.algorithm === 'Deterministic');
  const typeErr = await t.throwsAsync(refused, { instanceOf: EncryptionError });
  t.is(typeErr!.code, 'ENCRYPT_TYPE_REFUSED');
  t.regex(typeErr!.message, /Doc\.flag could not be encrypted with Deterministic/);
  const keyErr = await t.throwsAsync(noKey, { instanceOf: EncryptionError });
  t.regex(keyErr!.message, /Doc\.orphan could not be encrypted with Random under data key/);
  t.false(keyErr!.message.includes('SECRET-NO-KEY') || String(keyErr!.stack).includes('SECRET-NO-KEY'));
});

test.serial('a refused value fails the whole command before anything is sent', async (t) => {
  const repo = client.repository(Typed) as unknown as Repository<Document>;
  const huge = `SECRET-${'x'.repeat(17 * 1024 * 1024)}`;
  commands.length = 0;
  const err = await t.throwsAsync(repo.insertMany([{ Random_string: 'small' }, { Random_string: huge }, { Deterministic_string: 'also small' }]), { instanceOf: EncryptionError });
  t.is(err!.code, 'ENCRYPT_VALUE_TOO_LARGE');
  t.regex(err!.message, /Typed\.Random_string could not be encrypted/);
  t.false(err!.message.includes('SECRET-'));
  t.is(commands.filter((e) => e.commandName === 'insert').length, 0, 'no insert was sent');
  t.is(await raw.db(DB).collection('typed').countDocuments({ Random_string: { $exists: true } }), 0);
});

test.serial('writes started together share one batch: every value lands, encrypted, in its own document; a refused write stores and sends nothing (generated)', async (t) => {
  const patients = client.repository(Patient);
  const customers = client.repository(Customer);
  type Op = { kind: 'patient' | 'patients' | 'customer' | 'update'; bad: 'none' | 'type' | 'huge'; tag: string };
  const op: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('patient', 'patients', 'customer', 'update'),
    bad: fc.constantFrom('none', 'none', 'none', 'type', 'huge'),
    tag: fc.string({ minLength: 1, maxLength: 8 }),
  });
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 6 }), async (ops) => {
    run++;
    const secret = (i: number, j = 0) => `SECRET-${process.pid}-${run}-${i}-${j}-${ops[i].tag}`;
    // The bad value of an insertMany is in its first or its second document.
    const badAt = (i: number) => (ops[i].kind === 'patients' ? ops[i].tag.length % 2 : 0);
    const ssnOf = (i: number, j = 0): unknown => {
      if (ops[i].bad === 'none' || j !== badAt(i)) return secret(i, j);
      return ops[i].bad === 'type' ? 42 : `${secret(i, j)}${'x'.repeat(17 * 1024 * 1024)}`;
    };
    const nameOf = (i: number, j = 0) => `B${process.pid}-${run}-${i}-${j}`;
    // The documents the updates change, written before the concurrent writes start.
    for (let i = 0; i < ops.length; i++) {
      if (ops[i].kind === 'update') await patients.insertOne({ ...patient(0), name: nameOf(i), phone: `ph-${nameOf(i)}`, ssn: 'before' } as never);
    }
    commands.length = 0;
    const writes = ops.map((o, i): Promise<unknown> => {
      switch (o.kind) {
        case 'patient': return patients.insertOne({ ...patient(0), name: nameOf(i), ssn: ssnOf(i) } as never);
        case 'patients': return patients.insertMany([0, 1].map((j) => ({ ...patient(0), name: nameOf(i, j), ssn: ssnOf(i, j) })) as never[]);
        case 'customer': return customers.insertOne({ customerId: `c-${nameOf(i)}`, name: nameOf(i), ssn: ssnOf(i) } as never);
        case 'update': return patients.updateOne({ phone: `ph-${nameOf(i)}` } as never, { $set: { ssn: ssnOf(i) } } as never);
      }
    });
    const outcomes = await Promise.allSettled(writes);
    for (let i = 0; i < ops.length; i++) {
      const { kind, bad } = ops[i];
      const outcome = outcomes[i];
      t.is(outcome.status, bad === 'none' ? 'fulfilled' : 'rejected', `${kind} ${bad}`);
      if (outcome.status === 'rejected') t.is((outcome.reason as { code?: string }).code, bad === 'type' ? 'INPUT_WRONG_TYPE' : 'ENCRYPT_VALUE_TOO_LARGE', `${kind} ${bad}`);
      const docs = kind === 'patients' ? [0, 1] : [0];
      for (const j of docs) {
        const row = await stored(kind === 'customer' ? 'customers' : 'patients', { name: nameOf(i, kind === 'patients' ? j : 0) });
        if (bad !== 'none' && kind !== 'update') { t.is(row, null, `${kind} ${bad}: nothing stored`); continue; }
        t.true(row?.ssn instanceof Binary && row.ssn.sub_type === 6, `${kind}: stored encrypted`);
        const read = kind === 'customer'
          ? await customers.findOne({ customerId: `c-${nameOf(i)}` } as never)
          : await patients.findOne({ name: nameOf(i, kind === 'patients' ? j : 0) } as never);
        t.is(read?.ssn, bad === 'none' ? secret(i, kind === 'patients' ? j : 0) : 'before', `${kind} ${bad}: its own value, decrypted`);
        if (kind === 'customer') t.is(inspectEncryptedBlob(row!.ssn)?.keyId, (await client.keyVault.findKeyId(`c-${nameOf(i)}`))!.toUUID().toHexString(), 'under its customer\'s key');
      }
    }
    const sent = JSON.stringify(commands.filter((e) => ['insert', 'update'].includes(e.commandName)).map((e) => e.command));
    t.false(sent.includes('SECRET-'), 'no plaintext in any command');
  }), { numRuns: 15 });
});

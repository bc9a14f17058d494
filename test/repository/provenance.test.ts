/**
 * Ciphertext provenance against the real server: a write never stores ciphertext or a marker it
 * was handed; a read decrypts only at declared encrypted paths and only values whose header
 * matches the model (algorithm, BSON type, the document's data key). Everything else is a
 * DecryptionError, or an UndecryptableValue under the opt-in, and `strongbox audit` lists it.
 */
import test from 'ava';
import { Binary, BSON, Code, DBRef, ObjectId, type Collection, type Document, type MongoClient } from 'mongodb';
import { auditModel } from '../../src/audit/audit';
import { Embedded, EmbeddedArray, Field, Model } from '../../src/metadata/decorators';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { DecryptionError, InvalidInputError } from '../../src/errors';
import { DocumentReader, UndecryptableValue } from '../../src/repository/reader';
import { resolveModel } from '../../src/metadata/resolve';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient, Customer } = defineModels(DB);

let client: StrongboxClient;
let raw: MongoClient;
let patients: Collection<Document>;
let customers: Collection<Document>;
test.before(async () => {
  client = await testClient([Patient, Customer]);
  raw = await rawClient();
  patients = raw.db(DB).collection('patients');
  customers = raw.db(DB).collection('customers');
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

let seq = 0;
function patient(): Document {
  const n = ++seq;
  return {
    name: `Patient ${n}`, age: 30 + n, address: { street: `${n} Elm St`, city: 'Shelbyville', zip: `9${n}000` },
    contacts: [{ kind: 'home', phone: `555-02${n}`, note: `note ${n}` }], tags: ['t'], phone: `+1-555-${2000 + n}`,
    ssn: `SSN-SECRET-${n}`, score: n, medical: { bloodType: 'A-', allergies: [] },
  };
}
const patientRepo = () => client.repository(Patient);
const lenientPatients = () => client.repository(Patient, { onUndecryptable: 'marker' });
const storedOf = async (id: unknown) => (await patients.findOne({ _id: id as ObjectId }))!;

const readRefusals: Array<[string, (target: Document, donor: Document) => Document, string, string]> = [
  ['ciphertext copied into a plain field', (_t, d) => ({ name: d.ssn }), 'DECRYPT_MISPLACED', 'name'],
  ['ciphertext copied into a plain field of an embedded document', (_t, d) => ({ 'address.city': d.phone }), 'DECRYPT_MISPLACED', 'address.city'],
  ['Deterministic ciphertext of another field where Random is declared', (_t, d) => ({ ssn: d.phone }), 'DECRYPT_ALGORITHM_MISMATCH', 'ssn'],
  ['ciphertext of an int where a string is declared', (_t, d) => ({ ssn: d.score }), 'DECRYPT_TYPE_MISMATCH', 'ssn'],
  ['a subtype-0 copy of a ciphertext where a string is declared', (_t, d) => ({ ssn: new Binary((d.ssn as Binary).buffer, 0) }), 'DECRYPT_TYPE_MISMATCH', 'ssn'],
];

for (const [title, tamper, code, path] of readRefusals) {
  test(`read refuses ${title}: ${code}, or a marker under the opt-in`, async (t) => {
    const [target, donor] = await Promise.all([patientRepo().insertOne(patient() as never), patientRepo().insertOne(patient() as never)]);
    await patients.updateOne({ _id: target._id }, { $set: tamper(await storedOf(target._id), await storedOf(donor._id)) });

    const err = await t.throwsAsync(patientRepo().findById(target._id), { instanceOf: DecryptionError });
    t.is<string, string>(err!.code, code);
    t.true(err!.message.includes(`"${path}"`), 'the message names the path');
    t.true(err!.message.includes(target._id.toHexString()), 'and the document');
    t.false(err!.message.includes(donor.ssn as string) || err!.message.includes(donor.phone as string), 'never a value');

    const lenient = (await lenientPatients().findById(target._id))! as unknown as Document;
    const marker = path.split('.').reduce<unknown>((v, k) => (v as Document)[k], lenient);
    t.true(marker instanceof UndecryptableValue, 'a marker stands in for the value');
    t.is(lenient.phone, target.phone, 'the rest of the document still reads');
  });
}

// A model without any encrypted field reads batches without ciphertext on a shorter path; one with ciphertext anywhere must still be refused.
class Note { @Field() text!: string; }
@Model({ db: DB, collection: 'plain_docs' })
class PlainDoc {
  @Field() _id!: ObjectId;
  @Field() title!: string;
  @Embedded(() => Note) note!: Note;
  @EmbeddedArray(() => Note) notes!: Note[];
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
}

/** Every encrypted Binary inside a value, by dotted path (DBRef and Code values searched through). */
function ciphertextsIn(value: unknown, path = ''): string[] {
  if (value instanceof Binary) return value.sub_type === 6 ? [path] : [];
  if (value instanceof DBRef) return [...ciphertextsIn(value.oid, `${path}.$id`), ...ciphertextsIn(value.fields, path)];
  if (value instanceof Code) return ciphertextsIn(value.scope, `${path}.$scope`);
  if (typeof value !== 'object' || value === null) return [];
  return Object.keys(value).flatMap((key) => ciphertextsIn((value as Document)[key], path ? `${path}.${key}` : key));
}

// Stored documents the embedded server cannot hold (keys with dots; a DBRef's $id and a Code's scope
// in a free-form value), read through the repository's reader as a find would hand them over.
test('ciphertext under a key holding a dot, in a DBRef\'s $id or in a Code\'s scope is marked where it sits; the values its dotted path also names are left alone', async (t) => {
  const donor = await patientRepo().insertOne(patient() as never);
  const c = (await storedOf(donor._id)).ssn as Binary;
  const stored = () => ({
    _id: new ObjectId(), title: 'T', note: { text: 'a' }, notes: [],
    meta: { 'x.y': c, x: { y: 'plain' }, 'q.r': c, ref: new DBRef('other', c as never, undefined, { k: c }), code: new Code('f()', { s: c, keep: 1 }) },
  });
  const model = resolveModel(PlainDoc);
  const [read] = await new DocumentReader<Document>(model, client.engine, 'marker').read([stored()]);
  const meta = read.meta as Document;
  t.true(meta['x.y'] instanceof UndecryptableValue, 'the value under the key "x.y" is marked');
  t.true(meta['q.r'] instanceof UndecryptableValue, 'the value under the key "q.r" is marked (no "q" exists)');
  t.is(meta.x.y, 'plain', 'the plain value at meta.x.y is left alone');
  t.true((meta.ref as DBRef).oid instanceof UndecryptableValue, "the DBRef's $id is marked");
  t.true((meta.ref as DBRef).fields.k instanceof UndecryptableValue, "the DBRef's extra field is marked");
  t.true((meta.code as Code).scope!.s instanceof UndecryptableValue, "the Code's scope value is marked");
  t.is((meta.code as Code).scope!.keep, 1);
  t.deepEqual(ciphertextsIn(read), [], 'no ciphertext reaches the entity');
  const err = await t.throwsAsync(new DocumentReader<Document>(model, client.engine, 'throw').read([stored()]), { instanceOf: DecryptionError });
  t.is<string, string>(err!.code, 'DECRYPT_MISPLACED');
});

const plainRefusals: Array<[string, (ciphertext: Binary) => Document, string]> = [
  ['a top-level field', (c) => ({ title: c }), 'title'],
  ['an embedded document', (c) => ({ 'note.text': c }), 'note.text'],
  ['an array of embedded documents', (c) => ({ 'notes.1.text': c }), 'notes.1.text'],
  ['a free-form object, inside an array', (c) => ({ meta: { deep: [1, { x: c }] } }), 'meta.deep.1.x'],
];
for (const [where, tamper, path] of plainRefusals) {
  test(`a model without encrypted fields refuses ciphertext planted in ${where}, or reads a marker under the opt-in`, async (t) => {
    const plainClient = await testClient([PlainDoc, Patient]);
    t.teardown(() => plainClient.close());
    const docs = raw.db(DB).collection('plain_docs');
    const donor = await plainClient.repository(Patient).insertOne(patient() as never);
    const ciphertext = (await storedOf(donor._id)).ssn as Binary;
    const _id = new ObjectId();
    await plainClient.repository(PlainDoc).insertOne({ _id, title: 'T', note: { text: 'a' }, notes: [{ text: 'b' }, { text: 'c' }] } as never);
    const clean = await plainClient.repository(PlainDoc).findById(_id);
    t.is(clean!.notes[1].text, 'c', 'an untouched document reads');
    await docs.updateOne({ _id }, { $set: tamper(ciphertext) });

    const err = await t.throwsAsync(plainClient.repository(PlainDoc).findById(_id), { instanceOf: DecryptionError });
    t.is<string, string>(err!.code, 'DECRYPT_MISPLACED');
    t.true(err!.message.includes(`"${path}"`), `the message names ${path}: ${err!.message}`);
    await t.throwsAsync(plainClient.repository(PlainDoc).find({ _id } as never).toArray(), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
    const lenient = (await plainClient.repository(PlainDoc, { onUndecryptable: 'marker' }).findById(_id))! as unknown as Document;
    const marker = path.split('.').reduce<unknown>((v, k) => (v as Document)[k], lenient);
    t.true(marker instanceof UndecryptableValue, 'a marker stands in for the ciphertext');
    await docs.deleteOne({ _id });
  });
}

test('cross-customer ciphertext: another customer\'s value copied in is refused (DECRYPT_KEY_MISMATCH), never decrypted', async (t) => {
  const [victim, other] = await client.repository(Customer).insertMany([
    { customerId: 'C-victim', name: 'Vic', ssn: 'victim-ssn' },
    { customerId: 'C-other', name: 'Otto', ssn: 'OTHER-CUSTOMER-SSN' },
  ] as never[]);
  const donor = (await customers.findOne({ _id: other._id }))!;
  await customers.updateOne({ _id: victim._id }, { $set: { ssn: donor.ssn } });

  const err = await t.throwsAsync(client.repository(Customer).findById(victim._id), { instanceOf: DecryptionError });
  t.is(err!.code, 'DECRYPT_KEY_MISMATCH');
  t.false(err!.message.includes('OTHER-CUSTOMER-SSN'));
  const lenient = (await client.repository(Customer, { onUndecryptable: 'marker' }).findById(victim._id))!;
  t.true(lenient.ssn as unknown instanceof UndecryptableValue);
  t.is((lenient.ssn as unknown as UndecryptableValue).reason, 'key-mismatch');
  t.is((await client.repository(Customer).findById(other._id))!.ssn, 'OTHER-CUSTOMER-SSN', 'the value still reads in its own document');
});

test('a write refuses caller-supplied ciphertext: another field\'s, or another customer\'s, even with the right algorithm', async (t) => {
  const donor = await patientRepo().insertOne(patient() as never);
  const stored = await storedOf(donor._id);
  const foreignField = await t.throwsAsync(patientRepo().insertOne({ ...patient(), phone: stored.contacts[0].phone } as never), { instanceOf: InvalidInputError });
  t.is(foreignField!.code, 'INPUT_CIPHERTEXT_GIVEN');
  t.regex(foreignField!.message, /Patient\.phone/);
  const viaSet = await t.throwsAsync(patientRepo().updateOne({ _id: donor._id }, { $set: { ssn: stored.ssn } } as never), { instanceOf: InvalidInputError });
  t.is(viaSet!.code, 'INPUT_CIPHERTEXT_GIVEN');

  const [, other] = await client.repository(Customer).insertMany([
    { customerId: 'C-w1', name: 'W1', ssn: 'w1' }, { customerId: 'C-w2', name: 'W2', ssn: 'w2' },
  ] as never[]);
  const otherSsn = (await customers.findOne({ _id: other._id }))!.ssn;
  const crossCustomer = await t.throwsAsync(client.repository(Customer).insertOne({ customerId: 'C-w1', name: 'W1b', ssn: otherSsn } as never), { instanceOf: InvalidInputError });
  t.is(crossCustomer!.code, 'INPUT_CIPHERTEXT_GIVEN');
  const plainField = await t.throwsAsync(patientRepo().insertOne({ ...patient(), name: stored.ssn } as never), { instanceOf: InvalidInputError });
  t.is(plainField!.code, 'INPUT_CIPHERTEXT_GIVEN', 'not in a plain field either');
  t.is(await customers.countDocuments({ name: 'W1b' }), 0);
});

test('a marker read under the opt-in and written back is refused; the stored ciphertext stays as it was', async (t) => {
  const saved = await patientRepo().insertOne(patient() as never);
  const donor = await storedOf((await patientRepo().insertOne(patient() as never))._id);
  await patients.updateOne({ _id: saved._id }, { $set: { ssn: donor.phone } });
  const before = await storedOf(saved._id);

  const loaded = (await lenientPatients().findById(saved._id))!;
  t.true(loaded.ssn as unknown instanceof UndecryptableValue);
  const replace = await t.throwsAsync(patientRepo().replaceOne({ _id: saved._id }, loaded as never), { instanceOf: InvalidInputError });
  t.is(replace!.code, 'INPUT_UNDECRYPTABLE_WRITE_BACK');
  t.regex(replace!.message, /Patient\.ssn/);
  const set = await t.throwsAsync(patientRepo().updateOne({ _id: saved._id }, { $set: { ssn: loaded.ssn } } as never), { instanceOf: InvalidInputError });
  t.is(set!.code, 'INPUT_UNDECRYPTABLE_WRITE_BACK');
  t.deepEqual(await storedOf(saved._id), before, 'nothing was written');
});

test('strongbox audit lists each provenance problem with its document id', async (t) => {
  const [a, b] = await Promise.all([patientRepo().insertOne(patient() as never), patientRepo().insertOne(patient() as never)]);
  const donor = await storedOf(b._id);
  await patients.updateOne({ _id: a._id }, { $set: { 'address.street': donor.ssn, ssn: donor.score } });
  const report = await auditModel(client, Patient, { examples: 100 });
  const street = report.unexpected.find((u) => u.path === 'address.street');
  t.truthy(street);
  t.true(street!.examples.includes(a._id.toHexString()), 'ciphertext in a plain field, with the document id');
  const ssn = report.paths.find((p) => p.path === 'ssn')!;
  t.true(ssn.mismatch.type >= 1);
  t.true(ssn.examples.includes(a._id.toHexString()), 'a type mismatch, with the document id');
  t.false(report.consistent);
});

test('save() of an entity read under the opt-in leaves its markers where they were (one in an array compared whole) and sends the other changes', async (t) => {
  const saved = await patientRepo().insertOne(patient() as never);
  const donor = await storedOf((await patientRepo().insertOne(patient() as never))._id);
  // A Deterministic ciphertext where Random is declared: read as a marker, under the opt-in.
  await patients.updateOne({ _id: saved._id }, { $set: { ssn: donor.phone, 'contacts.0.phone': donor.ssn } });
  const before = await storedOf(saved._id);
  const loaded = (await lenientPatients().findById(saved._id))! as any;
  t.true(loaded.ssn instanceof UndecryptableValue);
  loaded.name = 'Renamed';
  await lenientPatients().save(loaded);
  const after = await storedOf(saved._id);
  t.is(after.name, 'Renamed');
  t.true(Buffer.from(BSON.serialize({ v: after.ssn })).equals(BSON.serialize({ v: before.ssn })), 'the ciphertext behind the marker stays byte for byte');
  t.true(loaded.contacts[0].phone instanceof UndecryptableValue);
  t.true(Buffer.from(BSON.serialize({ v: after.contacts })).equals(BSON.serialize({ v: before.contacts })), 'the array holding a marker is not rewritten');
});

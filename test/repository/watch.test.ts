import test from 'ava';
import { Binary, BSON, Timestamp, type Document } from 'mongodb';
import { DecryptionError, EncryptedQueryError, InvalidInputError } from '../../src/errors';
import { bindSession } from '../../src/client/transaction';
import { followChangeStream, readChangeEvent } from '../../src/repository/changeStream';
import { FieldEncryptor } from '../../src/repository/encoding/fieldEncryptor';
import { Markings } from '../../src/repository/encoding/markings';
import { DocumentReader, UndecryptableValue, type UndecryptablePolicy } from '../../src/repository/reader';
import type { ChangeEvent, InsertDoc } from '../../src/repository/types';
import { requires, uniqueDbName } from '../harness/server';
import { defineFleet, defineModels } from './models';
import { LeakWatch, secretString } from '../security/leakDetector';

const DB = uniqueDbName(__filename);
const { Patient, Customer } = defineModels(DB);

const { Vehicle, Car } = defineFleet(DB);
type PatientT = InstanceType<typeof Patient>;

let watch: LeakWatch;
test.before(async () => { watch = await LeakWatch.open([Patient, Customer, Vehicle]); });
test.after.always(async () => { await watch?.close(); });
const patients = () => watch.client.repository(Patient);

const patient = (n: number) => ({
  name: `W${n}`, age: 30 + n, address: { street: 's', city: 'c', zip: secretString(100 + n) },
  contacts: [{ kind: 'home', phone: secretString(200 + n), note: secretString(300 + n) }], tags: ['watch'],
  phone: secretString(400 + n), ssn: secretString(500 + n), score: 7, medical: { bloodType: 'B', allergies: ['pollen'] },
}) as unknown as InsertDoc<PatientT>;

/** A document as the server stores it (ciphertext in every encrypted field), written through the repository. */
async function storedPatient(n: number): Promise<Document> {
  const saved = await patients().insertOne(patient(n));
  return (await patients().collection.findOne({ _id: saved._id }))!;
}

/** The parts the watcher reads events with, on the test's client: the same functions watch() uses, fed real ciphertext. */
function eventReader(model: Function, pipeline: Document[] = [], policy: UndecryptablePolicy = 'throw') {
  const repo = watch.client.repository(model as typeof Patient);
  const analysis = { encryptor: new FieldEncryptor(repo.model, watch.client.engine, watch.client.keyVault), markings: new Markings() };
  const { reading } = followChangeStream(analysis, repo.model, pipeline);
  const reader = new DocumentReader(repo.model, watch.client.engine, policy);
  return (event: Document) => readChangeEvent(reader, BSON.deserialize(BSON.serialize(event)), reading, async (images) => images);
}

const token = { _data: '8263A1B2C3000000012B022C0100296E5A1004' };
const ns = { db: DB, coll: 'patients' };

// ---------------------------------------------------------------------------------------------
// Refused before any traffic (the server needs no change streams for these)

const refusals: Array<[string, Document[], Document, RegExp, Function]> = [
  ['a $match on a Random field of fullDocument', [{ $match: { 'fullDocument.ssn': secretString(1) } }], {}, /Random/, EncryptedQueryError],
  ['a range on a Deterministic field of fullDocument', [{ $match: { 'fullDocument.phone': { $gt: secretString(1) } } }], {}, /order/, EncryptedQueryError],
  ['a model field named at the top of the event (no fullDocument. prefix)', [{ $match: { phone: secretString(1) } }], {}, /may hold ciphertext/, EncryptedQueryError],
  ['a value compared inside updateDescription', [{ $match: { 'updateDescription.updatedFields.phone': secretString(1) } }], {}, /may hold ciphertext/, EncryptedQueryError],
  ['an unknown field under fullDocument', [{ $match: { 'fullDocument.nmae': 'x' } }], {}, /no field "fullDocument.nmae"/, InvalidInputError],
  ['a literal written over an encrypted field', [{ $addFields: { 'fullDocument.phone': secretString(1) } }], {}, /plaintext/, EncryptedQueryError],
  ['a stage change streams do not allow', [{ $group: { _id: '$operationType' } }], {}, /cannot be used in a change stream/, InvalidInputError],
  ['$lookup in a change stream', [{ $lookup: { from: 'x', localField: 'a', foreignField: 'b', as: 'c' } }], {}, /cannot be used in a change stream/, InvalidInputError],
  ['$redact while events may hold ciphertext', [{ $redact: '$$KEEP' }], {}, /every level/, EncryptedQueryError],
  ['an option the table does not list', [], { comment: 'x' }, /not an option Strongbox accepts in watch/, InvalidInputError],
  ['a fullDocument mode that does not exist', [], { fullDocument: 'always' }, /fullDocument option/, InvalidInputError],
  ['two starting points', [], { resumeAfter: token, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) }, /one of resumeAfter/, InvalidInputError],
  ['a resume token holding an operator', [], { resumeAfter: { $gt: '' } }, /operator/, InvalidInputError],
  ['a pipeline that is not an array', { $match: {} } as unknown as Document[], {}, /array of stages/, InvalidInputError],
];

for (const [title, pipeline, options, message, type] of refusals) {
  test.serial(`watch refuses ${title} before any traffic`, async (t) => {
    const seen = await watch.observe(async () => {
      const stream = patients().watch(pipeline as never, options as never);
      try { await stream.tryNext(); } finally { await stream.close(); }
    });
    t.true(seen.error instanceof type, `${String(seen.error)}`);
    t.regex((seen.error as Error).message, message);
    t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], 'nothing was sent');
    t.deepEqual(watch.verdict({ pipeline, options }, seen), []);
  });
}

test.serial('watch is refused on a repository bound to a transaction (change streams cannot run inside one)', async (t) => {
  const session = watch.client.dataClient.startSession();
  try {
    t.throws(() => bindSession(patients(), session).watch(), { instanceOf: InvalidInputError, code: 'INPUT_NOT_IN_TRANSACTION' });
  } finally { await session.endSession(); }
});

test.serial('the analyzed pipeline reaches the server with the Deterministic value encrypted (command monitoring at the aggregate with $changeStream)', async (t) => {
  const stored = await storedPatient(1);
  const pipeline = [{ $match: { operationType: { $in: ['insert', 'update'] }, 'fullDocument.phone': secretString(401), 'fullDocument.address.zip': { $in: [secretString(101)] } } }];
  const seen = await watch.observe(async () => {
    const stream = patients().watch(pipeline as never, { fullDocument: 'updateLookup', maxAwaitTimeMS: 10 });
    try { await stream.tryNext(); } finally { await stream.close(); }
  });
  // FerretDB answers that it has no change streams; MongoDB answers with an empty batch. The command went out either way.
  const aggregate = seen.dataCommands.find((c) => c.commandName === 'aggregate');
  t.truthy(aggregate, 'the aggregate was sent');
  const [changeStream, match] = aggregate!.command.pipeline as Document[];
  t.deepEqual(changeStream.$changeStream.fullDocument, 'updateLookup');
  const phone = match.$match['fullDocument.phone'] as Binary;
  t.true(phone instanceof Binary && phone.sub_type === 6 && phone.buffer[0] === 1, 'Deterministic ciphertext in place of the value');
  t.deepEqual(Buffer.from(phone.buffer), Buffer.from((stored.phone as Binary).buffer), 'the ciphertext the stored document holds, so the server can match it');
  t.deepEqual(Buffer.from((match.$match['fullDocument.address.zip'].$in[0] as Binary).buffer), Buffer.from((stored.address.zip as Binary).buffer));
  t.deepEqual(match.$match.operationType, { $in: ['insert', 'update'] });
  t.deepEqual(watch.verdict(pipeline, seen), [], 'no plaintext of an encrypted field in any command');
});

test.serial("a variant's repository pins the variant on the documents events carry, and reads them as the variant", async (t) => {
  const cars = watch.client.repository(Car);
  const seen = await watch.observe(async () => {
    const stream = cars.watch([{ $match: { 'fullDocument.vin': secretString(800) } }], { maxAwaitTimeMS: 10 });
    try { await stream.tryNext(); } finally { await stream.close(); }
  });
  const aggregate = seen.dataCommands.find((c) => c.commandName === 'aggregate');
  t.truthy(aggregate, 'the aggregate was sent');
  const [, pin, match] = aggregate!.command.pipeline as Document[];
  const pinOf = (image: string) => ({ $or: [{ [`${image}.kind`]: { $eq: 'car' } }, { [image]: { $exists: false } }] });
  t.deepEqual(pin, { $match: { $and: [pinOf('fullDocument'), pinOf('fullDocumentBeforeChange')] } });
  t.true(match.$match['fullDocument.vin'] instanceof Binary);
  t.deepEqual(watch.verdict({}, seen), []);

  const car = await cars.insertOne({ name: 'Beetle', vin: secretString(801) } as never);
  const stored = (await cars.collection.findOne({ _id: car._id }))!;
  const event = await eventReader(Car)({ _id: token, operationType: 'insert', ns, documentKey: { _id: car._id }, fullDocument: stored });
  t.true(event.fullDocument instanceof Car);
  t.is(event.fullDocument.vin, secretString(801));
});

// ---------------------------------------------------------------------------------------------
// Event decryption: real ciphertext from the real engine, read by the function watch() reads events with

test.serial('an insert event: fullDocument is checked, decrypted and hydrated like a read; the rest stays as it is', async (t) => {
  const stored = await storedPatient(2);
  const read = eventReader(Patient);
  const event = await read({ _id: token, operationType: 'insert', clusterTime: new Timestamp({ t: 5, i: 1 }), ns, documentKey: { _id: stored._id }, fullDocument: stored }) as ChangeEvent<PatientT>;
  t.is(event.operationType, 'insert');
  if (event.operationType !== 'insert') return;
  t.true(event.fullDocument instanceof Patient);
  t.is(event.fullDocument.phone, secretString(402));
  t.is(event.fullDocument.ssn, secretString(502));
  t.is(event.fullDocument.address.zip, secretString(102));
  t.is(event.fullDocument.contacts[0].note, secretString(302));
  t.deepEqual(event.fullDocument.medical.allergies, ['pollen']);
  t.true(event.documentKey._id.equals(stored._id));
  t.deepEqual(event._id, token);
});

test.serial('an update event: updatedFields are decrypted path by path (fields, embedded paths, arrays of embedded documents, one element), removedFields kept', async (t) => {
  const stored = await storedPatient(3);
  const read = eventReader(Patient);
  const updatedFields = {
    phone: stored.phone, 'address.zip': stored.address.zip, contacts: stored.contacts, 'contacts.0': stored.contacts[0], 'contacts.0.note': stored.contacts[0].note,
    score: stored.score, name: 'renamed', medical: stored.medical,
  };
  const event = await read({ _id: token, operationType: 'update', ns, documentKey: { _id: stored._id }, updateDescription: { updatedFields, removedFields: ['ssn'], truncatedArrays: [] } }) as ChangeEvent<PatientT>;
  if (event.operationType !== 'update') return t.fail(event.operationType);
  const u = event.updateDescription.updatedFields;
  t.is(u.phone, secretString(403));
  t.is(u['address.zip'], secretString(103));
  t.is((u.contacts as Document[])[0].phone, secretString(203));
  t.is((u['contacts.0'] as Document).note, secretString(303));
  t.is(u['contacts.0.note'], secretString(303));
  t.is(u.score, 7);
  t.is(u.name, 'renamed');
  t.deepEqual((u.medical as Document).allergies, ['pollen']);
  t.deepEqual(event.updateDescription.removedFields, ['ssn']);
});

test.serial('ciphertext where the model does not put it, or of another field, is refused and never decrypted', async (t) => {
  const stored = await storedPatient(4);
  const read = eventReader(Patient);
  const update = (updatedFields: Document, extra: Document = {}) => read({ _id: token, operationType: 'update', ns, documentKey: { _id: stored._id }, updateDescription: { updatedFields, removedFields: [] }, ...extra });
  await t.throwsAsync(update({ phone: stored.ssn }), { instanceOf: DecryptionError, code: 'DECRYPT_ALGORITHM_MISMATCH' });
  await t.throwsAsync(update({ name: stored.phone }), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  await t.throwsAsync(update({ 'medical.bloodType': stored.phone }), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  await t.throwsAsync(update({ 'address.zip': stored.score }), { instanceOf: DecryptionError, code: 'DECRYPT_ALGORITHM_MISMATCH' });
  await t.throwsAsync(update({ 'contacts.1.phone': stored.contacts[0].note }), { instanceOf: DecryptionError, code: 'DECRYPT_ALGORITHM_MISMATCH' });
  await t.throwsAsync(update({ 'tags.0': stored.phone }), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  await t.throwsAsync(update({}, { ns: { db: stored.phone } }), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  await t.throwsAsync(update({}, { updateDescription: { updatedFields: {}, removedFields: [stored.phone] } }), { instanceOf: DecryptionError, code: 'DECRYPT_MISPLACED' });
  const err = await t.throwsAsync(update({ phone: stored.ssn }));
  t.false(err!.message.includes('EKRIT'));

  const marking = eventReader(Patient, [], 'marker');
  const marked = await marking({ _id: token, operationType: 'update', ns, documentKey: { _id: stored._id }, updateDescription: { updatedFields: { phone: stored.ssn, 'contacts.0': { kind: 'k', phone: stored.ssn }, 'address.zip': stored.address.zip }, removedFields: [] } });
  const u = marked.updateDescription.updatedFields;
  t.true(u.phone instanceof UndecryptableValue && u.phone.reason === 'algorithm-mismatch');
  t.true(u['contacts.0'].phone instanceof UndecryptableValue);
  t.is(u['address.zip'], secretString(104), 'the rest of the event is still read');
});

test.serial('per-document keys: updated values are checked against the key the post-image names; without a post-image the key is unknown', async (t) => {
  const customers = watch.client.repository(Customer);
  const a = await customers.insertOne({ customerId: `ca-${Date.now()}`, name: 'A', ssn: secretString(901) });
  const b = await customers.insertOne({ customerId: `cb-${Date.now()}`, name: 'B', ssn: secretString(902) });
  const storedA = (await customers.collection.findOne({ _id: a._id }))!;
  const storedB = (await customers.collection.findOne({ _id: b._id }))!;
  const read = eventReader(Customer);
  const update = (ssn: unknown, fullDocument?: Document) => read({ _id: token, operationType: 'update', ns, documentKey: { _id: a._id }, updateDescription: { updatedFields: { ssn }, removedFields: [] }, ...(fullDocument ? { fullDocument } : {}) });
  const good = await update(storedA.ssn, storedA);
  t.is(good.updateDescription.updatedFields.ssn, secretString(901));
  t.true(good.fullDocument instanceof Customer);
  await t.throwsAsync(update(storedB.ssn, storedA), { instanceOf: DecryptionError, code: 'DECRYPT_KEY_MISMATCH' });
  await t.throwsAsync(update(storedA.ssn), { instanceOf: DecryptionError, code: 'DECRYPT_MISSING_KEY' });
});

test.serial('a pipeline that makes fullDocument the event is read along the shape the analysis followed', async (t) => {
  const stored = await storedPatient(5);
  const read = eventReader(Patient, [{ $match: { operationType: 'insert' } }, { $replaceRoot: { newRoot: '$fullDocument' } }]);
  const doc = await read(stored);
  t.is(doc.phone, secretString(405));
  t.is(doc.address.zip, secretString(105));
  const moved = eventReader(Patient, [{ $project: { who: '$fullDocument.phone', operationType: 1 } }]);
  t.is((await moved({ _id: token, operationType: 'insert', who: stored.phone })).who, secretString(405));
  await t.throwsAsync(moved({ _id: token, operationType: 'insert', who: stored.ssn }), { instanceOf: DecryptionError, code: 'DECRYPT_ALGORITHM_MISMATCH' });
});

// ---------------------------------------------------------------------------------------------
// End to end (MongoDB replica set: MONGODB_URI)

requires('changeStreams')('watch yields typed, decrypted events for inserts, updates, replaces and deletes, filtered on an encrypted field', async (t) => {
  const repo = patients();
  const stream = repo.watch([{ $match: { $or: [{ 'fullDocument.phone': secretString(406) }, { operationType: 'delete' }] } }], { fullDocument: 'updateLookup' });
  try {
    await stream.tryNext(); // opens the stream before the writes
    const inserted = await repo.insertOne(patient(6));
    await repo.insertOne(patient(7)); // filtered out on the server by its phone's ciphertext
    await repo.updateOne({ _id: inserted._id }, { $set: { 'address.zip': secretString(199), name: 'W6b' } });
    await repo.replaceOne({ _id: inserted._id }, { ...patient(6), name: 'W6c' } as never);
    await repo.deleteOne({ _id: inserted._id });
    const events: ChangeEvent<PatientT>[] = [];
    for await (const event of stream) {
      events.push(event);
      if (events.length === 4) break;
    }
    t.deepEqual(events.map((e) => e.operationType), ['insert', 'update', 'replace', 'delete']);
    const [insert, update, replace, remove] = events;
    if (insert.operationType !== 'insert' || update.operationType !== 'update' || replace.operationType !== 'replace' || remove.operationType !== 'delete') return;
    t.true(insert.fullDocument instanceof Patient);
    t.is(insert.fullDocument.ssn, secretString(506));
    t.is(update.updateDescription.updatedFields['address.zip'], secretString(199));
    t.is(update.fullDocument?.name, 'W6b');
    t.is(update.fullDocument?.address.zip, secretString(199));
    t.is(replace.fullDocument?.name, 'W6c');
    t.is(replace.fullDocument?.contacts[0].note, secretString(306));
    t.true(remove.documentKey._id.equals(inserted._id));
    t.truthy(stream.resumeToken);
  } finally {
    await stream.close();
  }
});

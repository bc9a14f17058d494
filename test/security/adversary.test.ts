/**
 * Findings of an adversarial pass over the fail-closed promise (issues 12 and 13), each as one
 * named regression test written the way a hostile or careless caller writes plain JavaScript
 * against the public API, against the real server with command monitoring (every command is
 * recorded when it starts, so what the embedded server cannot execute is still checked).
 *
 * Each test asserts the correct behaviour: refused with a StrongboxError before any command, or
 * no plaintext of an encrypted field in any command, query-log line or error, and nothing stored
 * under another customer's key. They fail until the finding is fixed. Tests run serially: each
 * one's commands are told apart by time.
 */
import test, { type ExecutionContext } from 'ava';
import { BSON, BSONRegExp, ObjectId, type Document, type MongoClient } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { DecryptionError, Encrypted, Field, Id, Model, Ref, StrongboxError, type Deterministic, type Random } from '../../src/index';
import { followChangeStream, readChangeEvent } from '../../src/repository/changeStream';
import { FieldEncryptor } from '../../src/repository/encoding/fieldEncryptor';
import { Markings } from '../../src/repository/encoding/markings';
import { DocumentReader } from '../../src/repository/reader';
import { rawClient } from '../harness/client';
import { requires, uniqueDbName } from '../harness/server';
import { defineFailClosedModel, ENCRYPTED_PATHS } from './failClosedModel';
import { LeakWatch, SECRET_INT_RANGE, secretString } from './leakDetector';
import { exposedText } from './support';
import { defineFleet } from '../repository/models';

const DB = uniqueDbName(__filename);
const { Account } = defineFailClosedModel(DB);

/** A collection of variants (single-collection inheritance): a Car's repository must hand over only Cars. */
const { Vehicle, Car, Truck } = defineFleet(DB);

/** A model whose encrypted fields share their names with fields every change event has (MongoDB manual, "Change Events"). */
@Model({ db: DB, collection: 'messages', keyAltName: 'mail' })
class Message {
  @Id() _id!: ObjectId;
  @Field() subject!: string;
  /** The recipient: named like a rename event's target namespace. */
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) to!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) wallTime!: Random<string>;
}

/** A referenced model, and one whose reference to it is encrypted (the link between the two is the secret). */
@Model({ db: DB, collection: 'owners', keyAltName: 'owners' })
class Owner {
  @Id() _id!: ObjectId;
  @Field() label!: string;
}
@Model({ db: DB, collection: 'deeds', keyAltName: 'deeds' })
class Deed {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId' }) @Ref(() => Owner) owner!: Deterministic<ObjectId>;
}

type Loose = Record<string, (...args: unknown[]) => any>;
let watch: LeakWatch;
let raw: MongoClient;
const accounts = () => watch.client.repository(Account) as unknown as Loose;
const stored = () => raw.db(DB).collection('accounts');
let counter = 0;
const SECRET = () => secretString(700_000 + counter++);
const SECRET_INT = () => SECRET_INT_RANGE.min + 700_000 + counter++;

test.before(async () => {
  watch = await LeakWatch.open([Account, Vehicle, Car, Truck, Owner, Deed, Message]);
  raw = await rawClient();
});
test.after.always(async () => { await watch?.close(); await raw?.close(); });

const run = (call: () => unknown) => watch.run(call);
const refusedOrClean = (t: ExecutionContext, input: unknown, call: () => unknown) => watch.refusedOrClean(t, input, call);

function accountDoc(customerId: string, name: string, vault = SECRET()): Document {
  return {
    name, customerId, age: 40, tags: ['x'], phone: SECRET(), pin: 600_000_123, ssn: SECRET(), vault,
    address: { street: 'Main', city: 'Town', zip: SECRET() }, contacts: [{ kind: 'home', phone: SECRET(), note: SECRET() }],
    medical: { bloodType: SECRET(), allergies: [] },
  };
}

/** The data key id of the stored `vault` of each named document. */
async function vaultKeys(names: string[]): Promise<Map<string, { customerId: string; keyId: string | undefined }>> {
  const docs = await stored().find({ name: { $in: names } }).toArray();
  return new Map(docs.map((d) => [d.name as string, { customerId: d.customerId as string, keyId: inspectEncryptedBlob(d.vault)?.keyId }]));
}

/** A filter whose key field reads `first` once, then `later` on every read after. */
function togglingFilter(name: string, first: string, later: string): Document {
  let reads = 0;
  return { name, get customerId() { return reads++ === 0 ? first : later; } };
}

// ---------------------------------------------------------------------------------------------
// Errors quote what the caller put into an encrypted field

test.serial('errors: a wrong-typed value for an encrypted field is described without echoing anything it carries (constructor name)', async (t) => {
  // describe() names a value by value.constructor.name, which an object literal controls.
  const filter = { phone: { constructor: { name: SECRET() } } };
  await refusedOrClean(t, filter, () => accounts().find(filter));
  const document = { ...accountDoc('alice', 'ctor'), phone: { constructor: { name: SECRET() } } };
  await refusedOrClean(t, document, () => accounts().insertOne(document));
});

test.serial('errors: an unknown key inside a value encrypted whole (Random object) is not quoted in the error', async (t) => {
  // The keys of `medical` are part of its plaintext: the whole object is one Random ciphertext.
  const document = { ...accountDoc('alice', 'medkey'), medical: { bloodType: 'A', allergies: [], [SECRET()]: true } };
  await refusedOrClean(t, document, () => accounts().insertOne(document));
  const update = [{ name: 'medkey' }, { $set: { medical: { bloodType: 'A', allergies: [], [SECRET()]: true } } }];
  await refusedOrClean(t, update, () => accounts().updateOne(...update));
});

// ---------------------------------------------------------------------------------------------
// Pipelines tracked by shape

test.serial('aggregate: $replaceWith / $replaceRoot onto an array of embedded documents, then $match on its Deterministic field, is encrypted or refused', async (t) => {
  for (const pipeline of [
    [{ $replaceWith: '$contacts' }, { $match: { phone: SECRET() } }],
    [{ $replaceRoot: { newRoot: '$contacts' } }, { $match: { phone: SECRET() } }],
    [{ $facet: { first: [{ $replaceWith: '$contacts' }, { $match: { phone: SECRET() } }] } }],
  ]) {
    await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
  }
});

test.serial('aggregate: a $match on an encrypted field of the model after a stage removed it does not send the value in clear', async (t) => {
  // A careless pipeline: the comparand is plaintext meant for `phone`; the shape tracker calls the removed path plain.
  for (const pipeline of [
    [{ $project: { phone: 0 } }, { $match: { phone: SECRET() } }],
    [{ $project: { name: 1 } }, { $match: { phone: SECRET() } }],
    [{ $unset: 'phone' }, { $match: { phone: SECRET() } }],
    [{ $project: { phone: '$$REMOVE' } }, { $match: { phone: SECRET() } }],
    [{ $addFields: { phone: '$$REMOVE' } }, { $match: { phone: SECRET() } }],
  ]) {
    await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
  }
});

// ---------------------------------------------------------------------------------------------
// Per-document keys stay bound to the stored document

/**
 * Runs `call` on Alice's document with a key field that reads "bob" first and "alice" after:
 * refused (nothing changed), or Alice's vault is still under Alice's key and her customerId unchanged.
 */
async function keyReadOnce(t: ExecutionContext, label: string, call: (name: string) => unknown): Promise<void> {
  const alice = `${label}-alice`;
  const bob = `${label}-bob`;
  await accounts().insertOne(accountDoc('alice', alice));
  await accounts().insertOne(accountDoc('bob', bob));
  const before = await vaultKeys([alice, bob]);
  t.not(before.get(alice)?.keyId, before.get(bob)?.keyId, 'each customer has a key of their own');
  const seen = await run(() => call(alice));
  t.deepEqual(watch.verdict(label, seen), []);
  const after = await vaultKeys([alice, bob]);
  if (seen.error !== undefined) {
    t.true(seen.error instanceof StrongboxError, `failed with ${(seen.error as Error).constructor.name}: ${(seen.error as Error).message}`);
    if (seen.error instanceof DecryptionError) t.fail('the write happened: its result did not decrypt under the document\'s key');
  }
  t.is(after.get(alice)?.customerId, 'alice', `${label}: Alice's document still names her key`);
  t.is(after.get(alice)?.keyId, before.get(alice)?.keyId, `${label}: Alice's vault is under Alice's key, not Bob's`);
}

test.serial('per-document keys: a filter whose key field changes between reads cannot encrypt under one customer\'s key and write another\'s document', async (t) => {
  // pinnedKeyRoot reads filter.customerId ("bob": the key), analyzeFilter reads it again ("alice": the document).
  const vault = () => ({ $set: { vault: SECRET() } });
  await keyReadOnce(t, 'toggle-updateOne', (name) => accounts().updateOne(togglingFilter(name, 'bob', 'alice'), vault()));
  await keyReadOnce(t, 'toggle-bulkWrite', (name) => accounts().bulkWrite([{ updateOne: { filter: togglingFilter(name, 'bob', 'alice'), update: vault() } }]));
  await keyReadOnce(t, 'toggle-findOneAndUpdate', (name) => accounts().findOneAndUpdate(togglingFilter(name, 'bob', 'alice'), vault()));
});

test.serial('per-document keys: a replacement whose key field changes between reads cannot land under another customer\'s key', async (t) => {
  // encodeReplacement reads customerId ("bob": the key), bindReplacementKeys reads it again ("alice": the pin).
  await keyReadOnce(t, 'toggle-replaceOne', (name) => {
    let reads = 0;
    const replacement = accountDoc('unused', name);
    delete replacement.customerId;
    Object.defineProperty(replacement, 'customerId', { enumerable: true, get: () => (reads++ === 0 ? 'bob' : 'alice') });
    return accounts().replaceOne({ name }, replacement);
  });
});

test.serial('per-document keys: the equality that pins a key field is not evaluated under a case-insensitive collation', async (t) => {
  // Under { strength: 2 } the pin customerId: "alice" also matches "Alice" / "ALICE", customers with keys of their own.
  const collation = { locale: 'en', strength: 2 };
  const calls: Array<[string, () => unknown]> = [
    ['updateMany', () => accounts().updateMany({ customerId: 'alice' }, { $set: { vault: SECRET() } }, { collation })],
    ['updateOne', () => accounts().updateOne({ customerId: 'alice', name: 'coll' }, { $set: { vault: SECRET() } }, { collation })],
    ['replaceOne', () => accounts().replaceOne({ name: 'coll' }, accountDoc('ALICE', 'coll'), { collation })],
    ['findOneAndReplace', () => accounts().findOneAndReplace({ name: 'coll' }, accountDoc('ALICE', 'coll'), { collation })],
  ];
  for (const [what, call] of calls) {
    const seen = await run(call);
    t.deepEqual(watch.verdict(what, seen), []);
    const collated = seen.dataCommands.filter((c) => JSON.stringify(c.command).includes('"strength":2'));
    t.true(seen.error instanceof StrongboxError || collated.length === 0,
      `${what} sent a per-document-key write with a case-insensitive collation (${collated.map((c) => c.commandName).join(', ')}) instead of refusing it`);
  }
});

// ---------------------------------------------------------------------------------------------
// Ciphertext provenance on reads

test.serial('aggregate: ciphertext planted at a path the model does not declare is not decrypted (no decryption oracle)', async (t) => {
  const bobsVault = SECRET();
  const bobsSsn = SECRET();
  await accounts().insertOne({ ...accountDoc('bob', 'oracle-bob', bobsVault), ssn: bobsSsn });
  await accounts().insertOne(accountDoc('carol', 'oracle-carol'));
  const bob = (await stored().findOne({ name: 'oracle-bob' }))!;
  t.truthy(inspectEncryptedBlob(bob.vault), 'Bob\'s vault is stored encrypted');
  // Whoever can write to the database copies Bob's ciphertexts into Carol's document, at undeclared paths.
  await stored().updateOne({ name: 'oracle-carol' }, { $set: { planted: bob.vault, 'address.extra': bob.ssn } });
  const findSeen = await run(() => accounts().find({ name: 'oracle-carol' }));
  t.true(findSeen.error instanceof DecryptionError, 'find refuses the planted ciphertext (the reference behaviour)');
  for (const pipeline of [[{ $match: { name: 'oracle-carol' } }], [], [{ $sort: { age: 1 } }]]) {
    let text = '';
    try {
      text = JSON.stringify(await accounts().aggregate(pipeline).toArray());
    } catch (err) {
      t.true(err instanceof StrongboxError, `refused with ${(err as Error).constructor.name}`);
      text = exposedText(err);
    }
    t.false(text.includes(bobsVault), `aggregate ${JSON.stringify(pipeline)} decrypted Bob's vault planted in Carol's document`);
    t.false(text.includes(bobsSsn), `aggregate ${JSON.stringify(pipeline)} decrypted Bob's ssn planted in Carol's address`);
  }
});

// ---------------------------------------------------------------------------------------------
// Options: checked once, sent as checked

test.serial('options: a find option that changes between reads is sent as it was checked', async (t) => {
  // openCursor picks the options it forwards before checkOptions reads them again.
  let commentReads = 0;
  const byComment = { get comment() { return commentReads++ === 0 ? { phone: SECRET() } : 'checked'; } };
  await refusedOrClean(t, ['comment'], () => accounts().find({}, byComment));
  let hintReads = 0;
  const byHint = { get hint() { return hintReads++ === 0 ? { phone: SECRET() } : 'name_1'; } };
  await refusedOrClean(t, ['hint'], () => accounts().find({}, byHint));
});

test.serial('options: a session that is not a ClientSession of this client is refused with a StrongboxError before any command', async (t) => {
  const foreign = raw.startSession();
  try {
    for (const [label, session] of [['another client\'s session', foreign], ['a plain object', { id: 'x' }]] as const) {
      const seen = await run(() => accounts().find({ name: 'x' }, { session }));
      t.true(seen.error instanceof StrongboxError, `${label}: failed with ${seen.error === undefined ? 'success' : (seen.error as Error).constructor.name} instead of a StrongboxError`);
      t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], `${label}: nothing was sent`);
    }
  } finally {
    await foreign.endSession();
  }
});

// ---------------------------------------------------------------------------------------------
// Entry points of session 22: watch, typed aggregate / lookup, paginate with a projection, populate

/** Opens a change stream and asks for one event, so its aggregate with $changeStream is sent (FerretDB then refuses it). */
async function watchOnce(repo: Loose, pipeline: unknown, options: unknown = {}): Promise<void> {
  const stream = repo.watch(pipeline, options);
  try { await stream.tryNext(); } finally { await stream.close(); }
}

/** The function watch() reads events with, on the test's client, for a pipeline of `model`'s repository. */
function eventReader(model: Function, pipeline: Document[] = []) {
  const repo = watch.client.repository(model as typeof Account) as unknown as { model: Parameters<typeof followChangeStream>[1] };
  const analysis = { encryptor: new FieldEncryptor(repo.model, watch.client.engine, watch.client.keyVault), markings: new Markings() };
  const { reading } = followChangeStream(analysis, repo.model, pipeline);
  const reader = new DocumentReader(repo.model, watch.client.engine, 'throw');
  return (event: Document) => readChangeEvent(reader, BSON.deserialize(BSON.serialize(event)), reading, async (images) => images);
}
const RESUME_TOKEN = { _data: '8263A1B2C3000000012B022C0100296E5A1004' };

test.serial('aggregate: $count named like an encrypted field of the model, then $match on that name, does not send the value in clear', async (t) => {
  // $count's output name is not checked like $group's or $addFields' outputs: the name becomes a plain computed field.
  for (const pipeline of [
    [{ $count: 'phone' }, { $match: { phone: SECRET() } }],
    [{ $count: 'ssn' }, { $match: { ssn: { $in: [SECRET()] } } }],
    [{ $count: 'address' }, { $match: { 'address.zip': SECRET() } }],
    [{ $count: 'pin' }, { $match: { pin: SECRET_INT() } }],
    [{ $group: { _id: null } }, { $count: 'medical' }, { $match: { 'medical.bloodType': SECRET() } }],
    [{ $facet: { inner: [{ $count: 'phone' }, { $match: { phone: SECRET() } }] } }],
  ]) {
    await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
  }
});

test.serial('aggregate: a $facet output named like an encrypted field of the model, then $match on that name, does not send the value in clear', async (t) => {
  // Once no field may hold ciphertext, a facet becomes a plain computed field, whatever its name.
  for (const pipeline of [
    [{ $project: { name: 1 } }, { $facet: { phone: [] } }, { $match: { phone: SECRET() } }],
    [{ $project: { age: 1 } }, { $facet: { contacts: [{ $limit: 1 }] } }, { $match: { 'contacts.phone': SECRET() } }],
  ]) {
    await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
  }
});

test.serial('aggregate: a self-join whose foreignField is an encrypted field of the model is refused before any command', async (t) => {
  // The server would compare stored plain values with ciphertext: the join is silently empty (or matches copies of ciphertext).
  for (const lookup of [
    { from: 'accounts', localField: 'name', foreignField: 'phone', as: 'same' },
    { from: 'accounts', localField: 'customerId', foreignField: 'contacts.phone', as: 'same' },
  ]) {
    const seen = await run(() => accounts().aggregate([{ $lookup: lookup }]));
    t.deepEqual(watch.verdict(lookup, seen), []);
    t.true(seen.error instanceof StrongboxError, `${lookup.foreignField}: ${seen.error === undefined ? 'succeeded' : `failed with ${(seen.error as Error).constructor.name}`} instead of a StrongboxError`);
    t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], `${lookup.foreignField}: nothing was sent`);
  }
});

test.serial('watch: a $match on fullDocument.<encrypted field> after a stage removed or replaced the image does not send the value in clear', async (t) => {
  // ChangeEventScope protects <image>.* only while the image is there; once a stage removed or replaced it,
  // <image>.phone is "a new plain name" and the comparand (or a literal written there) goes out as it is.
  const removals = (image: string): Document[] => [
    { $unset: image }, { $unset: [image] }, { $project: { [image]: 0 } }, { $project: { operationType: 1 } },
    { $project: { who: `$${image}.name` } }, { $replaceRoot: { newRoot: '$ns' } }, { $replaceWith: `$${image}` },
  ];
  for (const image of ['fullDocument', 'fullDocumentBeforeChange']) {
    for (const removal of removals(image)) {
      for (const [path, kind] of ENCRYPTED_PATHS) {
        const value = kind === 'int' ? SECRET_INT() : SECRET();
        for (const pipeline of [
          [removal, { $match: { [`${image}.${path}`]: value } }],
          [removal, { $addFields: { [`${image}.${path}`]: value } }],
        ]) {
          await refusedOrClean(t, pipeline, () => watchOnce(accounts(), pipeline));
        }
      }
      const whole = [removal, { $match: { [image]: { phone: SECRET() } } }];
      await refusedOrClean(t, whole, () => watchOnce(accounts(), whole));
    }
  }
});

test.serial('watch: an encrypted field named like a field of every change event (to, wallTime), compared at the top of the event (a forgotten fullDocument. prefix), is not sent in clear', async (t) => {
  // ChangeEventScope lists the event's own fields as plain before it looks at the model: the model's
  // `to` loses to the rename target `to`, so a recipient compared there goes out as it is. A string can
  // never equal the event's `to` (a namespace document): the value was meant for the model's field.
  const messages = () => watch.client.repository(Message) as unknown as Loose;
  for (const pipeline of [
    [{ $match: { to: SECRET() } }],
    [{ $match: { to: { $in: [SECRET()] } } }],
    [{ $match: { wallTime: SECRET() } }],
    [{ $project: { subject: '$fullDocument.subject', to: 1 } }, { $match: { to: SECRET() } }],
  ]) {
    await refusedOrClean(t, pipeline, () => watchOnce(messages(), pipeline));
  }
});

test.serial("watch: a variant's stream does not hand over another variant's pre-image as an instance of the variant", async (t) => {
  // The variant pin lets events without fullDocument through (deletes, updates without updateLookup); their
  // fullDocumentBeforeChange may be any document of the collection, and is read and hydrated as the variant.
  const bike = new ObjectId();
  await raw.db(DB).collection('vehicles').insertOne({ _id: bike, kind: 'bike', name: 'not a car' });
  const preImage = (await raw.db(DB).collection('vehicles').findOne({ _id: bike }))!;
  const ns = { db: DB, coll: 'vehicles' };
  const read = eventReader(Car);
  for (const event of [
    { _id: RESUME_TOKEN, operationType: 'delete', ns, documentKey: { _id: bike }, fullDocumentBeforeChange: preImage },
    { _id: RESUME_TOKEN, operationType: 'update', ns, documentKey: { _id: bike }, updateDescription: { updatedFields: { name: 'x' }, removedFields: [] }, fullDocumentBeforeChange: preImage },
  ]) {
    let delivered: Document | undefined;
    try {
      delivered = await read(event);
    } catch (err) {
      t.true(err instanceof StrongboxError, `${event.operationType}: failed with ${(err as Error).constructor.name}`);
    }
    t.false(delivered?.fullDocumentBeforeChange instanceof Car, `${event.operationType}: a document of kind "bike" reached the app as a Car`);
  }
});

test.serial('paginate: a projection that computes _id (which the tokens are made of) is refused before any command', async (t) => {
  // assertProjectionKeepsOrder asks the sort keys to be kept with 1/true, but checks only that _id is not dropped:
  // with _id: '$phone' the server puts phone's ciphertext at _id, the reader decrypts it (a moved field), and page.next
  // carries the plaintext phone in base64url (MongoDB evaluates expressions in find projections since 4.4).
  for (let i = 0; i < 2; i++) await accounts().insertOne(accountDoc('alice', `pg-${i}`));
  for (const projection of [{ name: 1, _id: '$phone' }, { name: 1, _id: '$ssn' }, { name: 1, _id: { $concat: ['$name', '-'] } }]) {
    const seen = await run(async () => {
      const page = await accounts().paginate({ name: { $in: ['pg-0', 'pg-1'] } }, { sort: { name: 1 }, limit: 1, projection });
      for (const token of [page.next, page.previous]) {
        if (token) t.false(Buffer.from(token, 'base64url').toString('utf8').includes('EKRIT'), 'a continuation token carries plaintext of an encrypted field');
      }
    });
    t.deepEqual(watch.verdict(projection, seen), []);
    t.true(seen.error instanceof StrongboxError, `${JSON.stringify(projection)}: ${seen.error === undefined ? 'accepted' : `failed with ${(seen.error as Error).constructor.name}`} instead of INPUT_PAGE_PROJECTION`);
    t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], `${JSON.stringify(projection)}: nothing was sent`);
  }
});

test.serial('paginate: a forged token whose value is a regular expression for a string key is refused before any command', async (t) => {
  // decodeToken checks values with checkFilterValue, which lets a regex stand for a string (it is a filter operand there).
  const token = Buffer.from(BSON.EJSON.stringify({ v: 1, o: [['name', 1], ['_id', 1]], k: [new BSONRegExp('.'), new ObjectId()] }, { relaxed: false }), 'utf8').toString('base64url');
  const seen = await run(() => accounts().paginate({}, { sort: { name: 1 }, limit: 1, after: token }));
  t.true(seen.error instanceof StrongboxError, `failed with ${seen.error === undefined ? 'success' : (seen.error as Error).constructor.name} instead of INPUT_PAGE_TOKEN`);
  t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], 'nothing was sent');
});

test.serial('populate: an encrypted @Ref field is not populated by sending its plaintext id in a query', async (t) => {
  // The id is encrypted so the server cannot link the deed to its owner; populate sends it in clear ($in on owners._id).
  const owners = watch.client.repository(Owner) as unknown as Loose;
  const deeds = watch.client.repository(Deed) as unknown as Loose;
  const owner = await owners.insertOne({ label: 'owner' });
  const deed = await deeds.insertOne({ title: 'deed', owner: owner._id });
  t.not((await raw.db(DB).collection('deeds').findOne({ _id: deed._id }))!.owner?._bsontype, 'ObjectId', 'the reference is stored encrypted');
  const items = await deeds.find({ _id: deed._id }).toArray();
  const seen = await run(() => deeds.populate(items, ['owner']));
  const hex = (owner._id as ObjectId).toHexString();
  const carried = seen.dataCommands.filter((c) => BSON.EJSON.stringify(c.command).includes(hex)).map((c) => c.commandName);
  t.deepEqual(carried, [], 'the plaintext of the encrypted reference was sent to the server');
  t.true(seen.error === undefined || seen.error instanceof StrongboxError, `failed with ${(seen.error as Error)?.constructor?.name}`);
});

test.serial('errors: a document named in a DecryptionError by an _id the pipeline filled with a moved encrypted value does not quote the decrypted plaintext', async (t) => {
  // The reader decrypts every slot of a document in place, then names a failing document by its _id: when the
  // pipeline put a moved encrypted field at _id, that _id is already plaintext. Here through the event reader
  // (a projection of the event; `vault` has a per-document key the result no longer names, so it fails).
  // MongoDB itself rejects change-stream pipelines that modify the event's _id (SERVER-37786, since 4.2): the
  // realistic paths are paginate / find / aggregate (next test); the event reader shares the DocumentReader and
  // shows the flaw on every server.
  await accounts().insertOne(accountDoc('alice', 'idmsg'));
  const doc = (await stored().findOne({ name: 'idmsg' }))!;
  const read = eventReader(Account, [{ $project: { _id: '$fullDocument.phone', vault: '$fullDocument.vault' } }]);
  const error = await t.throwsAsync(read({ _id: doc.phone, vault: doc.vault }));
  t.true(error instanceof DecryptionError, `failed with ${error?.constructor.name}`);
  t.false(exposedText(error).includes('EKRIT'), `the error quotes the decrypted phone: ${error?.message.slice(0, 120)}`);
});

requires('movedFields')('errors: paginate / aggregate / find with _id projected from an encrypted field do not quote its plaintext when another value of the document fails', async (t) => {
  // The same through the public entry points, on a server that evaluates "$field" in projections (MongoDB 4.4+).
  // Not serial: ava runs it after every serial test, alone, so its commands are still told apart.
  await accounts().insertOne(accountDoc('alice', 'idmsg-2'));
  const projection = { name: 1, _id: '$phone', vault: 1 };
  for (const [label, call] of [
    ['paginate', () => accounts().paginate({ name: 'idmsg-2' }, { sort: { name: 1 }, limit: 1, projection })],
    ['find', () => accounts().find({ name: 'idmsg-2' }, { projection })],
    ['aggregate', () => accounts().aggregate([{ $match: { name: 'idmsg-2' } }, { $project: projection }])],
  ] as Array<[string, () => unknown]>) {
    const seen = await run(call);
    t.deepEqual(watch.verdict(label, seen), [], `${label}: plaintext in a command, log line or error`);
  }
});

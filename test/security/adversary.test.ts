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
import type { Document, MongoClient } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { DecryptionError, StrongboxError } from '../../src/index';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineFailClosedModel } from './failClosedModel';
import { LeakWatch, secretString } from './leakDetector';
import { exposedText } from './support';

const DB = uniqueDbName(__filename);
const { Account } = defineFailClosedModel(DB);

type Loose = Record<string, (...args: unknown[]) => any>;
let watch: LeakWatch;
let raw: MongoClient;
const accounts = () => watch.client.repository(Account) as unknown as Loose;
const stored = () => raw.db(DB).collection('accounts');
let counter = 0;
const SECRET = () => secretString(700_000 + counter++);

test.before(async () => {
  watch = await LeakWatch.open([Account]);
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

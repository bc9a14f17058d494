/**
 * One named test per class of leak the fail-closed query policy must close, each written as
 * plain JavaScript calls it through the public API, against the real server with command
 * monitoring (commands are recorded when they start, so what the server cannot execute is still
 * checked). Each input either is refused with a StrongboxError before anything is sent, or sends,
 * logs and throws no plaintext of an encrypted field; where the policy promises a refusal
 * (variables and literals reaching encrypted paths, server-side JavaScript, operator objects as
 * values, changes of a key-naming field), the refusal itself is asserted. Tests run serially: each
 * one's commands are told apart by time.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MongoClient } from 'mongodb';
import { inspectEncryptedBlob } from '../../src/crypto/blob';
import { createMigration } from '../../src/migrations/generator';
import {
  EmbeddedArray, Encrypted, EncryptedQueryError, Field, Id, Index, Model, StrongboxError, type Deterministic,
} from '../../src/index';
import { MetadataRegistry } from '../../src/metadata/registry';
import { rawClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineFailClosedModel } from './failClosedModel';
import { LeakWatch, leaksIn, secretString } from './leakDetector';
import { exposedText } from './support';

const DB = uniqueDbName(__filename);
const { Account } = defineFailClosedModel(DB);

/** An array of embedded documents whose only field is Deterministic: whole-element equality is encryptable. */
class Badge {
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) code!: Deterministic<string>;
}
@Model({ db: DB, collection: 'holders', keyAltName: 'failclosed' })
class Holder {
  @Id() _id!: string;
  @EmbeddedArray(() => Badge) badges!: Badge[];
}

type Loose = Record<string, (...args: unknown[]) => any>;
let watch: LeakWatch;
let raw: MongoClient;
const accounts = () => watch.client.repository(Account) as unknown as Loose;
let counter = 0;
const SECRET = () => secretString(900_000 + counter++);

test.before(async () => {
  watch = await LeakWatch.open([Account, Holder]);
  raw = await rawClient();
});
test.after.always(async () => { await watch?.close(); await raw?.close(); });

const run = (call: () => unknown) => watch.run(call);
const refusedOrClean = (t: ExecutionContext, input: unknown, call: () => unknown) => watch.refusedOrClean(t, input, call);

/** Refused before any data command, with the given error class, and the refusal carries no plaintext. */
async function refusedBeforeSending(t: ExecutionContext, input: unknown, call: () => unknown, type: new (...a: never[]) => StrongboxError = EncryptedQueryError): Promise<void> {
  const seen = await run(call);
  t.deepEqual(watch.verdict(input, seen), [], `leaks or untyped failure for ${JSON.stringify(input)}`);
  t.true(seen.error instanceof type, `expected ${type.name} for ${JSON.stringify(input)}, got ${seen.error === undefined ? 'success' : (seen.error as Error).constructor.name}`);
  t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], 'nothing was sent');
}

async function insertAccount(customerId: string, name: string): Promise<void> {
  await accounts().insertOne({
    name, customerId, age: 40, tags: ['x'], phone: SECRET(), pin: 600_000_123, ssn: SECRET(), vault: SECRET(),
    address: { street: 'Main', city: 'Town', zip: SECRET() }, contacts: [{ kind: 'home', phone: SECRET(), note: SECRET() }],
    medical: { bloodType: SECRET(), allergies: [] },
  });
}

// ---------------------------------------------------------------------------------------------
// arrayFilters

test.serial('arrayFilters: an identifier-only whole-element condition does not send a Deterministic value in clear', async (t) => {
  const args = [{ name: 'af' }, { $set: { 'contacts.$[c].kind': 'w' } }, { arrayFilters: [{ c: { kind: 'home', phone: SECRET() } }] }];
  await refusedOrClean(t, args, () => accounts().updateOne(...args));
});

test.serial('arrayFilters: an identifier used on two arrays is not resolved against the wrong one', async (t) => {
  const args = [{ name: 'af2' }, { $set: { 'tags.$[c]': 'x', 'contacts.$[c].kind': 'w' } }, { arrayFilters: [{ 'c.phone': SECRET() }] }];
  await refusedOrClean(t, args, () => accounts().updateMany(...args));
  const whole = [{ name: 'af2' }, { $set: { 'tags.$[c]': 'x', 'contacts.$[c].kind': 'w' } }, { arrayFilters: [{ c: { kind: 'home', phone: SECRET() } }] }];
  await refusedOrClean(t, whole, () => accounts().updateMany(...whole));
});

// ---------------------------------------------------------------------------------------------
// Pipelines tracked by shape

test.serial('aggregate: $match after $project renaming an encrypted field is encrypted or refused', async (t) => {
  const pipeline = [{ $project: { name: '$phone' } }, { $match: { name: SECRET() } }];
  await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
});

test.serial('aggregate: after $unwind, a path below the unwound document that its model does not declare (contacts.0.phone) is refused, not sent in clear', async (t) => {
  // Found by the generated property (seed 989529214): the unwound element is a document, so "0" named no
  // field of it and the comparand for what reads as contacts' encrypted phone went out as plaintext.
  for (const path of ['contacts.0.phone', 'contacts.1.note', 'contacts.phone.x', 'contacts.nope']) {
    const pipeline = [{ $unwind: '$contacts' }, { $match: { [path]: SECRET() } }];
    await refusedBeforeSending(t, pipeline, () => accounts().aggregate(pipeline), StrongboxError);
  }
  const copied = [{ $unwind: '$contacts' }, { $addFields: { x: '$contacts.0.phone' } }, { $match: { x: SECRET() } }];
  await refusedBeforeSending(t, copied, () => accounts().aggregate(copied), StrongboxError);
  // What the unwound document does declare stays queryable: its Deterministic phone is encrypted.
  const fine = [{ $unwind: '$contacts' }, { $match: { 'contacts.phone': SECRET() } }];
  await refusedOrClean(t, fine, () => accounts().aggregate(fine));
});

test.serial('aggregate: $match after $addFields copying an encrypted field is encrypted or refused', async (t) => {
  const pipeline = [{ $addFields: { alias: '$ssn', copy: '$address.zip' } }, { $match: { $or: [{ alias: SECRET() }, { copy: SECRET() }] } }];
  await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
});

test.serial('aggregate: $match after $lookup on the joined documents\' encrypted fields is encrypted or refused', async (t) => {
  const pipeline = [{ $lookup: { from: 'accounts', localField: 'customerId', foreignField: 'customerId', as: 'j' } }, { $match: { 'j.phone': SECRET() } }];
  await refusedOrClean(t, pipeline, () => accounts().aggregate(pipeline));
});

// ---------------------------------------------------------------------------------------------
// Variables reaching encrypted paths

for (const [label, reference] of [
  ['$$ROOT.phone', '$$ROOT.phone'],
  ['$$CURRENT.phone', '$$CURRENT.phone'],
  ['$getField', { $getField: 'phone' }],
  ['$let', { $let: { vars: { doc: '$$ROOT' }, in: '$$doc.phone' } }],
  ['$$this in $map', { $arrayElemAt: [{ $map: { input: '$contacts', in: '$$this.phone' } }, 0] }],
] as const) {
  test.serial(`expressions: ${label} compared with a secret is refused in find, aggregate and projections`, async (t) => {
    const expr = () => ({ $eq: [reference, SECRET()] });
    const filter = { $expr: expr() };
    await refusedBeforeSending(t, filter, () => accounts().find(filter));
    const pipeline = [{ $match: { $expr: expr() } }];
    await refusedBeforeSending(t, pipeline, () => accounts().aggregate(pipeline));
    const projection = { projection: { flag: expr() } };
    await refusedBeforeSending(t, projection, () => accounts().find({}, projection));
  });
}

test.serial('expressions: $redact deciding on an encrypted field is refused', async (t) => {
  const pipeline = [{ $redact: { $cond: [{ $eq: ['$phone', SECRET()] }, '$$KEEP', '$$PRUNE'] } }];
  await refusedBeforeSending(t, pipeline, () => accounts().aggregate(pipeline));
});

test.serial('expressions: an expression projection in find comparing an encrypted field is refused', async (t) => {
  for (const projection of [{ x: { $cond: [{ $eq: ['$ssn', SECRET()] }, 1, 0] } }, { name: { $concat: ['$phone', SECRET()] } }, { x: { $in: [SECRET(), '$contacts.phone'] } }]) {
    await refusedBeforeSending(t, projection, () => accounts().find({}, { projection }));
    await refusedBeforeSending(t, projection, () => accounts().findOneAndDelete({ name: 'none' }, { projection }));
  }
});

// ---------------------------------------------------------------------------------------------
// Literals written over encrypted slots

for (const [label, stage] of [
  ['$replaceWith $mergeObjects', () => ({ $replaceWith: { $mergeObjects: ['$$ROOT', { ssn: SECRET() }] } })],
  ['$group $first literal', () => ({ $group: { _id: '$customerId', ssn: { $first: SECRET() } } })],
  ['$setWindowFields', () => ({ $setWindowFields: { sortBy: { age: 1 }, output: { phone: { $first: SECRET() } } } })],
  ['$fill', () => ({ $fill: { output: { phone: { value: SECRET() } } } })],
  ['$addFields over an encrypted field', () => ({ $addFields: { 'address.zip': SECRET() } })],
  ['$densify bounds on an encrypted field', () => ({ $densify: { field: 'pin', range: { step: 1, bounds: [600_000_001, 600_000_009] } } })],
] as const) {
  test.serial(`literals: ${label} is refused`, async (t) => {
    const pipeline = [stage()];
    await refusedBeforeSending(t, pipeline, () => accounts().aggregate(pipeline));
  });
}

// ---------------------------------------------------------------------------------------------
// Server-side JavaScript and unknown operators

test.serial('server-side JavaScript: $function, $accumulator and $where are refused on a model with encrypted fields', async (t) => {
  const fn = { $function: { body: 'function(p, s) { return p === s; }', args: ['$phone', SECRET()], lang: 'js' } };
  await refusedBeforeSending(t, fn, () => accounts().find({ $expr: fn }));
  await refusedBeforeSending(t, fn, () => accounts().aggregate([{ $addFields: { x: fn } }]));
  const acc = [{ $group: { _id: null, a: { $accumulator: { init: 'function() { return 0; }', accumulate: 'function(s) { return s; }', accumulateArgs: ['$ssn', SECRET()], merge: 'function(a) { return a; }', lang: 'js' } } } }];
  await refusedBeforeSending(t, acc, () => accounts().aggregate(acc));
  const where = { $where: `this.phone === '${SECRET()}'` };
  await refusedBeforeSending(t, where, () => accounts().count(where), StrongboxError);
});

test.serial('unknown stages and operators are refused', async (t) => {
  const stage = [{ $zzNotAStage: { phone: SECRET() } }];
  await refusedBeforeSending(t, stage, () => accounts().aggregate(stage), StrongboxError);
  const op = { phone: { $zzNotAnOperator: SECRET() } };
  await refusedBeforeSending(t, op, () => accounts().find(op), StrongboxError);
  const update = { $zzNotAnUpdate: { phone: SECRET() } };
  await refusedBeforeSending(t, update, () => accounts().updateOne({ name: 'x' }, update), StrongboxError);
});

// ---------------------------------------------------------------------------------------------
// Errors carry no plaintext

test.serial('errors: a path below a Deterministic scalar is a StrongboxError that does not quote the filter value', async (t) => {
  const secret = SECRET();
  const seen = await run(() => accounts().updateOne({ phone: secret }, { $set: { 'phone.x': 1 } }));
  t.true(seen.error instanceof StrongboxError, `got ${(seen.error as Error | undefined)?.constructor.name ?? 'success'}`);
  t.deepEqual(leaksIn(exposedText(seen.error), []), []);
  t.deepEqual(watch.verdict(secret, seen), []);
});

// ---------------------------------------------------------------------------------------------
// Value-only arguments

test.serial('findById refuses an operator object instead of matching an arbitrary document', async (t) => {
  await insertAccount('alice', 'byid');
  for (const id of [{ $ne: 'x' }, { $gt: '' }, { $exists: true }, { $in: [] }]) {
    await refusedBeforeSending(t, id, () => accounts().findById(id), StrongboxError);
  }
});

// ---------------------------------------------------------------------------------------------
// Index definitions

test.serial('@Index: a partialFilterExpression on an encrypted field is refused at definition or never carries plaintext', (t) => {
  const secret = SECRET();
  let registry: MetadataRegistry;
  try {
    @Model({ db: DB, collection: 'indexed', keyAltName: 'failclosed' })
    class Indexed {
      @Id() _id!: string;
      @Index({ partialFilterExpression: { status: secret } }) @Field() name!: string;
      @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) status!: Deterministic<string>;
    }
    registry = new MetadataRegistry([Indexed]);
  } catch (err) {
    t.true(err instanceof StrongboxError, `refused with ${(err as Error).constructor.name}`);
    t.deepEqual(leaksIn(exposedText(err), []), []);
    return;
  }
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-failclosed-index-'));
  try {
    createMigration({ registry, folder, name: 'partial index' });
  } catch (err) {
    t.true(err instanceof StrongboxError, `refused with ${(err as Error).constructor.name}`);
    t.deepEqual(leaksIn(exposedText(err), []), []);
    return;
  }
  const written = readdirSync(folder).map((f) => readFileSync(join(folder, f), 'utf8')).join('\n');
  t.true(written.includes('partialFilterExpression'), 'the migration defines the partial index');
  t.deepEqual(leaksIn(written, []), [], 'the migration and snapshot carry no plaintext');
});

// ---------------------------------------------------------------------------------------------
// Per-document keys stay bound to the stored document

/** The data key id of a stored encrypted field. */
async function storedKey(name: string, field = 'vault'): Promise<{ customerId: string; keyId: string | undefined }[]> {
  const docs = await raw.db(DB).collection('accounts').find({ name }).toArray();
  return docs.map((d) => ({ customerId: d.customerId, keyId: inspectEncryptedBlob(d[field])?.keyId }));
}

/**
 * Runs an update of `vault` on Alice's and Bob's documents that tries to put it under another
 * customer's key: refused (nothing changed), or each document keeps its customerId and its
 * value is encrypted under the key of that customerId.
 */
async function keyStaysBound(t: ExecutionContext, label: string, update: (names: string[]) => unknown[]): Promise<void> {
  const names = [`${label}-A`, `${label}-B`];
  await insertAccount('alice', names[0]);
  await insertAccount('bob', names[1]);
  const keyOf = new Map<string, string | undefined>();
  for (const name of names) for (const { customerId, keyId } of await storedKey(name)) keyOf.set(customerId, keyId);
  t.not(keyOf.get('alice'), keyOf.get('bob'), 'each customer has a key of their own');
  const before = await raw.db(DB).collection('accounts').find({ name: { $in: names } }).toArray();
  const args = update(names);
  const seen = await run(() => accounts()[args[0] === 'many' ? 'updateMany' : 'updateOne'](...(args.slice(1) as unknown[])));
  t.deepEqual(watch.verdict(args, seen), []);
  const after = await raw.db(DB).collection('accounts').find({ name: { $in: names } }).toArray();
  if (seen.error instanceof StrongboxError) {
    t.deepEqual(after, before, 'a refused update changed nothing');
    return;
  }
  t.is(seen.error, undefined);
  for (const doc of after) {
    const original = before.find((b) => String(b._id) === String(doc._id));
    t.truthy(original, 'no document was inserted');
    t.is(doc.customerId, original?.customerId, 'the key-naming field did not change');
    t.is(inspectEncryptedBlob(doc.vault)?.keyId, keyOf.get(doc.customerId), `${doc.name}'s vault is under ${doc.customerId}'s own key`);
  }
}

test.serial('per-document keys: $setOnInsert of the key field in an upsert does not choose the key of matched documents', async (t) => {
  await keyStaysBound(t, 'upsert', (names) => ['many', { name: { $in: names } }, { $setOnInsert: { customerId: 'mallory' }, $set: { vault: SECRET() } }, { upsert: true }]);
});

test.serial('per-document keys: $rename onto the key field does not choose the key', async (t) => {
  await keyStaysBound(t, 'rename', (names) => ['one', { name: names[0] }, { $rename: { name: 'customerId' }, $set: { vault: SECRET() } }]);
});

test.serial('per-document keys: the key-naming field cannot be renamed over or unset once it names a key', async (t) => {
  await keyStaysBound(t, 'rename-alone', (names) => ['one', { name: names[0] }, { $rename: { name: 'customerId' } }]);
  await keyStaysBound(t, 'unset', (names) => ['many', { name: { $in: names } }, { $unset: { customerId: '' } }]);
});

test.serial('per-document keys: $set of the key field is refused or does not choose the key', async (t) => {
  await keyStaysBound(t, 'set', (names) => ['one', { name: names[0] }, { $set: { customerId: 'mallory', vault: SECRET() } }]);
});

test.serial('per-document keys: a filter that does not pin the key encrypts each document under its own key', async (t) => {
  await keyStaysBound(t, 'unpinned', (names) => ['many', { name: { $in: names } }, { $set: { vault: SECRET() } }]);
});

// ---------------------------------------------------------------------------------------------
// Types and run time agree

/** Whether the TypeScript types accept `filter` for Holder, asked of tsc itself. */
function typesAccept(filter: string): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'strongbox-failclosed-types-'));
  const file = join(dir, 'probe.ts');
  const index = resolve(__dirname, '..', '..', '..', 'src', 'index').replace(/\\/g, '/');
  writeFileSync(file, [
    `import { EmbeddedArray, Encrypted, Id, type Deterministic, type Filter } from '${index}';`,
    `class Badge { @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) code!: Deterministic<string>; }`,
    `class Holder { @Id() _id!: string; @EmbeddedArray(() => Badge) badges!: Badge[]; }`,
    `export const filter: Filter<Holder> = ${filter};`,
  ].join('\n'));
  const root = resolve(__dirname, '..', '..', '..');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--ignoreConfig', '--noEmit', '--strict', '--experimentalDecorators',
      '--emitDecoratorMetadata', '--target', 'ES2022', '--module', 'commonjs', '--skipLibCheck', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), file], { stdio: 'pipe' });
    return true;
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    if (!/error TS\d+/.test(out)) throw err;
    return false;
  }
}

test.serial('types and run time agree on $all over an array of documents holding only Deterministic fields', async (t) => {
  const code = SECRET();
  const holders = watch.client.repository(Holder) as unknown as Loose;
  await holders.insertOne({ _id: 'h1', badges: [{ code }, { code: SECRET() }] });
  const compiles = typesAccept(`{ badges: { $all: [{ code: 'x' }] } }`);
  t.false(typesAccept(`{ badges: { $all: [{ code: 1 }] } }`), 'the type probe can refuse');
  const filter = { badges: { $all: [{ code }] } };
  const seen = await run(() => holders.find(filter));
  t.deepEqual(watch.verdict(filter, seen), []);
  const runs = seen.error === undefined;
  t.is(runs, compiles, `types ${compiles ? 'accept' : 'refuse'} it, run time ${runs ? 'accepts' : `refuses it (${(seen.error as Error).message})`}`);
  if (runs) {
    const found = await holders.find(filter).toArray();
    t.deepEqual(found.map((h: { _id: string }) => h._id), ['h1'], 'accepted means the value was encrypted so it matches');
  } else {
    t.true(seen.error instanceof StrongboxError);
  }
});


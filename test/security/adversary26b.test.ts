/**
 * Round-26b adversarial pass on pipelines after reshaping stages: paths resolved against the
 * derived scope (moved, renamed, unwound, replaced, grouped fields). Plain JavaScript against the
 * public API (repository cast to any), against the real server with command monitoring.
 *
 * The pass found five leaks, all fixed: { $project: { _id: 1 } } read as an exclusion (dropping an
 * _id that held phone's ciphertext); dotted output names of $setWindowFields / $bucket / $group;
 * new roots computed by expressions ($literal, $mergeObjects, $setField, $arrayToObject, a $group
 * key) carrying literals under encrypted names; undeclared paths below an embedded root; and names
 * a stage removed that were not top-level fields of the model.
 *
 * Each test asserts the correct behaviour: the pipeline is refused with a StrongboxError before
 * anything is sent, or it sends, logs and throws no plaintext of an encrypted field (nor of a value
 * meant to be compared with one). Serial: each call's commands are told apart by time.
 */
import test, { type ExecutionContext } from 'ava';
import { BSON } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { uniqueDbName } from '../harness/server';
import { untypedRepository, type AnyRepo } from '../harness/adversary';
import { defineFailClosedModel } from './failClosedModel';
import { LeakWatch, secretString, type Observation } from './leakDetector';

const DB = uniqueDbName(__filename);
const { Account } = defineFailClosedModel(DB);

let watch: LeakWatch;
const accounts = (): AnyRepo => untypedRepository(watch.client, Account);
let counter = 0;
const SECRET = () => secretString(26_000 + counter++);

test.before(async () => {
  watch = await LeakWatch.open([Account]);
  // Two documents whose encrypted fields hold ciphertext, so the pipelines run on real data.
  for (const n of [1, 2]) {
    await accounts().insertOne({
      name: `a${n}`, customerId: `c${n}`, age: 40 + n, tags: ['x'], phone: SECRET(), pin: 600_000_100 + n, ssn: SECRET(), vault: SECRET(),
      address: { street: 'Main', city: 'Town', zip: SECRET() }, contacts: [{ kind: 'home', phone: SECRET(), note: SECRET() }],
      medical: { bloodType: SECRET(), allergies: [] },
    });
  }
});
test.after.always(async () => { await watch?.close(); });

/** What was sent, for the test's log (the report quotes it). */
function sent(seen: Observation): string {
  return seen.dataCommands.map((c) => `${c.commandName}: ${BSON.EJSON.stringify(c.command.pipeline ?? c.command, { relaxed: true })}`).join('\n') || '(nothing)';
}

async function refusedOrClean(t: ExecutionContext, pipeline: unknown[]): Promise<Observation> {
  const seen = await watch.run(() => accounts().aggregate(pipeline));
  const problems = watch.verdict(pipeline, seen);
  if (problems.length) t.log(`sent:\n${sent(seen)}`);
  t.deepEqual(problems, [], `leaks or untyped failure for ${JSON.stringify(pipeline)}`);
  return seen;
}

async function refusedBeforeSending(t: ExecutionContext, pipeline: unknown[]): Promise<void> {
  const seen = await watch.run(() => accounts().aggregate(pipeline));
  const problems = watch.verdict(pipeline, seen);
  if (problems.length || !(seen.error instanceof StrongboxError)) t.log(`sent:\n${sent(seen)}`);
  t.deepEqual(problems, [], `leaks or untyped failure for ${JSON.stringify(pipeline)}`);
  t.true(seen.error instanceof StrongboxError, `expected a StrongboxError for ${JSON.stringify(pipeline)}, got ${seen.error === undefined ? 'success' : (seen.error as Error).constructor.name}`);
  t.deepEqual(seen.dataCommands.map((c) => c.commandName), [], 'nothing was sent');
}

// ---------------------------------------------------------------------------------------------
// Findings (each fails today)

test.serial('finding: $project { _id: 1 } (or { _id: true }) alone keeps only _id; when _id holds a moved encrypted value, a later comparand for it is encrypted or refused, not sent in clear', async (t) => {
  // projectFields reads a projection whose only key is _id as an exclusion and drops _id from the
  // derived scope; the server keeps only _id (an inclusion), which here holds phone's ciphertext.
  for (const flag of [1, true]) {
    await refusedOrClean(t, [{ $addFields: { _id: '$phone' } }, { $project: { _id: flag } }, { $match: { _id: SECRET() } }]);
    await refusedOrClean(t, [{ $set: { _id: '$address' } }, { $project: { _id: flag } }, { $match: { '_id.zip': SECRET() } }]);
    await refusedOrClean(t, [{ $addFields: { _id: '$phone' } }, { $project: { _id: flag } }, { $addFields: { m: { $eq: ['$_id', SECRET()] } } }]);
  }
});

test.serial('finding: a dotted output name in $setWindowFields / $bucket / $group that moves an encrypted value is tracked under its top-level field, or refused', async (t) => {
  // The stages do fields.set('w.p', …): a Map key walkPath never matches, so 'w' reads as a new plain name.
  const window = { documents: ['unbounded', 'current'] };
  await refusedOrClean(t, [{ $setWindowFields: { sortBy: { age: 1 }, output: { 'w.p': { $first: '$phone', window } } } }, { $match: { 'w.p': SECRET() } }]);
  await refusedOrClean(t, [{ $setWindowFields: { sortBy: { age: 1 }, output: { 'w.p': { $push: '$contacts', window } } } }, { $unwind: '$w.p' }, { $match: { 'w.p.phone': SECRET() } }]);
  await refusedOrClean(t, [{ $bucket: { groupBy: '$age', boundaries: [0, 100], output: { 'w.p': { $first: '$phone' } } } }, { $match: { 'w.p': SECRET() } }]);
  await refusedOrClean(t, [{ $group: { _id: null, 'w.p': { $first: '$phone' } } }, { $match: { 'w.p': SECRET() } }]);
});

test.serial('finding: $replaceWith / $replaceRoot with an expression that writes a literal under an encrypted field name of the model is refused before sending, like the object form', async (t) => {
  // { $replaceWith: { phone: { $literal: S } } } is refused (QUERY_PIPELINE_WRITES_ENCRYPTED); the same document built by an operator is not.
  await refusedBeforeSending(t, [{ $replaceWith: { $literal: { phone: SECRET() } } }]);
  await refusedBeforeSending(t, [{ $replaceWith: { $mergeObjects: [{ name: '$name' }, { phone: SECRET() }] } }]);
  await refusedBeforeSending(t, [{ $replaceWith: { $setField: { field: 'phone', input: { name: '$name' }, value: SECRET() } } }]);
  await refusedBeforeSending(t, [{ $replaceRoot: { newRoot: { $arrayToObject: [[['ssn', SECRET()]]] } } }]);
  await refusedBeforeSending(t, [{ $replaceWith: { $mergeObjects: [{ address: { street: 'a', city: 'b', zip: SECRET() } }] } }]);
  await refusedBeforeSending(t, [{ $group: { _id: { phone: SECRET() } } }, { $replaceRoot: { newRoot: '$_id' } }]);
});

test.serial('finding: after $replaceRoot to an embedded document, a path naming none of its declared fields (0.phone once contacts is unwound) is refused like contacts.0.phone', async (t) => {
  // The new root is the embedded document, but its undeclared names read as plain new names.
  await refusedBeforeSending(t, [{ $unwind: '$contacts' }, { $replaceRoot: { newRoot: '$contacts' } }, { $match: { '0.phone': SECRET() } }]);
  await refusedBeforeSending(t, [{ $unwind: '$contacts' }, { $replaceWith: '$contacts' }, { $match: { $or: [{ '0.note': SECRET() }, { kind: 'x' }] } }]);
  await refusedBeforeSending(t, [{ $replaceRoot: { newRoot: '$address' } }, { $match: { zipcode: SECRET() } }]);
});

test.serial('finding: an encrypted field removed by a later stage stays refused by name when it is not a top-level field of the model (embedded root fields, moved names, element paths)', async (t) => {
  // modelHolds only knows the model's own paths that walkPath resolves: Address.zip / Contact.note
  // after $replaceRoot, a moved copy of phone after $unset, contacts.-1.phone after $group read as plain.
  await refusedBeforeSending(t, [{ $replaceRoot: { newRoot: '$address' } }, { $project: { city: 1 } }, { $match: { zip: SECRET() } }]);
  await refusedBeforeSending(t, [{ $unwind: '$contacts' }, { $replaceRoot: { newRoot: '$contacts' } }, { $project: { kind: 1 } }, { $match: { note: SECRET() } }]);
  await refusedBeforeSending(t, [{ $addFields: { x: '$phone' } }, { $unset: 'x' }, { $match: { x: SECRET() } }]);
  await refusedBeforeSending(t, [{ $group: { _id: null } }, { $match: { 'contacts.-1.phone': SECRET() } }]);
});

// ---------------------------------------------------------------------------------------------
// What held

const held: Array<[string, () => unknown[]]> = [
  ['contacts copied to c: c.0.phone / c.phone encrypted', () => [{ $addFields: { c: '$contacts' } }, { $match: { $or: [{ 'c.0.phone': SECRET() }, { 'c.phone': SECRET() }] } }]],
  ['contacts copied to c and unwound: c.0.phone refused', () => [{ $project: { c: '$contacts' } }, { $unwind: '$c' }, { $match: { 'c.0.phone': SECRET() } }]],
  ['$unwind twice, contacts.0.phone refused', () => [{ $unwind: '$contacts' }, { $unwind: '$contacts' }, { $match: { 'contacts.0.phone': SECRET() } }]],
  ['$unwind includeArrayIndex + preserveNullAndEmptyArrays, contacts.-1.phone refused', () => [{ $unwind: { path: '$contacts', includeArrayIndex: 'i', preserveNullAndEmptyArrays: true } }, { $match: { 'contacts.-1.phone': SECRET() } }]],
  ['$unwind includeArrayIndex onto contacts.phone refused', () => [{ $unwind: { path: '$contacts', includeArrayIndex: 'contacts.phone' } }]],
  ['$unwind $medical.allergies refused', () => [{ $unwind: '$medical.allergies' }, { $match: { 'medical.allergies': SECRET() } }]],
  ['$group $first contacts then $unwind: c.0.phone refused', () => [{ $group: { _id: null, c: { $first: '$contacts' } } }, { $unwind: '$c' }, { $match: { 'c.0.phone': SECRET() } }]],
  ['$group $push contacts, unwound twice: tainted, refused', () => [{ $group: { _id: null, c: { $push: '$contacts' } } }, { $unwind: '$c' }, { $unwind: '$c' }, { $match: { 'c.phone': SECRET() } }]],
  ['$facet then $unwind: refused', () => [{ $facet: { f: [{ $unwind: '$contacts' }] } }, { $unwind: '$f' }, { $match: { 'f.contacts.phone': SECRET() } }]],
  ['$lookup into the same collection: joined phone refused', () => [{ $lookup: { from: 'accounts', localField: 'name', foreignField: 'name', as: 'j' } }, { $unwind: '$j' }, { $match: { 'j.phone': SECRET() } }]],
  ['c.00.note (Random) refused, c.1e1.phone refused', () => [{ $project: { c: '$contacts' } }, { $match: { $or: [{ 'c.00.note': SECRET() }, { 'c.1e1.phone': SECRET() }] } }]],
  ['$elemMatch with $or on a moved array encrypted', () => [{ $project: { c: '$contacts' } }, { $match: { c: { $elemMatch: { $or: [{ phone: SECRET() }, { kind: 'x' }] } } } }]],
  ['$nin inside $and after $unwind encrypted', () => [{ $unwind: '$contacts' }, { $match: { $and: [{ 'contacts.phone': { $nin: [SECRET()] } }] } }]],
  ['$replaceRoot to an element ($arrayElemAt) refused', () => [{ $replaceRoot: { newRoot: { $arrayElemAt: ['$contacts', 0] } } }, { $match: { phone: SECRET() } }]],
  ['$replaceRoot to the unwound contact: phone encrypted', () => [{ $unwind: '$contacts' }, { $replaceRoot: { newRoot: '$contacts' } }, { $match: { phone: SECRET() } }]],
  ['$replaceWith object form writing phone refused', () => [{ $replaceWith: { phone: { $literal: SECRET() } } }]],
  ['after $group, phone / contacts.0.phone refused by name', () => [{ $group: { _id: '$name' } }, { $match: { $or: [{ phone: SECRET() }, { 'contacts.0.phone': SECRET() }] } }]],
  ['moved into address.street then address.zip refused', () => [{ $addFields: { 'address.street': '$phone' } }, { $match: { 'address.zip': SECRET() } }]],
  ['$sort on a moved contacts element path refused', () => [{ $project: { c: '$contacts' } }, { $sort: { 'c.phone': 1 } }, { $match: { 'c.phone': SECRET() } }]],
  ['$group _id on an unwound contact phone refused', () => [{ $unwind: '$contacts' }, { $group: { _id: '$contacts.phone' } }, { $match: { _id: SECRET() } }]],
  ['$first with { input } returns phone shape: comparand encrypted', () => [{ $group: { _id: null, x: { $first: '$phone' } } }, { $match: { x: { $in: [SECRET()] } } }]],
  ['$unionWith then a new name refused', () => [{ $unionWith: 'accounts' }, { $match: { whatever: SECRET() } }]],
];

for (const [name, make] of held) {
  test.serial(`held: ${name}`, async (t) => {
    await refusedOrClean(t, make());
  });
}

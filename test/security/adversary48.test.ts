/**
 * Round 48 (brief adv48, on d8808b3): variant write rules. Plain JavaScript through the public API, raw driver as reference.
 * FINDING-1 (a variant's value rules skipped through the base repository) and FINDING-2 (over-refusal: $unset of a
 * field only another variant requires, with the filter pinning this one) failed on d8808b3; fixed in the next commit
 * (repository.ts normalizeUpdate: rules and required fields of the variants the update reaches).
 * Excluded (FerretDB v1, not findings): $[] / $[id] / positional $ updates, `let`, collations, decimal storage,
 * change streams, textScore sorts, ±Infinity; FerretDB copies only top-level equalities and $eq into upserts.
 */
import test from 'ava';
import { Max, Min } from 'class-validator';
import { ObjectId, type Document } from 'mongodb';
import { Encrypted, Field, Id, Model, Variant, Version } from '../../src/index';
import { describe, untypedRepository, watchedClient } from '../harness/adversary';
import { storedProblems } from '../harness/conformance';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const MARK = 'PLAINTEXT-a48-9c1f7e3d';

@Model({ db: DB, collection: 'parties', keyAltName: 'a48', discriminator: 'kind' })
class Party {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) kind!: string;
  @Field({ bsonType: 'string' }) displayName!: string;
  @Version() v!: number;
}
@Variant('person')
class Person extends Party {
  @Min(0) @Max(150) @Field({ bsonType: 'int' }) age!: number;
  @Field({ bsonType: 'string' }) nick!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: any;
}
@Variant('org')
class Org extends Party {
  @Field({ bsonType: 'string', optional: true }) reg?: string;
  @Field({ bsonType: 'string', optional: true }) nick?: string;
}

const watched = watchedClient(DB, [Party, Person, Org]);
const parties = () => untypedRepository(watched.client, Party);
const persons = () => untypedRepository(watched.client, Person);
const orgs = () => untypedRepository(watched.client, Org);
const pc = () => watched.raw.db(DB).collection('parties');
const res = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => describe(e).slice(0, 200));
const modelOf = (d: Document) => (d.kind === 'person' ? Person : d.kind === 'org' ? Org : Party);
const problems = () => storedProblems(pc(), modelOf);

async function seed() {
  await pc().deleteMany({});
  const p = await persons().insertOne({ displayName: 'p', age: 30, nick: 'pp' });
  const o = await orgs().insertOne({ displayName: 'o', reg: 'r1', nick: 'oo' });
  return { p, o };
}

test.serial('probe: legitimate writes through base and variant repositories (claim 1)', async (t) => {
  const out: string[] = [];
  const wrong: string[] = [];
  const check = async (w: string, c: () => Promise<unknown>) => { const r = await res(c()); out.push(`${w}: ${r}`); if (r !== 'ok') wrong.push(`${w}: ${r}`); };
  let { p, o } = await seed();
  await check('base update common, no pin', () => parties().updateMany({}, { $set: { displayName: 'x' } }));
  await check('base update person field, pinned plain', () => parties().updateOne({ _id: p._id, kind: 'person' }, { $set: { age: 31 } }));
  await check('base update person field, pinned $eq', () => parties().updateOne({ _id: p._id, kind: { $eq: 'person' } }, { $set: { nick: 'q' }, $inc: { age: 1 } }));
  await check('base update org unset own optional, pinned', () => parties().updateOne({ _id: o._id, kind: 'org' }, { $unset: { reg: 1 } }));
  await check('base findOneAndUpdate person pinned', () => parties().findOneAndUpdate({ _id: p._id, kind: 'person' }, { $set: { age: 40 } }));
  await check('base bulkWrite mixing', () => parties().bulkWrite([
    { updateOne: { filter: { _id: p._id, kind: 'person' }, update: { $set: { age: 41 } } } },
    { updateOne: { filter: { _id: o._id, kind: 'org' }, update: { $set: { reg: 'r2' } } } },
    { insertOne: { document: { kind: 'org', displayName: 'o3' } } },
  ]));
  await check('base upsert pinning person', () => parties().updateOne({ kind: 'person', displayName: 'new' }, { $set: { age: 5, nick: 'n' } }, { upsert: true }));
  await check('persons upsert', () => persons().updateOne({ displayName: 'new2' }, { $set: { age: 5, nick: 'n' } }, { upsert: true }));
  ({ p, o } = await seed());
  for (const [w, repo, kind] of [['base person', parties, 'person'], ['base org', parties, 'org'], ['persons', persons, 'person'], ['orgs', orgs, 'org']] as const) {
    const e: any = await (repo as any)().findOne({ kind });
    e.displayName = `${e.displayName}!`;
    await check(`${w} save`, () => (repo as any)().save(e));
    await check(`${w} save again`, () => (repo as any)().save(e));
    await check(`${w} remove`, () => (repo as any)().remove(e));
    await seed().then((s) => { p = s.p; o = s.o; });
  }
  const stored = await problems();
  t.log(out.join('\n'));
  t.deepEqual(stored, []);
  t.deepEqual(wrong, []);
});

test.serial('probe: a variant repository never touches other variants; no variant moves (claims 2, 3)', async (t) => {
  const { p, o } = await seed();
  const out: string[] = [];
  out.push(`persons updateMany {}: ${JSON.stringify(await persons().updateMany({}, { $set: { displayName: 'z' } }))}`);
  out.push(`persons deleteOne org id: ${JSON.stringify(await persons().deleteOne({ _id: o._id }))}`);
  out.push(`persons update kind org filter: ${await res(persons().updateOne({ kind: 'org' }, { $set: { displayName: 'z' } }))}`);
  out.push(`persons findOneAndUpdate org: ${JSON.stringify(await persons().findOneAndUpdate({ _id: o._id }, { $set: { displayName: 'z' } }).catch(describe))}`);
  out.push(`persons bulk: ${await res(persons().bulkWrite([{ updateOne: { filter: { _id: o._id }, update: { $set: { displayName: 'z' } } } }, { deleteMany: { filter: { kind: 'org' } } }, { replaceOne: { filter: { _id: o._id }, replacement: { displayName: 'z', age: 1, nick: 'n' } } }]))}`);
  out.push(`persons count: ${await persons().count({})}`);
  out.push(`persons set kind org: ${await res(persons().updateOne({ _id: p._id }, { $set: { kind: 'org' } }))}`);
  out.push(`base set kind: ${await res(parties().updateOne({ _id: p._id }, { $set: { kind: 'org' } }))}`);
  out.push(`base $or kind: ${await res(parties().updateOne({ _id: p._id, $or: [{ kind: 'person' }] }, { $set: { age: 1 } }))}`);
  out.push(`base kind $in: ${await res(parties().updateOne({ _id: p._id, kind: { $in: ['person'] } }, { $set: { age: 1 } }))}`);
  out.push(`base upsert soi kind: ${await res(parties().updateOne({ kind: 'org', displayName: 'q' }, { $setOnInsert: { kind: 'person' } }, { upsert: true }))}`);
  const org = await pc().findOne({ _id: o._id });
  t.log(out.join('\n'));
  t.is(org?.displayName, 'o', 'the org document untouched by persons()');
  t.deepEqual(await problems(), []);
});

// FINDING-1: class-validator rules a variant declares (Person.age @Min(0) @Max(150)) are not checked through the
// base repository: normalizeUpdate runs hasRules / updateIssues against this.model (the union, whose target is
// Party, which carries none of Person's rules), so an update pinning kind: 'person', a bulkWrite, findOneAndUpdate,
// an upsert, and save() of a Person loaded through the base repository all store age -5. The same writes through
// persons() and insertOne through the base are refused with a validation error. Fix: repository.ts normalizeUpdate,
// also run updateIssues against the pinned variant (pinnedVariant(filter) / upsertedAs; savedAs for save()), or
// against every variant declaring the written field when none is pinned.
test.serial('FINDING-1: a variant\'s value rules hold for writes through the base repository', async (t) => {
  const { p } = await seed();
  const reference = [
    await res(persons().updateOne({ _id: p._id }, { $set: { age: -5 } })),
    await res(parties().insertOne({ kind: 'person', displayName: 'i', age: -5, nick: 'n' })),
  ];
  t.log('reference (persons update, base insert):', reference.join(' | '));
  const accepted: string[] = [];
  const tryIt = async (w: string, c: () => Promise<unknown>) => {
    await seed();
    const r = await res(c());
    const bad = await pc().find({ kind: 'person', age: { $lt: 0 } }).toArray();
    if (bad.length) accepted.push(`${w}: ${r}, stored age ${bad.map((d) => d.age).join(',')}`);
  };
  await tryIt('base updateOne pinned', async () => parties().updateOne({ kind: 'person' }, { $set: { age: -5 } }));
  await tryIt('base updateMany $eq pinned', async () => parties().updateMany({ kind: { $eq: 'person' } }, { $set: { age: -5 } }));
  await tryIt('base findOneAndUpdate', async () => parties().findOneAndUpdate({ kind: 'person' }, { $set: { age: -5 } }));
  await tryIt('base bulkWrite', async () => parties().bulkWrite([{ updateOne: { filter: { kind: 'person' }, update: { $set: { age: -5 } } } }]));
  await tryIt('base upsert', async () => parties().updateOne({ kind: 'person', displayName: 'u' }, { $set: { age: -5, nick: 'n' } }, { upsert: true }));
  await tryIt('base save of loaded person', async () => { const e: any = await parties().findOne({ kind: 'person' }); e.age = -5; return parties().save(e); });
  t.true(reference.every((r) => r !== 'ok'), 'the variant repository and insertOne refuse age -5');
  t.deepEqual(accepted, []);
});

// FINDING-2 (over-refusal): nick is required in Person, optional in Org (same type, so one collection field).
// Through the base repository with a filter pinning kind: 'org', $unset of nick (or $set nick: null, "remove it")
// is refused with INPUT_REQUIRED_MISSING because Person requires it, although only org documents can match; orgs()
// accepts it and the raw driver leaves a conforming org. normalizeUpdate checks checkUpdateKeepsRequired against every
// variant; refuseOtherVariantsFields already narrows to pinnedVariant(filter). Fix: repository.ts normalizeUpdate,
// check only the pinned variant when the filter pins one (the filter is at hand via update()/keyedUpdate/bulkWrite).
// Note: docs/entities.md currently says "$unset or $rename of a field any variant requires is refused" through the
// base repository, written before pinning narrowed refuseOtherVariantsFields; this asserts the brief's claim (1).
test.serial('FINDING-2: base repository, filter pinning org: $unset of a field only another variant requires', async (t) => {
  const wrong: string[] = [];
  for (const u of [{ $unset: { nick: 1 } }, { $set: { nick: null } }]) {
    const { o } = await seed();
    const viaOrgs = await res(orgs().updateOne({ _id: o._id }, u));
    await seed();
    const o2 = (await pc().findOne({ kind: 'org' }))!;
    const viaBase = await res(parties().updateOne({ _id: o2._id, kind: 'org' }, u));
    t.log(JSON.stringify(u), 'orgs:', viaOrgs, 'base:', viaBase);
    if (viaOrgs === 'ok' && viaBase !== 'ok') wrong.push(`${JSON.stringify(u)}: ${viaBase}`);
  }
  t.deepEqual(await problems(), []);
  t.deepEqual(wrong, []);
});

test.serial('probe: plaintext of an encrypted variant field in commands and errors (claim 4)', async (t) => {
  const { p, o } = await seed();
  watched.sent.length = 0;
  const errs: unknown[] = [];
  const calls = [
    () => parties().updateOne({ _id: o._id, kind: 'org' }, { $set: { ssn: MARK } }),
    () => parties().updateOne({ _id: o._id }, { $set: { ssn: MARK } }),
    () => parties().updateOne({ _id: p._id, kind: 'person' }, { $set: { ssn: MARK } }),
    () => parties().updateOne({ kind: 'org', displayName: 'x' }, { $set: { ssn: MARK } }, { upsert: true }),
    () => parties().updateOne({ kind: 'person', displayName: 'x' }, { $set: { ssn: MARK, age: -1, nick: 'n' } }, { upsert: true }),
    () => parties().bulkWrite([{ updateOne: { filter: { kind: 'org' }, update: { $set: { ssn: MARK } } } }]),
    () => parties().insertOne({ kind: 'org', displayName: 'y', ssn: MARK }),
    () => persons().updateOne({ _id: p._id }, { $set: { ssn: MARK, kind: 'org' } }),
  ];
  for (const c of calls) await c().catch((e: unknown) => errs.push(e));
  const text = JSON.stringify(watched.sent.map((e) => e.command)) + errs.map((e) => `${(e as Error).message} ${(e as Error).stack} ${JSON.stringify(e)}`).join(' ');
  t.log(`${errs.length} refused: ${errs.map((e) => describe(e).slice(0, 90)).join('\n')}`);
  t.false(text.includes(MARK));
  t.deepEqual((await pc().find({ kind: 'org', ssn: { $exists: true } }).toArray()).length, 0);
});

// Observed on d8808b3: base upsert pinning person with $setOnInsert kind: 'person' is refused (INPUT_VARIANT_CHANGED; docs allow
// only a variant repository's own $set, so documented, minor over-refusal); persons().replaceOne upsert with an org's _id
// is E11000 from the server (as the raw driver with the scoped filter; the org is untouched); $inc past @Max is not
// checked in any repository (rules judge values, not increments).
test.serial('probe: more variant edges (kind in $setOnInsert, foreign fields on entities, replaceOne)', async (t) => {
  const out: string[] = [];
  await seed();
  out.push(`base upsert pinned person + $setOnInsert kind person: ${await res(parties().updateOne({ kind: 'person', displayName: 'k' }, { $setOnInsert: { kind: 'person' }, $set: { age: 1, nick: 'n' } }, { upsert: true }))}`);
  out.push(`persons upsert $setOnInsert kind person: ${await res(persons().updateOne({ displayName: 'k2' }, { $setOnInsert: { kind: 'person' }, $set: { age: 1, nick: 'n' } }, { upsert: true }))}`);
  const e: any = await parties().findOne({ kind: 'person' });
  e.reg = 'foreign'; e.age = 33;
  out.push(`base save person with org field: ${await res(parties().save(e))}`);
  const e2: any = await persons().findOne({});
  e2.reg = 'foreign2';
  out.push(`persons save with org field: ${await res(persons().save(e2))}`);
  const o: any = await orgs().findOne({});
  out.push(`persons replaceOne org id upsert: ${await res(persons().replaceOne({ _id: o._id }, { displayName: 'r', age: 1, nick: 'n' }, { upsert: true }))}`);
  out.push(`base replaceOne pin org with person: ${await res(parties().replaceOne({ _id: o._id, kind: 'org' }, { kind: 'person', displayName: 'r', age: 1, nick: 'n' }))}`);
  out.push(`base updateOne pinned person $inc age huge: ${await res(parties().updateOne({ kind: 'person' }, { $inc: { age: 1000 } }))}`);
  out.push(JSON.stringify(await pc().find({}, { projection: { _id: 0, v: 0 } }).toArray()));
  out.push((await problems()).join(' ## '));
  t.log(out.join('\n'));
  t.pass();
});

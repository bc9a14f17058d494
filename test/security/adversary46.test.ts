/**
 * Round 46 (brief adv46, on cf15e04): regressions and over-refusal after rounds 42–45 (creation guards,
 * upsert checks, the resolved-path cache, variant rules). Plain JavaScript through the public API, the raw
 * driver as the reference on the same data, command monitoring, fast-check.
 * FINDING-1 (a dotted path into an embedded document a matched document surely has, refused in an upsert) and
 * FINDING-2 (a whole embedded document in the filter not counted as giving its fields) failed on cf15e04; both
 * fixed in the next commit (creation.ts: `pinned` and the required chain in checkPath; ancestors in uncovered).
 * Excluded (FerretDB v1, not findings): $[] / $[id] / positional $ updates, `let`, collations, decimal storage,
 * change streams, textScore sorts, ±Infinity; FerretDB copies only top-level equalities and $eq into upserts.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { BSON, ObjectId, type Collection, type Document } from 'mongodb';
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, StrongboxError, Variant } from '../../src/index';
import { describe, untypedRepository, watchedClient } from '../harness/adversary';
import { nonconforming, storedProblems } from '../harness/conformance';
import { uniqueDbName } from '../harness/server';
import { Address, Row } from '../harness/shapes';
import { ModelScope } from '../../src/repository/encoding/scope';
import { resolvePath } from '../../src/repository/encoding/pathResolver';
import { resolveModel } from '../../src/metadata/resolve';

const DB = uniqueDbName(__filename);
const MARK = 'PLAINTEXT-a46-7f3c9e1d';

class Stats {
  @Field({ bsonType: 'int' }) views!: number;
  @Field({ bsonType: 'int' }) likes!: number;
  @Field({ bsonType: 'date', optional: true }) seen?: Date;
}

@Model({ db: DB, collection: 'profiles', keyAltName: 'a46' })
class Profile {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) name!: string;
  @Embedded(() => Address) address!: Address;
  @Embedded(() => Stats, { optional: true }) stats?: Stats;
  @Embedded(() => Address, { optional: true }) spot?: Address;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @EmbeddedArray(() => Row, { optional: true }) rows?: Row[];
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
  @Field({ bsonType: 'double', optional: true }) score?: number;
  @Field({ bsonType: 'string', optional: true, default: () => 'new' }) status?: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) secret?: any;
}

@Model({ db: DB, collection: 'parties', keyAltName: 'a46', discriminator: 'kind' })
class Party {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'string' }) kind!: string;
  @Field({ bsonType: 'string' }) displayName!: string;
  @Embedded(() => Address, { optional: true }) home?: Address;
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
}
@Variant('person')
class Person extends Party {
  @Field({ bsonType: 'string' }) born!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: any;
  @ArrayField({ of: 'string', optional: true }) langs?: string[];
}
@Variant('org')
class Org extends Party {
  @Field({ bsonType: 'string' }) reg!: string;
}

const watched = watchedClient(DB, [Profile, Party, Person, Org]);
const profiles = () => untypedRepository(watched.client, Profile);
const parties = () => untypedRepository(watched.client, Party);
const persons = () => untypedRepository(watched.client, Person);
const pc = () => watched.raw.db(DB).collection('profiles');
const mirror = () => watched.raw.db(DB).collection('mirror');
const partyc = () => watched.raw.db(DB).collection('parties');
const partyMirror = () => watched.raw.db(DB).collection('partymirror');

const BASE: Document = {
  name: 'n', address: { city: 'c', zip: 'z', note: 'o' }, stats: { views: 1, likes: 2 }, spot: { city: 's', zip: 't' },
  tags: ['a', 'b'], rows: [{ label: 'r1', spot: { city: 'rc', zip: 'rz' }, tags: ['x'], spots: [{ city: 'q', zip: 'w' }] }],
  meta: { a: { b: 0 }, count: 1 }, score: 1.5, status: 'open',
};
const canon = (d: Document | null) => BSON.EJSON.stringify(d, { relaxed: false });
/** A stored document list for comparison: keys sorted, the declared default `status` (which the raw driver does not add) left out. */
const comparable = (json: string) => JSON.stringify(JSON.parse(json), (k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).filter((x) => x !== 'status').sort().map((x) => [x, v[x]])) : v));

/** Same data in both collections: the stored document of an insert through Strongbox, copied raw into the mirror. */
async function seed(base: Document = BASE): Promise<ObjectId> {
  await pc().deleteMany({}); await mirror().deleteMany({});
  const saved = await profiles().insertOne({ ...base });
  const stored = await pc().findOne({ _id: saved._id }, { promoteValues: false });
  await mirror().insertOne(stored!);
  return saved._id;
}
const storedDoc = async (c: Collection, id: unknown) => c.findOne({ _id: id as ObjectId }, { promoteValues: false });

/** Runs `update` through Strongbox and the raw driver on the same document: what differs (or was refused). */
async function compareUpdate(update: Document, upsertFilter?: (id: ObjectId) => Document, base: Document = BASE): Promise<string | undefined> {
  let id = await seed(base);
  let filter: Document = { _id: id };
  if (upsertFilter) { id = new ObjectId(); filter = upsertFilter(id); }
  const opts = upsertFilter ? { upsert: true } : {};
  const mine = await profiles().updateOne(filter, update, opts).then(() => undefined, (e: unknown) => describe(e));
  const theirs = await mirror().updateOne(filter, update, opts).then(() => undefined, (e: unknown) => `raw: ${describe(e)}`);
  if (mine) return `${JSON.stringify(update)}: refused: ${mine}${theirs ? ` (${theirs})` : ''}`;
  if (theirs) return undefined;
  const [a, b] = [await storedDoc(pc(), id), await storedDoc(mirror(), id)];
  if (canon(a) !== canon(b)) return `${JSON.stringify(update)}: stored ${canon(a)} / raw ${canon(b)}`;
  const wrong = a ? nonconforming(Profile, a) : [];
  return wrong.length ? `${JSON.stringify(update)}: nonconforming ${wrong.join('; ')}` : undefined;
}

test.serial('context: legitimate updates store what the raw driver stores', async (t) => {
  const updates: Document[] = [
    { $set: { 'address.city': 'Y' } }, { $set: { 'address.note': 'n2' } }, { $unset: { 'address.note': '' } },
    { $set: { 'address.city': 'Q', 'address.zip': 'Z' } }, { $inc: { 'stats.views': 2 } }, { $max: { 'stats.likes': 10 } },
    { $min: { 'stats.likes': 0 } }, { $mul: { 'stats.likes': 3 } }, { $set: { 'rows.0.label': 'L' } },
    { $set: { 'rows.0.spot.city': 'C' } }, { $push: { 'rows.0.tags': 'y' } }, { $push: { tags: 'x' } },
    { $push: { tags: { $each: ['c', 'd'], $slice: -3 } } }, { $addToSet: { tags: 'a' } }, { $addToSet: { tags: { $each: ['a', 'e'] } } },
    { $pull: { tags: 'a' } }, { $pullAll: { tags: ['a'] } }, { $pop: { tags: 1 } }, { $pull: { rows: { label: 'r1' } } },
    { $push: { rows: { label: 'new' } } }, { $set: { 'tags.1': 'z' } }, { $set: { 'tags.2': 'z' } },
    { $set: { 'rows.1': { label: 'second' } } }, { $set: { 'rows.0.spots.0.zip': '9' } }, { $set: { 'meta.a.b': 1 } },
    { $inc: { 'meta.count': 1 } }, { $inc: { score: 1 } }, { $set: { 'spot.city': 'x' } }, { $set: { 'rows.0.spot.note': 'n' }, $inc: { 'stats.views': 1 } },
    { $push: { 'rows.0.spots': { city: 'p', zip: 'p' } } }, { $set: { 'rows.1.label': 'l2' } }, { $push: { rows: { $each: [{ label: 'b' }, { label: 'a' }], $sort: { label: 1 } } } },
    { $set: { 'rows.0.tags.1': 'y' } }, { $set: { 'rows.0.spots.1': { city: 'p', zip: 'p' } } }, { $inc: { 'stats.views': 1, 'stats.likes': -1 } },
    { $rename: { 'spot.note': 'spot.note' } }, { $set: { 'stats.views': 5 }, $unset: { 'spot.note': '' } }, { $set: { 'meta.x.y.z': 'w' } },
    { $unset: { 'meta.a': '' } }, { $set: { 'rows.0.spot': { city: 'k', zip: 'k' } } }, { $setOnInsert: { name: 'never' }, $set: { 'address.city': 'w' } },
  ];
  const wrong: string[] = [];
  for (const u of updates) { const w = await compareUpdate(u); if (w) wrong.push(w); }
  t.log(wrong.join('\n'));
  t.pass();
});

test.serial('context: legitimate upserts', async (t) => {
  const ups: Array<[Document, (id: ObjectId) => Document]> = [
    [{ $set: { address: { city: 'a', zip: 'b' } } }, (id) => ({ _id: id, name: 'u' })],
    [{ $set: { name: 'u', address: { city: 'a', zip: 'b' } }, $setOnInsert: { tags: [] } }, (id) => ({ _id: id })],
    [{ $set: { 'address.note': 'n' } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' } })],
    [{ $set: { 'address.note': 'n' } }, (id) => ({ _id: id, name: 'u', address: { $eq: { city: 'a', zip: 'b' } } })],
    [{ $inc: { 'stats.views': 1, 'stats.likes': 0 } }, (id) => ({ _id: id, name: 'u', 'address.city': 'a', 'address.zip': 'b' })],
    [{ $setOnInsert: { name: 'x', address: { city: 'a', zip: 'b' } }, $inc: { 'stats.views': 1, 'stats.likes': 1 } }, (id) => ({ _id: id })],
    [{ $push: { rows: { label: 'x' } }, $set: { name: 'x', address: { city: 'a', zip: 'b' } } }, (id) => ({ _id: id })],
    [{ $set: { 'address.zip': 'b' } }, (id) => ({ _id: id, name: 'u', 'address.city': 'a' })],
    [{ $set: { 'stats.views': 1 } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' }, stats: { views: 0, likes: 0 } })],
    [{ $inc: { 'stats.views': 1 } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' }, 'stats.likes': 0 })],
    [{ $set: { 'spot.city': 'q', 'spot.zip': 'r' } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' } })],
    [{ $set: { 'meta.k': 1 } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' } })],
    [{ $set: { 'address.note': 'n' } }, (id) => ({ $and: [{ _id: id }], name: 'u', address: { city: 'a', zip: 'b' } })],
    [{ $set: { 'address.city': 'n' } }, (id) => ({ _id: id, name: 'u', address: { city: 'a', zip: 'b' } })],
  ];
  const wrong: string[] = [];
  for (const [u, f] of ups) { const w = await compareUpdate(u, f); if (w) wrong.push(w); }
  t.log(wrong.join('\n'));
  t.pass();
});

async function seedParties(): Promise<ObjectId> {
  await partyc().deleteMany({}); await partyMirror().deleteMany({});
  const p = await persons().insertOne({ displayName: 'p', born: 'b', home: { city: 'c', zip: 'z' }, langs: ['en'], meta: { a: 1 } });
  await parties().insertOne({ kind: 'org', displayName: 'o', reg: 'r' });
  for (const d of await partyc().find({}, { promoteValues: false }).toArray()) await partyMirror().insertOne(d);
  return p._id;
}
const partyModel = (doc: Document) => (doc.kind === 'person' ? Person : doc.kind === 'org' ? Org : Party);

test.serial('context: variant repositories, save()', async (t) => {
  const out: string[] = [];
  const cmp = async (what: string, mine: (id: ObjectId) => Promise<unknown>, theirs: (id: ObjectId) => Promise<unknown>, idOf?: () => ObjectId) => {
    let id = await seedParties();
    if (idOf) id = idOf();
    const r = await mine(id).then(() => undefined, (e: unknown) => describe(e));
    const r2 = await theirs(id).then(() => undefined, (e: unknown) => `raw ${describe(e)}`);
    if (r) return void out.push(`${what}: refused ${r} ${r2 ?? ''}`);
    const a = await partyc().find({}, { promoteValues: false, sort: { _id: 1 } }).toArray();
    const b = await partyMirror().find({}, { promoteValues: false, sort: { _id: 1 } }).toArray();
    if (canon(a as any) !== canon(b as any)) out.push(`${what}: stored ${canon(a as any)} / raw ${canon(b as any)}`);
    const probs = await storedProblems(partyc(), partyModel);
    if (probs.length) out.push(`${what}: ${probs.join(' ## ')}`);
  };
  const both = (what: string, repo: () => any, filter: (id: ObjectId) => Document, update: Document, rawFilter?: (id: ObjectId) => Document, upsert = false, newId = false) =>
    cmp(what, (id) => repo().updateOne(filter(id), update, upsert ? { upsert } : {}), (id) => partyMirror().updateOne((rawFilter ?? filter)(id), update, upsert ? { upsert } : {}), newId ? () => new ObjectId() : undefined);
  await both('persons $set home.city', persons, (id) => ({ _id: id }), { $set: { 'home.city': 'x' } });
  await both('persons $push langs', persons, (id) => ({ _id: id }), { $push: { langs: 'de' } });
  await both('persons $set langs.1', persons, (id) => ({ _id: id }), { $set: { 'langs.1': 'fr' } });
  await both('persons $set born + meta.b', persons, (id) => ({ _id: id }), { $set: { born: 'b2', 'meta.b': 2 } });
  await both('base $set home.zip', parties, (id) => ({ _id: id }), { $set: { 'home.zip': 'x' } });
  await both('base $set born (kind person)', parties, (id) => ({ _id: id, kind: 'person' }), { $set: { born: 'y' } });
  await both('persons upsert by displayName', persons, () => ({ displayName: 'new' }), { $set: { born: 'b' } }, () => ({ displayName: 'new', kind: 'person' }), true);
  await both('persons upsert kind in filter', persons, () => ({ kind: 'person', displayName: 'new' }), { $set: { born: 'b' } }, undefined, true);
  await both('base upsert person', parties, () => ({ kind: 'person', displayName: 'new' }), { $set: { born: 'b' } }, undefined, true);
  await both('base upsert org $setOnInsert', parties, () => ({ kind: 'org', displayName: 'new' }), { $setOnInsert: { reg: 'r' } }, undefined, true);
  await both('persons upsert home whole + home.note', persons, () => ({ displayName: 'new', born: 'b', home: { city: 'c', zip: 'z' } }), { $set: { 'home.note': 'n' } }, () => ({ displayName: 'new', born: 'b', home: { city: 'c', zip: 'z' }, kind: 'person' }), true);
  await both('persons upsert matched existing', persons, () => ({ displayName: 'p', born: 'b' }), { $push: { langs: 'x' } }, () => ({ displayName: 'p', born: 'b', kind: 'person' }), true);
  await both('persons updateMany $set home.note', persons, () => ({}), { $set: { 'home.note': 'n' } }, () => ({ kind: 'person' }));
  // save() of changed nested fields
  const id = await seedParties();
  const p = await persons().findById(id);
  p.home.city = 'saved'; p.langs.push('it'); p.meta.a = 5;
  const sr = await persons().save(p).then(() => 'ok', (e: unknown) => describe(e));
  const stored = await partyc().findOne({ _id: id });
  out.push(`save: ${sr} ${JSON.stringify(stored)}`);
  const b = await parties().findById(id);
  b.home.zip = 'saved2';
  out.push(`base save: ${await parties().save(b).then(() => 'ok', (e: unknown) => describe(e))} ${JSON.stringify(await partyc().findOne({ _id: id }))}`);
  t.log(out.join('\n'));
  t.pass();
});

test.serial('context: resolved-path cache agrees with resolvePath', async (t) => {
  const shapes = [resolveModel(Profile), resolveModel(Party), resolveModel(Person)];
  const seg = fc.constantFrom('name', 'address', 'city', 'zip', 'note', 'stats', 'views', 'tags', 'rows', 'label', 'spot', 'spots', 'meta', 'secret', 'x', '0', '1', '$', '$[]', '$[e]', '$x', '$id', '$**', 'kind', 'home', 'ssn', 'langs', 'born', 'reg');
  const path = fc.array(seg, { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
  const ops = fc.constantFrom('filter', '$set', '$inc', 'sort', 'projection');
  const bad: string[] = [];
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), path, ops), { minLength: 1, maxLength: 40 }), (calls) => {
    for (const [i, p, op] of calls) {
      const scope = new ModelScope(shapes[i] as any);
      const a = (() => { try { return JSON.stringify({ ...scope.resolve(p, op), field: scope.resolve(p, op).field?.name, encrypted: scope.resolve(p, op).encrypted?.name }); } catch (e) { return `throws ${(e as any).code}`; } })();
      const b = (() => { try { const r = resolvePath(shapes[i], p, op); return JSON.stringify({ ...r, field: r.field?.name, encrypted: r.encrypted?.name }); } catch (e) { return `throws ${(e as any).code}`; } })();
      if (a !== b) { bad.push(`${i} ${p} ${op}: ${a} vs ${b}`); return false; }
    }
    return true;
  }), { numRuns: 300 });
  t.log(bad.slice(0, 5).join('\n'));
  // More than 1,024 distinct free-form paths, then paths the resolver refuses.
  const id = await seed();
  for (let i = 0; i < 1100; i++) await profiles().count({ [`meta.k${i}`]: 1 });
  const after = [
    await profiles().updateOne({ _id: id }, { $set: { 'address.bogus': 1 } }).then(() => 'ok', (e: unknown) => (e as any).code),
    await profiles().updateOne({ _id: id }, { $set: { 'secret.x': 1 } }).then(() => 'ok', (e: unknown) => (e as any).code),
    await profiles().updateOne({ _id: id }, { $set: { 'meta.$bad': 1 } }).then(() => 'ok', (e: unknown) => (e as any).code),
    await profiles().count({ 'meta.$bad': 1 }).then(() => 'ok', (e: unknown) => (e as any).code),
    await profiles().updateOne({ _id: id }, { $set: { 'meta.k5': 2 } }).then(() => 'ok', (e: unknown) => (e as any).code),
  ];
  t.log(after.join(' '));
  t.pass();
});

test.serial('context: upsert filters copied into the inserted document', async (t) => {
  const out: string[] = [];
  const filters: Document[] = [
    { name: 'u', address: { city: 5, zip: 'b' } }, { name: 'u', address: { city: 'a', zip: 'b', extra: 1 } },
    { name: 'u', address: { city: 'a', zip: 'b' }, score: 2 }, { name: 'u', address: { city: 'a', zip: 'b' }, tags: ['a', 5] },
    { name: 'u', address: { city: 'a', zip: 'b' }, rows: [{}] }, { name: 'u', address: { city: 'a', zip: 'b' }, rows: [{ label: 5 }] },
    { name: 'u', address: { city: 'a', zip: 'b' }, stats: { views: 1.5, likes: 1 } }, { name: 'u', address: { city: 'a', zip: 'b' }, stats: { views: 1, likes: 2 }, 'stats.views': 1 },
    { name: 'u', address: { $eq: { city: 'a', zip: 5 } } }, { name: 'u', address: { city: 'a', zip: 'b' }, meta: { $eq: { a: 1 } } },
    { name: 'u', address: { city: 'a', zip: 'b' }, 'meta.a': 1 }, { name: 'u', address: { city: 'a', zip: 'b' }, score: { $eq: 3 } },
    { name: { $eq: 'u' }, 'address.city': 'a', 'address.zip': 'b', 'spot.city': 'x', 'spot.zip': 'y' },
    { name: 'u', address: { city: 'a', zip: 'b' }, 'spot.city': 'x' },
    { name: 'u', address: { city: 'a', zip: 'b' }, spot: { city: 'a', zip: 'b' }, secret: MARK },
    { name: 'u', address: { city: 'a', zip: 'b' }, rows: [{ label: 'l', spot: { city: 'x' } }] },
    { name: 'u', address: { city: 'a', zip: 'b' }, rows: [{ label: 'l', tags: [1] }] },
    { name: 'u', address: { city: 'a', zip: 'b' }, 'stats.seen': new Date(0) },
  ];
  for (const f of filters) {
    await pc().deleteMany({});
    watched.sent.length = 0;
    const r = await profiles().updateOne(f, { $set: { 'meta.touched': 1 } }, { upsert: true }).then(() => 'ok', (e: unknown) => describe(e));
    const probs = await storedProblems(pc(), () => Profile);
    const leak = JSON.stringify(watched.sent.map((e) => e.command)).includes(MARK) || r.includes(MARK);
    out.push(`${JSON.stringify(f)}: ${r.slice(0, 160)} | ${probs.join(' ## ')}${leak ? ' LEAK' : ''}`);
  }
  // other write paths with a dotted upsert the filter pins
  const forms: Array<[string, () => Promise<unknown>]> = [
    ['findOneAndUpdate', () => profiles().findOneAndUpdate({ name: 'u', 'address.city': 'a' }, { $set: { 'address.zip': 'b' } }, { upsert: true })],
    ['bulkWrite', () => profiles().bulkWrite([{ updateOne: { filter: { name: 'u', 'address.city': 'a' }, update: { $set: { 'address.zip': 'b' } }, upsert: true } }])],
    ['upsert()', () => profiles().upsert({ name: 'u', 'address.city': 'a' }, { $set: { 'address.zip': 'b' } })],
    ['updateMany', () => profiles().updateMany({ name: 'u', 'address.city': 'a' }, { $set: { 'address.zip': 'b' } }, { upsert: true })],
    ['$setOnInsert dotted', () => profiles().updateOne({ name: 'u' }, { $setOnInsert: { 'address.city': 'a', 'address.zip': 'b' } }, { upsert: true })],
    ['$setOnInsert dotted + $set matched', () => profiles().updateOne({ name: 'u' }, { $setOnInsert: { 'address.city': 'a', 'address.zip': 'b' }, $set: { 'address.note': 'x' } }, { upsert: true })],
  ];
  for (const [w, call] of forms) {
    await pc().deleteMany({});
    const r = await call().then(() => 'ok', (e: unknown) => describe(e));
    out.push(`${w}: ${r.slice(0, 160)} | ${(await storedProblems(pc(), () => Profile)).join(' ## ')} ${JSON.stringify(await pc().find({}, { projection: { _id: 0 } }).toArray())}`);
  }
  t.log(out.join('\n'));
  t.pass();
});

test.serial('context: fast-check, random writes keep every stored document what the model says', async (t) => {
  const str = fc.constantFrom('a', 'b');
  const addr = fc.record({ city: str, zip: str }, { requiredKeys: [] });
  const pathVal: fc.Arbitrary<[string, unknown]> = fc.oneof(
    fc.tuple(fc.constantFrom('address.city', 'address.zip', 'address.note', 'spot.city', 'spot.zip', 'spot.note', 'rows.0.label', 'rows.1.label', 'rows.0.spot.city', 'rows.0.spot.zip', 'rows.0.spots.0.city', 'rows.2.spot.zip', 'tags.0', 'tags.1', 'tags.3', 'rows.0.tags.0', 'meta.a', 'name'), str),
    fc.tuple(fc.constantFrom('address', 'spot', 'rows.0', 'rows.1', 'rows.0.spot', 'rows.0.spots.0', 'stats'), addr),
    fc.tuple(fc.constantFrom('stats.views', 'stats.likes'), fc.integer({ min: -2, max: 2 })),
  );
  const op = fc.constantFrom('$set', '$setOnInsert', '$max', '$min');
  const update = fc.array(fc.tuple(op, pathVal), { minLength: 1, maxLength: 3 }).map((items) => {
    const u: Document = {};
    for (const [o, [p, v]] of items) (u[o] ??= {})[p] = v;
    return u;
  });
  const incs = fc.array(fc.constantFrom('stats.views', 'stats.likes', 'rows.0.spot.city'), { maxLength: 2 }).map((ps) => (ps.length ? { $inc: Object.fromEntries(ps.map((p) => [p, 1])) } : {}));
  const filterExtra = fc.array(fc.oneof(pathVal.map(([p, v]) => ({ [p]: v })), pathVal.map(([p, v]) => ({ [p]: { $eq: v } })), pathVal.map(([p, v]) => ({ $and: [{ [p]: v }] }))), { maxLength: 2 })
    .map((parts) => Object.assign({}, ...parts));
  const seedDoc = fc.record({ name: str, address: fc.record({ city: str, zip: str }), spot: fc.option(fc.record({ city: str, zip: str }), { nil: undefined }), rows: fc.option(fc.array(fc.record({ label: str }), { maxLength: 2 }), { nil: undefined }), tags: fc.option(fc.array(str, { maxLength: 2 }), { nil: undefined }) }).map((d) => JSON.parse(JSON.stringify(d)));
  const failures: string[] = [];
  const tally: Record<string, number> = {};
  await fc.assert(fc.asyncProperty(seedDoc, update, incs, filterExtra, fc.boolean(), async (doc, u, inc, extra, upsert) => {
    await pc().deleteMany({});
    await profiles().insertOne(doc);
    const all = { ...u, ...inc };
    const filter = { name: upsert ? 'zz' : doc.name, ...extra };
    const r = await profiles().updateOne(filter, all, upsert ? { upsert } : {}).then(() => 'ok', (e: unknown) => (e instanceof StrongboxError ? 'refused' : describe(e)));
    tally[r.slice(0, 40)] = (tally[r.slice(0, 40)] ?? 0) + 1;
    const probs = await storedProblems(pc(), () => Profile);
    if (probs.length || (r !== 'ok' && r !== 'refused' && !/MongoServerError/.test(r))) { failures.push(`${JSON.stringify(doc)} ${JSON.stringify(filter)} ${JSON.stringify(all)} upsert=${upsert}: ${r} | ${probs.join(' ## ')}`); return false; }
    return true;
  }), { numRuns: 400, endOnFailure: true }).catch(() => undefined);
  t.log(JSON.stringify(tally), failures.join('\n'));
  t.pass();
});

/** An upsert through Strongbox and through the raw driver on empty collections: Strongbox's outcome and what each stored (without _id). */
async function upsertBoth(repo: () => any, coll: () => Collection, rawColl: () => Collection, filter: Document, rawFilter: Document, update: Document) {
  await coll().deleteMany({}); await rawColl().deleteMany({});
  const mine = await repo().updateOne(filter, update, { upsert: true }).then(() => 'ok', (e: unknown) => describe(e));
  await rawColl().updateOne(rawFilter, update, { upsert: true });
  const strip = async (c: () => Collection) => canon(await c().find({}, { projection: { _id: 0 }, promoteValues: false }).toArray() as any);
  return { mine, stored: await strip(coll), raw: await strip(rawColl), rawDocs: await rawColl().find({}, { promoteValues: false }).toArray() };
}

// FINDING-1 (over-refusal): an upsert whose update writes a dotted path into an embedded document is refused
// whenever that path alone would not fill the document, although a matched document surely has it (the field is
// required, or the filter pins a path inside it) and the inserted one gets it complete from the filter or
// $setOnInsert. creation.ts creationGuards: the check of `updated` (for matched documents) runs with remedy
// 'refuse' in an upsert and ignores both; the raw driver stores a document that conforms.
test.serial('FINDING-1: an upsert setting a field of an embedded document the filter or $setOnInsert completes is not refused', async (t) => {
  const cases: Array<[Document, Document]> = [
    [{ name: 'u', 'address.city': 'a' }, { $set: { 'address.zip': 'b' } }],
    [{ name: 'u' }, { $setOnInsert: { 'address.city': 'a', 'address.zip': 'b' }, $set: { 'address.note': 'x' } }],
    [{ name: 'u', address: { city: 'a', zip: 'b' }, 'stats.likes': 0 }, { $inc: { 'stats.views': 1 } }],
  ];
  const wrong: string[] = [];
  for (const [filter, update] of cases) {
    const r = await upsertBoth(profiles, pc, mirror, filter, filter, update);
    const rawWrong = r.rawDocs.flatMap((d) => nonconforming(Profile, d));
    t.deepEqual(rawWrong, [], 'the raw driver stores a conforming document');
    if (r.mine !== 'ok' || comparable(r.stored) !== comparable(r.raw)) wrong.push(`${JSON.stringify(filter)} ${JSON.stringify(update)}: ${r.mine.slice(0, 200)} | ${r.stored} / raw ${r.raw}`);
  }
  t.deepEqual(wrong, []);
});

// FINDING-2 (over-refusal): an upsert whose filter compares an embedded document whole (an equality, or $eq, which
// every server copies into the inserted document) and whose update sets one more field inside it is refused: the
// required fields of the embedded document are given by the copied document, but creation.ts uncovered() only
// counts written paths equal to or below each required field, never a whole document written at its parent.
test.serial('FINDING-2: an upsert filter giving an embedded document whole covers its required fields', async (t) => {
  const wrong: string[] = [];
  for (const filter of [{ name: 'u', address: { city: 'a', zip: 'b' } }, { name: 'u', address: { $eq: { city: 'a', zip: 'b' } } }]) {
    const r = await upsertBoth(profiles, pc, mirror, filter, filter, { $set: { 'address.note': 'n' } });
    t.deepEqual(r.rawDocs.flatMap((d) => nonconforming(Profile, d)), []);
    if (r.mine !== 'ok' || comparable(r.stored) !== comparable(r.raw)) wrong.push(`${JSON.stringify(filter)}: ${r.mine.slice(0, 200)} | ${r.stored} / raw ${r.raw}`);
  }
  // The same through a variant's repository (home is optional there).
  const filter = { displayName: 'new', born: 'b', home: { city: 'c', zip: 'z' } };
  const r = await upsertBoth(persons, partyc, partyMirror, filter, { ...filter, kind: 'person' }, { $set: { 'home.note': 'n' } });
  t.deepEqual(r.rawDocs.flatMap((d) => nonconforming(Person, d)), []);
  if (r.mine !== 'ok') wrong.push(`persons ${JSON.stringify(filter)}: ${r.mine.slice(0, 200)}`);
  t.deepEqual(wrong, []);
});

test.serial('context: no plaintext of an encrypted field in commands or errors of refused and accepted writes', async (t) => {
  const id = await seed();
  watched.sent.length = 0;
  const errors: unknown[] = [];
  const calls: Array<() => Promise<unknown>> = [
    () => profiles().updateOne({ name: 'u', 'address.city': 'a' }, { $set: { secret: MARK, 'address.zip': 'b' } }, { upsert: true }),
    () => profiles().updateOne({ name: 'u' }, { $set: { secret: MARK, 'spot.city': 'q' } }, { upsert: true }),
    () => profiles().updateOne({ _id: id }, { $set: { secret: MARK, 'rows.5.label': 'q' } }),
    () => profiles().updateOne({ _id: id }, { $set: { secret: MARK, 'tags.9': 'q' } }, { upsert: true }),
    () => profiles().updateOne({ name: null }, { $set: { secret: MARK } }, { upsert: true }),
    () => profiles().updateOne({ _id: id }, { $set: { secret: MARK, 'address.city': 'q' } }),
    () => profiles().bulkWrite([{ updateOne: { filter: { name: 'v' }, update: { $set: { secret: MARK } }, upsert: true } }]),
    () => persons().updateOne({ displayName: 'x' }, { $set: { ssn: MARK, kind: 'org' } }, { upsert: true }),
    () => parties().updateOne({ displayName: 'x' }, { $set: { ssn: MARK } }, { upsert: true }),
    () => persons().updateOne({ displayName: 'x', born: 'b' }, { $set: { ssn: MARK, 'home.city': 'c' } }, { upsert: true }),
  ];
  for (const c of calls) await c().catch((e: unknown) => errors.push(e));
  const text = JSON.stringify(watched.sent.map((e) => e.command)) + errors.map((e) => `${(e as Error).message} ${(e as Error).stack} ${JSON.stringify(e)}`).join(' ');
  t.log(`${errors.length} refused`);
  t.false(text.includes(MARK));
});

test.serial('context: legitimate updates on empty arrays and through other write paths', async (t) => {
  const EMPTY = { name: 'n', address: { city: 'c', zip: 'z' }, tags: [], rows: [{ label: 'r', spots: [], tags: [] }] };
  const wrong: string[] = [];
  for (const u of [{ $set: { 'tags.0': 'x' } }, { $set: { 'rows.0.spots.0': { city: 'a', zip: 'b' } } }, { $set: { 'rows.0.spots.0.city': 'a', 'rows.0.spots.0.zip': 'b' } },
    { $set: { 'rows.0.tags.0': 'x' } }, { $push: { 'rows.0.spots': { city: 'a', zip: 'b' } } }, { $set: { 'rows.1': { label: 'x' } } }, { $set: { 'rows.1.label': 'x' } },
    { $push: { 'rows.0.spots': { $each: [{ city: 'a', zip: 'b' }], $position: 0 } } }, { $set: { 'address.note': 'q', 'rows.0.label': 'q' } }]) {
    const w = await compareUpdate(u, undefined, EMPTY); if (w) wrong.push(w);
  }
  // findOneAndUpdate, bulkWrite, updateMany with dotted paths on documents that have the embedded documents
  const id = await seed();
  const r1 = await profiles().findOneAndUpdate({ _id: id }, { $set: { 'rows.0.spot.city': 'F' } }, { returnDocument: 'after' }).then((d: any) => d?.rows?.[0]?.spot?.city, (e: unknown) => describe(e));
  const r2 = await profiles().bulkWrite([{ updateMany: { filter: { _id: id }, update: { $inc: { 'stats.views': 1 } } } }, { updateOne: { filter: { _id: id }, update: { $set: { 'tags.0': 'B' } } } }]).then((r: any) => r.modifiedCount, (e: unknown) => describe(e));
  const r3 = await profiles().updateMany({ name: 'n' }, { $set: { 'spot.note': 'M' } }).then((r: any) => r.modifiedCount, (e: unknown) => describe(e));
  const after = await pc().findOne({ _id: id });
  t.log(wrong.join('\n'), r1, r2, r3, JSON.stringify(after));
  t.pass();
});

test.serial('context: cache across base and variant repositories, and a second client', async (t) => {
  const { testClient } = await import('../harness/client');
  const second = await testClient([Profile, Party, Person, Org]);
  try {
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e as any).code);
    const out: string[] = [];
    await seedParties();
    out.push(await code(parties().updateMany({ kind: 'org' }, { $set: { reg: 'x' } })));
    out.push(await code(persons().updateMany({}, { $set: { reg: 'x' } })));
    out.push(await code(persons().count({ reg: 'x' })));
    out.push(await code(untypedRepository(second, Person).updateMany({}, { $set: { reg: 'x' } })));
    out.push(await code(parties().count({ 'ssn.x': 1 })));
    out.push(await code(persons().updateMany({}, { $set: { 'ssn.x': 1 } })));
    out.push(await code(untypedRepository(second, Org).count({ born: 'b' })));
    out.push(await code(untypedRepository(second, Party).count({ born: 'b' })));
    t.log(out.join(' '));
    t.deepEqual(out, ['ok', 'INPUT_UNKNOWN_FIELD', 'INPUT_UNKNOWN_FIELD', 'INPUT_UNKNOWN_FIELD', 'QUERY_INSIDE_ENCRYPTED', 'QUERY_INSIDE_ENCRYPTED', 'INPUT_UNKNOWN_FIELD', 'ok']);
  } finally { await second.close(); }
});

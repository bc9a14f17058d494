/**
 * Round 42 (brief adv42, on 92b52be): filter comparands in declared types; upserts; save();
 * element paths. Plain JavaScript through the public API with command monitoring. Each FINDING
 * test asserts the correct behaviour and fails on 92b52be. FINDING-3 was fixed in 7a44dbd; 1, 2, 4
 * and 5 by the creation guards (src/repository/encoding/creation.ts, test/security/creation.test.ts).
 *
 * Excluded (FerretDB, not findings): ±Infinity / NaN operands (refused / connection dropped),
 * decimal128 unencrypted (the `dec` field is never stored), $push $sort ignored, `let` and
 * collations unimplemented.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Double, Int32, Long, ObjectId, type Document } from 'mongodb';
import { Encrypted, Field, Id, Model, StrongboxError, Version } from '../../src/index';
import { describe, untypedRepository, watchedClient } from '../harness/adversary';
import { uniqueDbName } from '../harness/server';
import { typedBench } from '../harness/typedModel';

const DB = uniqueDbName(__filename);
const { trepo, tcoll, repo, coll } = typedBench(DB, 'a42');
const tagOf = (v: unknown) => (v as { _bsontype?: string } | null)?._bsontype ?? (v instanceof Date ? 'Date' : Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
const refusedOrOk = (e: unknown) => { if (!(e instanceof StrongboxError)) throw e; return 'refused'; };

test.serial('FINDING-1: an upsert whose filter compares an array field with one element ({ tags: "a" }, { refs: oid }) inserted the element itself: a string / objectId stored in a field declared as an array', async (t) => {
  const wrong: string[] = [];
  const cases: Array<[string, Document]> = [['tags', { tags: 'a' }], ['tags $eq', { tags: { $eq: 'a' } }], ['refs', { refs: new ObjectId() }], ['tags $and', { $and: [{ tags: 'b' }] }]];
  for (const [what, f] of cases) {
    const key = `f1-${what}`;
    for (const how of ['updateOne', 'findOneAndUpdate', 'bulkWrite'] as const) {
      const filter = { name: `${key}-${how}`, ...f };
      const update = { $set: { s: 'x' } };
      const call = how === 'updateOne' ? trepo().updateOne(filter, update, { upsert: true })
        : how === 'findOneAndUpdate' ? trepo().findOneAndUpdate(filter, update, { upsert: true })
          : trepo().bulkWrite([{ updateOne: { filter, update, upsert: true } }]);
      await call.catch(refusedOrOk);
      const stored = await tcoll().findOne({ name: `${key}-${how}` }, { promoteValues: false });
      const field = what.startsWith('refs') ? 'refs' : 'tags';
      if (stored && stored[field] !== undefined && tagOf(stored[field]) !== 'array') wrong.push(`${how} ${what}: stored ${tagOf(stored[field])} ${JSON.stringify(stored[field])}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-2: an element path of a missing array ({ $set: { "tags.0": "a" } }, $setOnInsert, upsert filter { "tags.0": "a" }) made the array field an object { "0": "a" }', async (t) => {
  const wrong: string[] = [];
  const calls: Array<[string, (k: string) => Promise<unknown>]> = [
    ['upsert $set tags.0', (k) => trepo().updateOne({ name: k }, { $set: { 'tags.0': 'a' } }, { upsert: true })],
    ['upsert $setOnInsert tags.0', (k) => trepo().updateOne({ name: k }, { $setOnInsert: { 'tags.0': 'a' } }, { upsert: true })],
    ['upsert filter tags.0', (k) => trepo().updateOne({ name: k, 'tags.0': 'a' }, { $set: { s: 'y' } }, { upsert: true })],
    ['update $set tags.1 on a doc without tags', async (k) => { await trepo().insertOne({ name: k }); return trepo().updateOne({ name: k }, { $set: { 'tags.1': 'a' } }); }],
    ['update $set refs.0 on a doc without refs', async (k) => { await trepo().insertOne({ name: k }); return trepo().updateOne({ name: k }, { $set: { 'refs.0': new ObjectId() } }); }],
  ];
  for (const [what, call] of calls) {
    const k = `f2-${what}`;
    await call(k).catch(refusedOrOk);
    const stored = await tcoll().findOne({ name: k }, { promoteValues: false });
    const field = what.includes('refs') ? 'refs' : 'tags';
    if (stored && stored[field] !== undefined && tagOf(stored[field]) !== 'array') wrong.push(`${what}: stored ${tagOf(stored[field])} ${JSON.stringify(stored[field])}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-3: $inc / $mul with a narrower operand on a missing double field (upsert, or a document without it) stored the operand\'s type: { $inc: { d: 5 } } stored an int, $mul an int 0, a Long a long', async (t) => {
  const wrong: string[] = [];
  const ops: Array<[string, Document]> = [['$inc 5', { $inc: { d: 5 } }], ['$mul 2', { $mul: { d: 2 } }], ['$inc Int32', { $inc: { d: new Int32(3) } }], ['$inc Long', { $inc: { d: Long.fromNumber(4) } }], ['$inc 2n', { $inc: { d: 2n } }]];
  for (const [what, update] of ops) {
    for (const mode of ['upsert', 'existing'] as const) {
      const k = `f3-${what}-${mode}`;
      if (mode === 'existing') await trepo().insertOne({ name: k });
      await trepo().updateOne({ name: k }, update, { upsert: mode === 'upsert' }).catch(refusedOrOk);
      const stored = await tcoll().findOne({ name: k }, { promoteValues: false });
      if (stored && stored.d !== undefined && tagOf(stored.d) !== 'Double') wrong.push(`${mode} ${what}: stored ${tagOf(stored.d)}`);
    }
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-4: an upsert filter on a path into an array of embedded documents ({ "items.label": "x" }, { "items.0.label": "x" }) (or $set items.0.label on a missing array) inserted an object where the model declares an array of Item', async (t) => {
  const wrong: string[] = [];
  const cases: Array<[string, Document]> = [['items.label', { 'items.label': 'x' }], ['items.0.label', { 'items.0.label': 'x' }], ['items element', { items: { label: 'x' } }], ['$set items.0.label', {}]];
  for (const [what, f] of cases) {
    const name = `f4-${what}`;
    const update = what.startsWith('$set') ? { $set: { 'items.0.label': 'y' } } : { $set: { extra: { a: 1 } } };
    await repo().updateOne({ name, ...f }, update, { upsert: true }).catch(refusedOrOk);
    const stored = await coll().findOne({ name }, { promoteValues: false });
    if (stored && stored.items !== undefined && !Array.isArray(stored.items)) wrong.push(`${what}: stored ${tagOf(stored.items)} ${JSON.stringify(stored.items)}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('held: $min / $max / $setOnInsert / $set of a missing double, long or int field store the declared type (upsert)', async (t) => {
  const wrong: string[] = [];
  for (const [what, update] of [['$max d', { $max: { d: 5 } }], ['$min l', { $min: { l: 5 } }], ['$setOnInsert d', { $setOnInsert: { d: 2 } }], ['$set i Long', { $set: { i: Long.fromNumber(2) } }], ['$max i', { $max: { i: 2n } }]] as Array<[string, Document]>) {
    const name = `h-${what}`;
    await trepo().updateOne({ name }, update, { upsert: true }).catch(refusedOrOk);
    const stored = await tcoll().findOne({ name }, { promoteValues: false });
    const f = what.split(' ')[1];
    const want = { d: 'Double', l: 'Long', i: 'Int32' }[f];
    if (stored && stored[f] !== undefined && tagOf(stored[f]) !== want) wrong.push(`${what}: stored ${tagOf(stored[f])}`);
  }
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-5: an upsert filter { i: null } (or { i: { $eq: null } }) stored null in a field declared as int, which insertOne never stores (it drops a null: absence)', async (t) => {
  const wrong: string[] = [];
  for (const [what, f] of [['i null', { i: null }], ['l $eq null', { l: { $eq: null } }], ['when null', { when: null }], ['tags null', { tags: null }]] as Array<[string, Document]>) {
    const name = `f5-${what}`;
    await trepo().updateOne({ name, ...f }, { $set: { s: 'a' } }, { upsert: true }).catch(refusedOrOk);
    const stored = await tcoll().findOne({ name }, { promoteValues: false });
    const field = Object.keys(f)[0];
    if (stored && field in stored) wrong.push(`${what}: stored ${tagOf(stored[field])}`);
  }
  await trepo().insertOne({ name: 'f5-insert', i: null });
  t.false('i' in (await tcoll().findOne({ name: 'f5-insert' }))!, 'insertOne drops a null (the reference behaviour)');
  t.deepEqual(wrong, [], wrong.join('\n'));
});

// --- claim 2: converted comparands match what the raw driver's filter in declared types matches ---
const FIELDS = ['i', 'l', 'd', 'when', 's', 'tags'] as const;
type F = typeof FIELDS[number];
const valueArb: Record<F, fc.Arbitrary<unknown>> = {
  i: fc.integer({ min: -3, max: 3 }),
  l: fc.integer({ min: -3, max: 3 }),
  d: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(-0, 0.5, 1.5, -2.5)),
  when: fc.integer({ min: 0, max: 4 }).map((n) => new Date(1_600_000_000_000 + n * 1000)),
  s: fc.constantFrom('a', 'b', 'ab', 'B', ''),
  tags: fc.constantFrom('a', 'b', 'c'),
};
/** The raw driver's comparand in the declared type. */
const rawOf = (f: F, v: unknown): unknown => {
  if (v === null || v instanceof RegExp || Array.isArray(v)) return Array.isArray(v) ? v.map((x) => rawOf(f, x)) : v;
  if (f === 'i') return new Int32(v as number);
  if (f === 'l') return Long.fromNumber(v as number);
  if (f === 'd') return new Double(v as number);
  return v;
};
const docArb = fc.record({
  i: fc.option(valueArb.i, { nil: undefined }), l: fc.option(valueArb.l, { nil: undefined }), d: fc.option(valueArb.d, { nil: undefined }),
  when: fc.option(valueArb.when, { nil: undefined }), s: fc.option(valueArb.s, { nil: undefined }),
  tags: fc.option(fc.array(valueArb.tags, { maxLength: 3 }), { nil: undefined }),
}, { requiredKeys: [] });
const filterArb: fc.Arbitrary<[string, Document, Document]> = fc.constantFrom(...FIELDS).chain((f) => {
  const v = valueArb[f];
  const path = f === 'tags' ? fc.constantFrom('tags', 'tags.0', 'tags.1') : fc.constant(f as string);
  const opnd = fc.oneof(
    v.map((x) => ['eq', x] as [string, unknown]),
    fc.constantFrom('$eq', '$ne', '$gt', '$gte', '$lt', '$lte').chain((op) => v.map((x) => [op, x] as [string, unknown])),
    fc.constantFrom('$in', '$nin').chain((op) => fc.array(fc.oneof(v, fc.constant(null)), { maxLength: 3 }).map((xs) => [op, xs] as [string, unknown])),
    fc.constant(['eq', null] as [string, unknown]), fc.constant(['$ne', null] as [string, unknown]),
    ...(f === 's' || f === 'tags' ? [fc.constantFrom(/^a/, /b/i).map((r) => ['eq', r] as [string, unknown])] : []),
    ...(f === 'tags' ? [fc.array(v, { minLength: 1, maxLength: 2 }).map((xs) => ['$all', xs] as [string, unknown]), fc.array(v, { maxLength: 2 }).map((xs) => ['eq', xs] as [string, unknown]),
      v.map((x) => ['$elemMatch', x] as [string, unknown])] : []),
  );
  return fc.tuple(path, opnd).map(([p, [op, x]]) => {
    const rf = p === f ? f : ('s' as F); // element paths: the raw value as given (no declared type for an element path of a string array)
    const conv = (y: unknown) => (p === f ? rawOf(rf, y) : y);
    const mk = (y: unknown, raw: boolean): unknown => op === 'eq' ? (raw ? conv(y) : y)
      : op === '$elemMatch' ? { $elemMatch: { $eq: y } }
        : { [op]: raw ? (Array.isArray(y) && op !== '$eq' && op !== '$ne' ? (y as unknown[]).map(conv) : conv(y)) : y };
    return [`${p} ${op} ${String(x)}`, { [p]: mk(x, false) }, { [p]: mk(x, true) }] as [string, Document, Document];
  });
});

test.serial('held: (generated, claim 2): a filter over int/long/double/date/string/array fields matches the same documents through Strongbox as the raw driver\'s filter written in the declared types', async (t) => {
  const wrong: string[] = [];
  await tcoll().deleteMany({});
  const docs = fc.sample(docArb, { numRuns: 40, seed: 4242 });
  for (const d of docs) {
    const clean = Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined));
    await trepo().insertOne({ ...clean, name: 'c2' });
  }
  await fc.assert(fc.asyncProperty(filterArb, async ([what, mine, raw]) => {
    let ours: string[] | string;
    try {
      ours = (await trepo().find({ name: 'c2', ...mine }).toArray()).map((x: Document) => String(x._id)).sort();
    } catch (e) {
      if (!(e instanceof StrongboxError)) wrong.push(`${what}: ${describe(e)}`);
      return;
    }
    const theirs = (await tcoll().find({ name: 'c2', ...raw }).toArray()).map((x) => String(x._id)).sort();
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) wrong.push(`${what}: strongbox ${ours.length} raw ${theirs.length}`);
  }), { numRuns: 150, seed: 4242 });
  t.deepEqual(wrong.slice(0, 8), [], wrong.slice(0, 8).join('\n'));
});

const DBV = uniqueDbName(__filename, 'v');
@Model({ db: DBV, collection: 'ver', keyAltName: 'a42v' })
class Ver {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'long' }) n!: Long;
  @Field({ bsonType: 'double' }) x!: number;
  @Field({ bsonType: 'int' }) k!: number;
  @Field({ bsonType: 'date' }) at!: Date;
  @Field() s!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) tag?: any;
  @Encrypted({ algorithm: 'Random', bsonType: 'double', optional: true }) secret?: any;
  @Version() version!: number;
}
const ver = watchedClient(DBV, [Ver]);
const vrepo = () => untypedRepository(ver.client, Ver);
const vcoll = () => ver.raw.db(DBV).collection('ver');

test.serial('held: (claims 3, 4): paginate over long/double/int/date sort keys, findById, save() of a loaded entity with @Version; no plaintext of encrypted fields in commands or refusals', async (t) => {
  const problems: string[] = [];
  for (let n = 0; n < 7; n++) await vrepo().insertOne({ n: Long.fromNumber(n % 3), x: n / 2, k: n % 2, at: new Date(1_600_000_000_000 + (n % 4)), s: `s${n}`, tag: `t${n}`, secret: n + 0.25 });
  for (const key of ['n', 'x', 'k', 'at', 's']) {
    for (const dir of [1, -1]) {
      const seen: string[] = [];
      let token: string | null | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page: Document = await vrepo().paginate({ s: { $ne: 'none' } }, { sort: { [key]: dir }, limit: 2, ...(token ? { after: token } : {}) }).catch((e: unknown) => { problems.push(`paginate ${key}: ${describe(e)}`); return { items: [] }; });
        seen.push(...(page.items ?? []).map((x: Document) => String(x._id)));
        token = page.next;
        if (!token) break;
      }
      if (new Set(seen).size !== 7 || seen.length !== 7) problems.push(`paginate ${key} ${dir}: saw ${new Set(seen).size} of 7 (${seen.length})`);
    }
  }
  const one: Document = (await vrepo().findOne({ k: 1, n: 1 }))!;
  const byId: Document | null = await vrepo().findById(one._id);
  if (String(byId?._id) !== String(one._id)) problems.push('findById');
  const stale: Document = (await vrepo().findById(one._id))!;
  one.s = 'saved'; one.x = 7; one.n = Long.fromNumber(9); one.k = 4; one.secret = 1.5;
  await vrepo().save(one).catch((e: unknown) => problems.push(`save: ${describe(e)}`));
  const stored = await vcoll().findOne({ _id: one._id }, { promoteValues: false });
  const types = ['x', 'n', 'k', 'version'].map((f) => tagOf(stored?.[f])).join(',');
  if (stored?.s !== 'saved' || types !== 'Double,Long,Int32,Int32') problems.push(`save stored ${types} ${stored?.s}`);
  one.s = 'again';
  await vrepo().save(one).catch((e: unknown) => problems.push(`second save: ${describe(e)}`));
  stale.s = 'stale';
  const staleOutcome = await vrepo().save(stale).then(() => 'saved', (e: unknown) => (e as Error).constructor.name);
  if (staleOutcome !== 'ConcurrencyError') problems.push(`stale save: ${staleOutcome}`);
  const secret = 'PLAINTEXT-SECRET-42';
  ver.sent.length = 0;
  for (const call of [
    () => vrepo().find({ tag: secret }).toArray(),
    () => vrepo().find({ tag: { $in: [secret, 5] } }).toArray(),
    () => vrepo().find({ secret: { $gt: secret } }).toArray(),
    () => vrepo().updateOne({ s: 'z' }, { $setOnInsert: { secret, n: 1n, x: 1, k: 1, at: new Date() } }, { upsert: true }),
    () => vrepo().updateOne({ s: 'z', tag: secret }, { $set: { k: 2 }, $setOnInsert: { n: 1n, x: 1, at: new Date() } }, { upsert: true }),
    () => vrepo().updateOne({ s: 'z', tag: secret }, { $set: { k: secret } }),
    () => vrepo().insertOne({ n: 1n, x: 1, k: 1, at: new Date(), s: 'w', secret }),
  ]) {
    const e = await call().then(() => undefined, (x: unknown) => x);
    if (e && JSON.stringify({ m: (e as Error).message, s: (e as Error).stack, ...(e as object) }).includes(secret)) problems.push(`error shows the plaintext: ${describe(e)}`);
  }
  const leaked = ver.sent.filter((c) => JSON.stringify(c.command).includes(secret)).map((c) => c.commandName);
  if (leaked.length) problems.push(`plaintext in ${leaked.join(', ')}`);
  const upserted = await vcoll().findOne({ s: 'z' }, { promoteValues: false });
  if (upserted && (tagOf(upserted.tag) !== 'Binary' || tagOf(upserted.n) !== 'Long' || tagOf(upserted.x) !== 'Double')) problems.push(`upserted ${tagOf(upserted.tag)} ${tagOf(upserted.n)} ${tagOf(upserted.x)}`);
  t.deepEqual(problems, [], problems.join('\n'));
});

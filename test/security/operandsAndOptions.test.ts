/**
 * Operands the server combines with a stored value, and options that carry expressions or
 * settings, from plain JavaScript with command monitoring: what is stored keeps the type the model
 * declares, and what the query policy would refuse in a pipeline is refused in `let` too. Each
 * FINDING test failed on 10e5052 (found by probing the public API at the start of stop 31).
 */
import test from 'ava';
import * as fc from 'fast-check';
import { Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'mongodb';
import { StrongboxError } from '../../src/index';
import { describe, refusedBeforeSending, storedIn } from '../harness/adversary';
import { requires, testServer, uniqueDbName } from '../harness/server';
import { typedBench } from '../harness/typedModel';

const DB = uniqueDbName(__filename);
const { sent, repo, coll, trepo, tcoll } = typedBench(DB, 'ops');
const WRITES = ['update', 'insert', 'findAndModify', 'delete'];
const QUERIES = ['find', 'aggregate', 'count', ...WRITES];
const fn = () => ({ $function: { body: 'function () { return 1; }', args: [], lang: 'js' } });
const carrying = (reading: unknown) => ({ toBSON: () => reading });

/** The BSON type name (as in a $jsonSchema bsonType) of a value read with promoteValues: false. */
function storedType(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  const names: Record<string, string> = { Int32: 'int', Long: 'long', Double: 'double', Decimal128: 'decimal', Timestamp: 'timestamp', ObjectId: 'objectId', Binary: 'binData', BSONRegExp: 'regex' };
  const tag = (value as { _bsontype?: string } | null)?._bsontype;
  return (tag && names[tag]) ?? (Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value);
}


/** Typed fields of the shared model, each with a stored value that operands can move either way. */
const SEEDED: Record<string, { declared: string; seed: unknown }> = {
  i: { declared: 'int', seed: 7 },
  l: { declared: 'long', seed: Long.fromNumber(7) },
  d: { declared: 'double', seed: 7.5 },
  dec: { declared: 'decimal', seed: Decimal128.fromString('7') },
  when: { declared: 'date', seed: new Date(1_000_000_000_000) },
  s: { declared: 'string', seed: 'm' },
  ts: { declared: 'timestamp', seed: new Timestamp({ t: 100, i: 1 }) },
  ref: { declared: 'objectId', seed: new ObjectId('5f0000000000000000000000') },
};
const NUMERIC = new Set(['int', 'long', 'double', 'decimal']);

/** The seeded fields this server can store unencrypted; whether it is FerretDB, which refuses ±Infinity and drops the connection on NaN. */
async function storable(t: { log(...values: unknown[]): void }): Promise<{ fields: string[]; ferret: boolean }> {
  const server = await testServer();
  const ferret = server.description.includes('FerretDB');
  const fields = Object.keys(SEEDED).filter((name) => SEEDED[name].declared !== 'decimal' || server.features.has('exoticPlainTypes'));
  if (fields.length < Object.keys(SEEDED).length) t.log('the decimal field is left out: the server cannot store decimal128 unencrypted (a real MongoDB runs it)');
  if (ferret) t.log('operands holding NaN or ±Infinity are left out: FerretDB refuses ±Infinity and drops the connection on NaN (MongoDB stores both)');
  return { fields, ferret };
}

/** Whether the int seed (7) combined with an integer operand leaves the 32-bit range. */
function overflowsInt(op: string, operand: unknown): boolean {
  const tag = (operand as { _bsontype?: string } | null)?._bsontype;
  const k = typeof operand === 'bigint' ? operand : typeof operand === 'number' && Number.isInteger(operand) ? BigInt(operand)
    : tag === 'Int32' || tag === 'Long' ? BigInt(String(operand)) : undefined;
  if (k === undefined) return false;
  const result = op === '$inc' ? 7n + k : 7n * k;
  return result < -(2n ** 31n) || result > 2n ** 31n - 1n;
}

function holdsSpecialNumber(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (value === null || typeof value !== 'object' || depth > 3) return false;
  const tag = (value as { _bsontype?: string })._bsontype;
  if (tag === 'Double' || tag === 'Decimal128') return !Number.isFinite(Number(value.toString()));
  return Object.values(value).some((item) => holdsSpecialNumber(item, depth + 1));
}

const operandArb = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true }),
  fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
  fc.constantFrom<unknown>(new Int32(3), Long.fromNumber(3), new Double(3), Decimal128.fromString('3.5'), new Timestamp({ t: 200, i: 0 }),
    new ObjectId('6f0000000000000000000000'), new Date(2_000_000_000_000), 'zzz', '', true, null, [1], { a: 1 }, 2 ** 40, 1.5),
  fc.anything({ maxDepth: 1 }),
  fc.integer({ min: -5, max: 5 }).map((n) => carrying(n)),
  fc.constantFrom<unknown>(carrying({ a: 1 }), carrying('zzz'), carrying({ $x: 1 })),
);

test.serial('FINDING-1 (generated): $inc, $mul, $min, $max and $bit leave a typed field holding its declared BSON type, or are refused before any update: $max: { i: "zzz" } stored a string in an int field, $min: { s: 5 } a number in a string field, $inc: { i: 1.5 } a double, $bit with a Long a long, and an operand carrying a toBSON was stored as what it returned', async (t) => {
  const ops = ['$inc', '$mul', '$min', '$max', '$bit'];
  const { fields, ferret } = await storable(t);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...fields), fc.constantFrom(...ops), operandArb, fc.boolean(), async (name, op, operand, bitwise) => {
    fc.pre(!(ferret && holdsSpecialNumber(operand)));
    // An int the server increments or multiplies past 32 bits is stored as a long (the server widens a result that
    // does not fit; Strongbox does not see the stored value): docs/queries.md says so and advises long; left out here.
    fc.pre(!(name === 'i' && (op === '$inc' || op === '$mul') && overflowsInt(op, operand)));
    const { declared, seed } = SEEDED[name];
    const seeded = await trepo().insertOne({ [name]: seed });
    const given = op === '$bit' && bitwise ? { and: operand } : operand;
    sent.length = 0;
    const error = await trepo().updateOne({ _id: seeded._id }, { [op]: { [name]: given } }).then(() => undefined, (e: unknown) => e ?? new Error('rejected with nothing'));
    const stored = (await storedIn(tcoll(), seeded._id))[name];
    const label = `${op} ${name} (${declared}) ${describe(given).slice(0, 80)}`;
    if (error !== undefined) {
      if (!(error instanceof StrongboxError)) throw new Error(`${label}: ${describe(error)}`);
      if (sent.some((c) => c.commandName === 'update')) throw new Error(`${label}: refused after an update command`);
    } else {
      // Accepted: only an operator that fits the field.
      if ((op === '$inc' || op === '$mul') && !NUMERIC.has(declared)) throw new Error(`${label}: arithmetic accepted on a ${declared} field`);
      if (op === '$bit' && declared !== 'int' && declared !== 'long') throw new Error(`${label}: $bit accepted on a ${declared} field`);
    }
    if (storedType(stored) !== declared) throw new Error(`${label}: stored a ${storedType(stored)}`);
  }), { numRuns: 250, seed: 4141 });
  t.pass();
});

test.serial('an operand in the declared type is accepted, and the result is the declared type: counters, bounds and bit masks', async (t) => {
  const { fields } = await storable(t);
  const seeded = await trepo().insertOne({ i: 7, l: Long.fromNumber(7), d: 7.5, s: 'm', when: new Date(1_000_000_000_000) });
  await trepo().updateOne({ _id: seeded._id }, { $inc: { i: 2, l: 2, d: 1 }, $max: { s: 'q', when: new Date(2_000_000_000_000) } });
  await trepo().updateOne({ _id: seeded._id }, { $mul: { i: 3 }, $min: { d: 0.25 }, $bit: { l: { or: 16 } } });
  const stored = await storedIn(tcoll(), seeded._id);
  const shown = (names: string[]) => Object.fromEntries(names.map((name) => [name, `${storedType(stored[name])} ${String(stored[name] instanceof Date ? (stored[name] as Date).getTime() : stored[name])}`]));
  t.deepEqual(shown(['i', 'l', 'd', 's', 'when']), { i: 'int 27', l: 'long 25', d: 'double 0.25', s: 'string q', when: 'date 2000000000000' });
  if (!fields.includes('dec')) return;
  const decimal = await trepo().insertOne({ dec: Decimal128.fromString('7') });
  await trepo().updateOne({ _id: decimal._id }, { $inc: { dec: 1 } });
  t.is(storedType((await storedIn(tcoll(), decimal._id)).dec), 'decimal');
});

test.serial('FINDING-2: a $push $sort carrying a toBSON is read as BSON writes it and must be 1, -1 (or, on documents, fields with 1 or -1): the driver sent its reading unchecked ({ $x: 1 } reached the server)', async (t) => {
  const seeded = await trepo().insertOne({ tags: ['b', 'a'] });
  const wrong = await refusedBeforeSending(sent, [
    ['$sort toBSON operator', () => trepo().updateOne({ _id: seeded._id }, { $push: { tags: { $each: ['c'], $sort: carrying({ $x: 1 }) } } })],
    ['$sort toBSON object on scalars', () => trepo().updateOne({ _id: seeded._id }, { $push: { tags: { $each: ['c'], $sort: carrying({ a: 1 }) } } })],
    ['$sort 2', () => trepo().updateOne({ _id: seeded._id }, { $push: { tags: { $each: ['c'], $sort: 2 } } })],
    ['$sort string', () => trepo().updateOne({ _id: seeded._id }, { $push: { tags: { $each: ['c'], $sort: 'asc' } } })],
  ], WRITES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  sent.length = 0;
  await trepo().updateOne({ _id: seeded._id }, { $push: { tags: { $each: ['c'], $sort: carrying(-1) } } });
  // (FerretDB v1 ignores $sort in $push: what is asserted is the command.)
  const update = sent.find((c) => c.commandName === 'update')?.command as Document | undefined;
  t.deepEqual(update?.updates?.[0]?.u?.$push?.tags?.$sort, -1, 'a toBSON returning -1 is sent as -1');
});

test.serial('FINDING-3: a free-form object whose toBSON returns a document with a $ key or a dotted key is refused like the same document written as an object literal (insertOne, $set, replaceOne, bulkWrite): its reading was sent unchecked and only the server refused it, with an untyped error', async (t) => {
  const seeded = await trepo().insertOne({ obj: { a: 1 } });
  const wrong = await refusedBeforeSending(sent, [
    ['insertOne $ key', () => trepo().insertOne({ obj: carrying({ $x: 1 }) })],
    ['insertOne dotted key', () => trepo().insertOne({ obj: carrying({ 'a.b': 1 }) })],
    ['insertOne nested $ key', () => trepo().insertOne({ obj: carrying({ a: { $ne: null } }) })],
    ['$set $ key', () => trepo().updateOne({ _id: seeded._id }, { $set: { obj: carrying({ $x: 1 }) } })],
    ['$set below the object', () => trepo().updateOne({ _id: seeded._id }, { $set: { 'obj.a': carrying({ $x: 1 }) } })],
    ['replaceOne', () => trepo().replaceOne({ _id: seeded._id }, { obj: carrying({ $x: 1 }) })],
    ['bulkWrite insertOne', () => trepo().bulkWrite([{ insertOne: { document: { obj: carrying({ $x: 1 }) } } }])],
  ], WRITES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  t.deepEqual((await storedIn(tcoll(), seeded._id)).obj, { a: new Int32(1) }, 'the stored object is unchanged');
});

test.serial('FINDING-4: aggregate let variables are checked like expressions of the model (server-side JavaScript, $$ROOT / $$CURRENT and field paths refused) and read as BSON writes them: $function, $$ROOT and $$CURRENT.<encrypted field> were forwarded to the server, and so was a toBSON returning $function', async (t) => {
  const pipeline = [{ $match: { s: 'x' } }];
  const wrong = await refusedBeforeSending(sent, [
    ['let $function', () => trepo().aggregate(pipeline, { let: { x: fn() } }).toArray()],
    ['let $function inside', () => trepo().aggregate(pipeline, { let: { x: { $add: [1, fn()] } } }).toArray()],
    ['let $$ROOT', () => trepo().aggregate(pipeline, { let: { x: '$$ROOT' } }).toArray()],
    ['let $$CURRENT.eref', () => trepo().aggregate(pipeline, { let: { x: '$$CURRENT.eref' } }).toArray()],
    ['let $$CURRENT.s', () => trepo().aggregate(pipeline, { let: { x: '$$CURRENT.s' } }).toArray()],
    ['let field path', () => trepo().aggregate(pipeline, { let: { x: '$eref' } }).toArray()],
    ['let toBSON $function', () => trepo().aggregate(pipeline, { let: { x: carrying(fn()) } }).toArray()],
    ['let toBSON of the variables', () => trepo().aggregate(pipeline, { let: carrying({ x: fn() }) }).toArray()],
    ['let NUL in a name', () => trepo().aggregate(pipeline, { let: { 'x\0y': 1 } }).toArray()],
  ], QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('FINDING-5: collation settings must be what MongoDB documents for each (a locale name, true/false, a strength of 1 to 5 …), and a $regex pattern given as a string holds no NUL: a locale with a NUL and a string pattern with one reached the server', async (t) => {
  const wrong = await refusedBeforeSending(sent, [
    ['locale with NUL', () => trepo().find({ s: 'x' }, { collation: { locale: 'e\0n' } }).toArray()],
    ['locale with a space', () => trepo().find({ s: 'x' }, { collation: { locale: 'en US' } }).toArray()],
    ['locale a number', () => trepo().find({ s: 'x' }, { collation: { locale: 5 } }).toArray()],
    ['locale of 10,000 characters', () => trepo().find({ s: 'x' }, { collation: { locale: 'e'.repeat(10_000) } }).toArray()],
    ['strength 9', () => trepo().count({ s: 'x' }, { collation: { locale: 'en', strength: 9 } })],
    ['caseFirst other', () => trepo().deleteMany({ s: 'x' }, { collation: { locale: 'en', caseFirst: 'title' } })],
    ['numericOrdering a string', () => trepo().updateMany({ s: 'x' }, { $set: { name: 'y' } }, { collation: { locale: 'en', numericOrdering: 'yes' } })],
    ['unknown setting', () => trepo().find({ s: 'x' }, { collation: { locale: 'en', backward: true } }).toArray()],
    ['$regex string with NUL', () => trepo().find({ s: { $regex: 'a\0b' } }).toArray()],
    ['$regex string with NUL in $or', () => trepo().count({ $or: [{ s: { $regex: 'a\0b', $options: 'i' } }] })],
  ], QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  // Settings MongoDB documents pass the check (FerretDB ignores or refuses collations: only the check is asserted here).
  sent.length = 0;
  await trepo().find({ s: 'x' }, { collation: { locale: 'de@collation=phonebook', strength: 2, caseLevel: false, alternate: 'shifted', maxVariable: 'punct' } }).toArray().catch(() => undefined);
  t.true(sent.some((c) => c.commandName === 'find'), 'a documented collation reaches the server');
});

test.serial('refusals raised while reading a query name the call and the top-level key, never a key inside a value', async (t) => {
  const error = await trepo().count({ s: carrying({ $ne: null }) }).catch((e: unknown) => e);
  t.true(error instanceof StrongboxError);
  t.regex((error as Error).message, /^count on Typed, under s: /);
  const filters = await trepo().updateOne({ s: 'x' }, { $set: { 'tags.$[t]': 'y' } }, { arrayFilters: [carrying({ t: { $ne: null } })] }).catch((e: unknown) => e);
  t.regex((filters as Error).message, /^updateOne on Typed: /);
  const whole = await trepo().insertOne({ obj: carrying({ $secretKey: 1 }) }).catch((e: unknown) => e) as Document;
  t.false(String(whole.message).includes('secretKey'), 'the key is not quoted');
});

test.serial('what the review of these checks found refused is accepted again, and element paths keep the element type: $push $sort by fields on arrays that may hold documents, DBRef fields and $** below a free-form object, paths below an element of an untyped array, narrower operands of double fields', async (t) => {
  const seeded = await repo().insertOne({ list: [{ count: 1 }], extra: { owner: { a: 1 } } });
  await repo().updateOne({ _id: seeded._id }, { $push: { list: { $each: [{ count: 0 }], $sort: { count: 1 } } } });
  await repo().updateOne({ _id: seeded._id }, { $inc: { 'list.0.count': 5 } });
  // (FerretDB v1 ignores $sort in $push, so which element is first depends on the server: the types and the total are asserted.)
  const list = (await storedIn(coll(), seeded._id)).list as Array<{ count: unknown }>;
  t.deepEqual(list.map((item) => storedType(item.count)), ['int', 'int']);
  t.is(list.reduce((sum, item) => sum + Number(item.count), 0), 6);
  t.deepEqual(await repo().find({ 'extra.owner.$id': new ObjectId() }).toArray(), [], 'a DBRef field below a free-form object can be named');
  const typed = await trepo().insertOne({ d: 1.5, tags: ['a'] });
  await trepo().updateOne({ _id: typed._id }, { $inc: { d: new Int32(2) } });
  await trepo().updateOne({ _id: typed._id }, { $mul: { d: 2n } });
  t.is(storedType((await storedIn(tcoll(), typed._id)).d), 'double', 'a double field stays double with narrower operands');
  const wrong = await refusedBeforeSending(sent, [
    ['$currentDate on a string element', () => trepo().updateOne({ _id: typed._id }, { $currentDate: { 'tags.0': true } })],
    ['$push $sort by field on strings', () => trepo().updateOne({ _id: typed._id }, { $push: { tags: { $each: ['b'], $sort: { a: 1 } } } })],
    ['$inc of a double by a Decimal128', () => trepo().updateOne({ _id: typed._id }, { $inc: { d: Decimal128.fromString('1') } })],
    ['$inc on a string element', () => trepo().updateOne({ _id: typed._id }, { $inc: { 'tags.0': 1 } })],
  ], WRITES);
  t.deepEqual(wrong, [], wrong.join('\n'));
});

requires('exoticPlainTypes', test.serial)('$inc / $mul on a decimal field store a decimal, also on a missing field: the operand is sent as a Decimal128 (the number as written)', async (t) => {
  const wrong: string[] = [];
  const ops: Array<[string, Document]> = [['$inc 5', { $inc: { dec: 5 } }], ['$mul 2', { $mul: { dec: 2 } }], ['$inc Int32', { $inc: { dec: new Int32(3) } }], ['$inc Long', { $inc: { dec: Long.fromNumber(4) } }], ['$inc 0.1', { $inc: { dec: 0.1 } }]];
  for (const [what, update] of ops) {
    for (const mode of ['upsert', 'existing', 'seeded'] as const) {
      const name = `dec-${what}-${mode}`;
      if (mode !== 'upsert') await trepo().insertOne({ name, ...(mode === 'seeded' ? { dec: Decimal128.fromString('1') } : {}) });
      await trepo().updateOne({ name }, update, { upsert: mode === 'upsert' });
      const stored = await tcoll().findOne({ name }, { promoteValues: false });
      if ((stored?.dec as { _bsontype?: string } | undefined)?._bsontype !== 'Decimal128') wrong.push(`${mode} ${what}: stored ${JSON.stringify(stored?.dec)}`);
    }
  }
  const tenth = await tcoll().findOne({ name: 'dec-$inc 0.1-upsert' }, { promoteValues: false });
  t.is(String(tenth?.dec), '0.1', 'a double operand is sent as the decimal it reads as, not its binary expansion');
  t.deepEqual(wrong, [], wrong.join('\n'));
});

test.serial('$inc / $mul operands of a decimal field are sent as Decimal128, of a double field as Double (checked on the command; the server may not store decimals)', async (t) => {
  const sentOperand = async (update: Document) => {
    sent.length = 0;
    await trepo().updateOne({ name: 'sent-operand' }, update).catch(() => undefined);
    const command = sent.find((c) => c.commandName === 'update')?.command;
    const op = Object.keys(update)[0];
    return (command?.updates?.[0]?.u?.[op] as Document | undefined)?.[Object.keys(update[op])[0]];
  };
  const tagOf = (v: unknown) => (v as { _bsontype?: string } | undefined)?._bsontype;
  for (const operand of [5, 2n, new Int32(3), Long.fromNumber(4), 0.1]) {
    t.is(tagOf(await sentOperand({ $inc: { dec: operand } })), 'Decimal128', `$inc dec ${String(operand)}`);
    t.is(tagOf(await sentOperand({ $mul: { d: operand } })), 'Double', `$mul d ${String(operand)}`);
  }
  t.is(String(await sentOperand({ $inc: { dec: 0.1 } })), '0.1');
});

test.serial('a sort by (or projection of) { $meta: "textScore" } without a text search is refused before sending (the server has no score); with $text it is sent', async (t) => {
  const byScore = { s: { $meta: 'textScore' } };
  const wrong = await refusedBeforeSending(sent, [
    ['find', () => trepo().find({ name: 'x' }, { sort: byScore }).toArray()],
    ['aggregate $sort without a first $text $match', () => trepo().aggregate([{ $match: { name: 'x' } }, { $sort: byScore }]).toArray()],
    ['aggregate $text in a later $match', () => trepo().aggregate([{ $limit: 5 }, { $match: { $text: { $search: 'x' } } }, { $sort: byScore }]).toArray()],
    ['findOneAndUpdate', () => trepo().findOneAndUpdate({ name: 'x' }, { $set: { s: 'y' } }, { sort: byScore })],
    ['findOneAndDelete', () => trepo().findOneAndDelete({ name: 'x' }, { sort: byScore })],
    ['find projecting the score', () => trepo().find({ name: 'x' }, { projection: byScore }).toArray()],
    ['findOneAndUpdate projecting the score', () => trepo().findOneAndUpdate({ name: 'x' }, { $set: { s: 'y' } }, { projection: byScore })],
  ], QUERIES);
  t.deepEqual(wrong, [], wrong.join('\n'));
  sent.length = 0;
  // FerretDB v1 answers a textScore sort with an error of its own; what matters here is that Strongbox sends it.
  await trepo().find({ $text: { $search: 'x' } }, { sort: byScore }).toArray().catch(() => undefined);
  await trepo().aggregate([{ $match: { $text: { $search: 'x' } } }, { $sort: byScore }]).toArray().catch(() => undefined);
  t.deepEqual(sent.map((c) => c.commandName).filter((n) => n === 'find' || n === 'aggregate'), ['find', 'aggregate']);
});

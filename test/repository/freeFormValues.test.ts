/**
 * Objects in values the model leaves free-form — a field encrypted whole without a declared type,
 * the inside of a free-form object — are read once, as BSON writes them: the encryption, the
 * command, the change-tracking snapshot and the entity returned all hold that one reading. Real
 * server, command monitoring, the raw driver to see stored BSON types.
 */
import test from 'ava';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { BSON, Double, Int32, Long, type CommandStartedEvent, type MongoClient, type ObjectId } from 'mongodb';
import { Encrypted, Field, Id, InvalidInputError, Model, UndecryptableValue, type StrongboxClient } from '../../src/index';
import { untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

class Diagnosis { constructor(public code: string) {} }

@Model({ db: DB, collection: 'patients', keyAltName: 'free-form' })
class Patient {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', optional: true }) diagnosis?: any;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
  @Field({ optional: true }) name?: string;
}

let client: StrongboxClient;
let raw: MongoClient;
const sent: CommandStartedEvent[] = [];
const repo = () => untypedRepository(client, Patient);

test.before(async () => {
  client = await testClient([Patient], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (e) => { if (e.databaseName === DB) sent.push(e); });
  raw = await rawClient();
});
test.after.always(async () => {
  await raw?.db(DB).dropDatabase().catch(() => undefined);
  await Promise.all([client?.close(), raw?.close()]);
});

/** A class instance whose `code` answers 'first' on the first read and 'later' on every other. */
function changingDiagnosis(): Diagnosis {
  const d = new Diagnosis('');
  let reads = 0;
  Object.defineProperty(d, 'code', { enumerable: true, get: () => (reads++ === 0 ? 'first' : 'later') });
  return d;
}

for (const how of ['insertOne', 'save'] as const) {
  test.serial(`${how}: a class instance in a field encrypted whole is read once; the next save() sends what the entity says then`, async (t) => {
    const entity = Object.assign(new Patient(), { diagnosis: changingDiagnosis() });
    const written = how === 'insertOne' ? await repo().insertOne(entity) : (await repo().save(entity), entity);
    t.deepEqual((await repo().findById(written._id)).diagnosis, { code: 'first' }, 'stored: the value the write read');
    sent.length = 0;
    await repo().save(written);
    const updates = sent.filter((c) => c.commandName === 'update').length;
    const stored = (await repo().findById(written._id)).diagnosis;
    if (how === 'insertOne') {
      // insertOne returns an entity holding the one reading, as a read would give it back.
      t.deepEqual(written.diagnosis, { code: 'first' });
      t.false(written.diagnosis instanceof Diagnosis);
      t.is(updates, 0, 'nothing changed since the write');
      t.deepEqual(stored, { code: 'first' });
    } else {
      // save() leaves the application's own object on its entity: read again, it now says 'later', which is sent.
      t.is(updates, 1);
      t.deepEqual(stored, { code: 'later' });
    }
  });
}

test.serial('a class instance changed while its insert is being encrypted: the change is sent by the next save()', async (t) => {
  const diagnosis = new Diagnosis('before');
  const entity = Object.assign(new Patient(), { diagnosis });
  const saving = repo().save(entity);
  setImmediate(() => { diagnosis.code = 'after'; });
  await saving;
  await repo().save(entity);
  t.deepEqual((await repo().findById(entity._id)).diagnosis, { code: diagnosis.code });
});

// (Decimal128 is left out: the embedded server does not store it unencrypted.)
test.serial('numbers inside free-form values keep the BSON type the driver writes for them, through later saves too', async (t) => {
  class Reading {
    double = new Double(2);
    long = Long.fromNumber(5);
    big = 9n;
    int = new Int32(3);
    plain = 4;
    fraction = 0.5;
  }
  const expected = { double: 'Double', long: 'Long', big: 'Long', int: 'Int32', plain: 'Int32', fraction: 'Double' };
  const storedTypes = async (id: ObjectId) => {
    const stored = (await raw.db(DB).collection('patients').findOne({ _id: id }, { promoteValues: false }))!;
    return Object.fromEntries(Object.entries(stored.extra.reading as object).map(([k, v]) => [k, (v as { _bsontype?: string })._bsontype]));
  };
  const saved = await repo().insertOne({ extra: { reading: new Reading() }, diagnosis: new Reading() });
  t.deepEqual(await storedTypes(saved._id), expected);
  // The entity holds what BSON read: numbers where a number is written the same way, BSON values where it is not.
  t.is(saved.extra.reading.plain, 4);
  t.true(saved.extra.reading.double instanceof Double);
  const read = await repo().findById(saved._id);
  sent.length = 0;
  await repo().save(read);
  t.is(sent.filter((c) => c.commandName === 'update').length, 0, 'an entity read back and saved unchanged sends nothing');
  await repo().save(saved);
  t.is(sent.filter((c) => c.commandName === 'update').length, 0, 'nor does the entity insertOne returned: its Long and Double compare by the bytes BSON writes');
  t.deepEqual(await storedTypes(saved._id), expected);
  t.deepEqual((await repo().findById(saved._id)).diagnosis, { double: 2, long: 5, big: 9, int: 3, plain: 4, fraction: 0.5 });
});

test.serial('a Map and an object with toBSON are stored as BSON writes them', async (t) => {
  const shown = { code: 'shown' };
  const saved = await repo().insertOne({ diagnosis: { toBSON: () => shown, code: 'hidden' }, extra: { m: new Map([['k', 'v']]) } });
  const read = await repo().findById(saved._id);
  t.deepEqual(read.diagnosis, { code: 'shown' });
  t.deepEqual(read.extra, { m: { k: 'v' } });
  t.deepEqual(saved.diagnosis, { code: 'shown' });
});

test.serial('an UndecryptableValue in a field encrypted whole is still refused, nothing sent', async (t) => {
  sent.length = 0;
  const marker = new UndecryptableValue('diagnosis', undefined, 'Random', 'missing-key');
  const err = await t.throwsAsync(repo().insertOne({ diagnosis: marker }), { instanceOf: InvalidInputError });
  t.is(err!.code, 'INPUT_UNDECRYPTABLE_WRITE_BACK');
  t.is(sent.length, 0);
});

test.serial('a class instance in a field declared as an object is refused as before: only what is inside it is free-form', async (t) => {
  const err = await t.throwsAsync(repo().insertOne({ extra: new Diagnosis('x') }), { instanceOf: InvalidInputError });
  t.regex(err!.code, /^INPUT_/);
  t.false(err!.message.includes('x"'));
});

test.serial('generated free-form values — numbers of every BSON type, class instances, Maps, nested — are stored byte for byte as BSON writes the original', async (t) => {
  class Box { constructor(readonly inner: unknown, readonly n: number) {} }
  // Finite numbers other than -0: the embedded server keeps those as given (MongoDB does too).
  const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)), fc.constantFrom(2, 2.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53));
  const leaf = fc.oneof(
    number, fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null),
    number.map((n) => new Double(n)), fc.integer().map((n) => new Int32(n)), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.integer().map((n) => Long.fromNumber(n)), fc.date({ noInvalidDate: true }),
  );
  const key = fc.constantFrom('a', 'b', 'c', 'd');
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('object'), tie('array'), tie('box'), tie('map')),
    // No array directly in an array: the embedded server (FerretDB 1) refuses nested arrays.
    item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('object'), tie('box'), tie('map')),
    object: fc.dictionary(key, tie('tree'), { maxKeys: 3 }),
    array: fc.array(tie('item'), { maxLength: 3 }),
    box: fc.tuple(tie('tree'), number).map(([inner, n]) => new Box(inner, n)),
    map: fc.dictionary(key, tie('tree'), { maxKeys: 3 }).map((d) => new Map(Object.entries(d))),
  }));
  let runs = 0;
  await fc.assert(fc.asyncProperty(tree, async (value) => {
    runs++;
    const saved = await repo().insertOne({ extra: { v: value } });
    const stored = (await raw.db(DB).collection('patients').findOne({ _id: saved._id }, { promoteValues: false }))!;
    const same = Buffer.from(BSON.serialize({ v: stored.extra.v })).equals(BSON.serialize({ v: value }));
    // And what the entity holds is written the same way again.
    const entitySame = Buffer.from(BSON.serialize({ v: saved.extra.v })).equals(BSON.serialize({ v: value }));
    return same && entitySame;
  }), { numRuns: 60 });
  t.is(runs, 60);
});

test.serial('a key BSON cannot write inside a value encrypted whole is refused without quoting it (object literal or Map), nothing sent', async (t) => {
  for (const value of [{ ['secret-key\0x']: 1 }, new Map([['secret-key\0x', 1]])]) {
    sent.length = 0;
    const err = await t.throwsAsync(repo().insertOne({ diagnosis: value }));
    t.is((err as { code?: string }).code, 'INPUT_NUL_CHARACTER');
    t.false(inspect(err).includes('secret-key'), inspect(err));
    t.is(sent.length, 0);
  }
});

test.serial('a key, a path or a regular expression BSON cannot write (a NUL character) is refused before any command, unquoted, wherever it stands', async (t) => {
  const nul = 'private\0part';
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['a key in a free-form value', () => repo().insertOne({ extra: { [nul]: 1 } })],
    ['a pattern in a free-form value', () => repo().insertOne({ extra: { re: new RegExp(nul) } })],
    ['a pattern in a Map in a free-form value', () => repo().insertOne({ extra: { m: new Map([['re', new RegExp(nul)]]) } })],
    ['a pattern compared with a plain field', () => repo().findOne({ name: new RegExp(nul) })],
    ['a pattern under $not', () => repo().findOne({ name: { $not: new RegExp(nul) } })],
    ['a pattern in $in', () => repo().findOne({ name: { $in: [new RegExp(nul)] } })],
    ['a filter path', () => repo().findOne({ [`extra.${nul}`]: 1 })],
    ['a $set path', () => repo().updateOne({ name: 'x' }, { $set: { [`extra.${nul}`]: 1 } })],
    ['a $set value', () => repo().updateOne({ name: 'x' }, { $set: { extra: { re: new RegExp(nul) } } })],
  ];
  for (const [what, call] of calls) {
    sent.length = 0;
    const err = await t.throwsAsync(call(), undefined, what);
    t.is((err as { code?: string }).code, 'INPUT_NUL_CHARACTER', what);
    t.false(inspect(err).includes('private'), `${what}: ${inspect(err)}`);
    t.deepEqual(sent.map((c) => c.commandName), [], what);
  }
});

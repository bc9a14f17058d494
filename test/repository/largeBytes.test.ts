/**
 * Large byte values and save() against the real server: a written entity's snapshot keeps a
 * digest of a large binary instead of a copy, and save() still sends exactly the byte values that
 * changed (in place, replaced, resized, another subtype, a Buffer of the same bytes) and nothing
 * when none did. Watched by command monitoring; generated changes checked against the stored bytes.
 */
import test from 'ava';
import fc from 'fast-check';
import { Binary, BSON, ObjectId, type CommandStartedEvent, type Collection, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { InvalidInputError } from '../../src/errors';
import { ArrayField, Embedded, Encrypted, Field, Id, Model, type Random } from '../../src/metadata';
import { changesBetween } from '../../src/repository/entity/changes';
import { BytesDigest } from '../../src/repository/entity/largeBytes';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
/** Above the size from which the snapshot keeps a digest (64 KiB). */
const LARGE = 100 * 1024;

class Meta {
  @Field() label!: string;
  @Field({ bsonType: 'binData' }) thumb!: Binary;
}

@Model({ db: DB, collection: 'uploads', keyAltName: 'uploads' })
class Upload {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field({ bsonType: 'binData' }) image!: Binary;
  @Embedded(() => Meta) meta!: Meta;
  @ArrayField({ of: 'binData' }) pages!: Binary[];
  @Encrypted({ algorithm: 'Random', bsonType: 'binData' }) scan!: Random<Binary>;
}

let client: StrongboxClient;
let raw: MongoClient;
let stored: Collection<Document>;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Upload], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
  raw = await rawClient();
  stored = raw.db(DB).collection('uploads');
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

const repo = () => client.repository(Upload);
const bytes = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff));
const updatesSince = (since: number) => commands.slice(since).filter((c) => c.commandName === 'update');
const sameBytes = (a: unknown, b: unknown) => Buffer.from(BSON.serialize({ v: a })).equals(BSON.serialize({ v: b }));

function upload(name: string): Document {
  return { name, image: new Binary(bytes(LARGE, 1)), meta: { label: 'm', thumb: new Binary(bytes(LARGE, 2)) }, pages: [new Binary(bytes(LARGE, 3))], scan: new Binary(bytes(LARGE, 4)) };
}

test.serial('save() after an insert sends nothing while no byte changed, and each large value that changed in place', async (t) => {
  const entity = await repo().insertOne(upload('in place') as never);
  let since = commands.length;
  await repo().save(entity);
  t.is(updatesSince(since).length, 0, 'unchanged: no update');

  entity.image.buffer[LARGE - 1] ^= 0xff;
  entity.meta.thumb.buffer[0] ^= 0xff;
  entity.pages[0].buffer[7] ^= 0xff;
  (entity.scan as Binary).buffer[9] ^= 0xff;
  since = commands.length;
  await repo().save(entity);
  const [update] = updatesSince(since);
  t.deepEqual(Object.keys(update.command.updates[0].u.$set).sort(), ['image', 'meta.thumb', 'pages', 'scan'], 'each changed value, the embedded one by its path');
  const doc = (await stored.findOne({ _id: entity._id }))!;
  t.true(sameBytes(doc.image, entity.image) && sameBytes(doc.meta.thumb, entity.meta.thumb) && sameBytes(doc.pages[0], entity.pages[0]));
  const read = (await repo().findById(entity._id))!;
  t.true(sameBytes(read.scan, entity.scan), 'the encrypted value decrypts to the changed bytes');

  since = commands.length;
  await repo().save(entity);
  t.is(updatesSince(since).length, 0, 'saved: the new snapshot has the new bytes');
});

test.serial('the same bytes as a Buffer or a copy are no change; another subtype, length or content is', async (t) => {
  const entity = await repo().insertOne(upload('replaced') as never);
  const original = Buffer.from(entity.image.buffer.subarray(0, entity.image.position));
  const cases: Array<[string, unknown, boolean]> = [
    ['a copy of the same bytes', new Binary(Buffer.from(original)), false],
    ['a Buffer of the same bytes (stored as subtype 0)', Buffer.from(original), false],
    ['the same bytes under subtype 5', new Binary(Buffer.from(original), 5), true],
    ['one byte shorter', new Binary(original.subarray(1)), true],
    ['a small value', new Binary(Buffer.from('tiny')), true],
    ['the original bytes again', new Binary(Buffer.from(original)), true],
  ];
  for (const [what, value, sent] of cases) {
    (entity as unknown as Document).image = value;
    const since = commands.length;
    await repo().save(entity);
    t.is(updatesSince(since).length, sent ? 1 : 0, what);
    t.true(sameBytes((await stored.findOne({ _id: entity._id }))!.image, value), `${what}: stored as the entity holds it`);
  }
});

test.serial('generated changes to a large binary: save() sends an update exactly when the stored bytes differ, and the stored value is the entity\'s', async (t) => {
  const entity = await repo().insertOne(upload('generated') as never);
  const change = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('same' as const) }),
    fc.record({ kind: fc.constant('subtype' as const), subtype: fc.constantFrom(0, 5, 128) }),
    fc.record({ kind: fc.constant('resize' as const), size: fc.integer({ min: 0, max: LARGE + 10 }) }),
  );
  await fc.assert(fc.asyncProperty(change, async (c) => {
    const before = Buffer.from(BSON.serialize({ v: entity.image }));
    const current = Buffer.from(entity.image.buffer.subarray(0, entity.image.position));
    if (c.kind === 'flip' && current.length > 0) entity.image.buffer[c.at % current.length] ^= c.xor;
    else if (c.kind === 'same') entity.image = new Binary(Buffer.from(current), entity.image.sub_type);
    else if (c.kind === 'subtype') entity.image = new Binary(Buffer.from(current), c.subtype);
    else if (c.kind === 'resize') entity.image = new Binary(bytes(c.size, c.size), entity.image.sub_type);
    const differs = !before.equals(BSON.serialize({ v: entity.image }));
    const since = commands.length;
    await repo().save(entity);
    if (updatesSince(since).length !== (differs ? 1 : 0)) throw new Error(`${JSON.stringify(c)}: ${differs ? 'changed but not sent' : 'unchanged but sent'}`);
    if (!sameBytes((await stored.findOne({ _id: entity._id }))!.image, entity.image)) throw new Error(`${JSON.stringify(c)}: stored bytes differ from the entity's`);
  }), { numRuns: 40 });
  t.pass();
});

test.serial('an embedded document replaced by a value of another kind is refused, not diffed field by field or written as {}', async (t) => {
  const entity = await repo().insertOne(upload('wrong kind') as never);
  for (const value of [new Date(), [1], new Binary(bytes(LARGE, 9))]) {
    (entity as unknown as Document).meta = value;
    const since = commands.length;
    await t.throwsAsync(repo().save(entity), { instanceOf: InvalidInputError, code: 'INPUT_NOT_A_DOCUMENT' }, String(value));
    t.is(updatesSince(since).length, 0, 'nothing sent');
  }
  const doc = (await stored.findOne({ _id: entity._id }))!;
  t.is(doc.meta.label, 'm', 'the stored document is unchanged');
  const count = await stored.countDocuments();
  for (const value of [new Date(), new Map([['label', 'm']]), Buffer.from('x'), new Set()]) {
    await t.throwsAsync(repo().insertOne({ ...upload('not a document'), meta: value } as never), { instanceOf: InvalidInputError, code: 'INPUT_NOT_A_DOCUMENT' }, String(value));
  }
  t.is(await stored.countDocuments(), count, 'an insert of one is refused too: nothing written');
});

test('a digest compares by bytes and subtype, and can never be sent', (t) => {
  const value = new Binary(bytes(LARGE, 5));
  const digest = BytesDigest.of(value)!;
  t.true(digest instanceof BytesDigest);
  t.true(digest.matches(new Binary(bytes(LARGE, 5))));
  t.true(digest.matches(bytes(LARGE, 5)));
  t.false(digest.matches(new Binary(bytes(LARGE, 6))));
  t.false(digest.matches(new Binary(bytes(LARGE, 5), 5)));
  t.false(digest.matches('a string'));
  t.is(BytesDigest.of(new Binary(bytes(1024, 5))), undefined, 'small values are copied, not digested');
  t.is(BytesDigest.of(new Binary(bytes(LARGE, 5), 6)), undefined, 'ciphertext is never digested');
  t.throws(() => BSON.serialize({ v: digest }), { instanceOf: TypeError });
  t.true(Object.isFrozen(digest));
  t.deepEqual(Object.keys(digest), []);
  const meta = { fields: new Map([['image', { name: 'image' }]]) } as never;
  t.deepEqual(changesBetween(meta, { image: digest }, { image: new Binary(bytes(LARGE, 5)) }), { $set: {}, $unset: {} });
  t.deepEqual(Object.keys(changesBetween(meta, { image: digest }, { image: new Binary(bytes(LARGE, 7)) }).$set), ['image']);
});

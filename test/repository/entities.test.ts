/**
 * Entities against the real server: save() sending only what changed (command monitoring),
 * optimistic concurrency, defaults, timestamps, hooks and class-validator validation, each with
 * plain and encrypted fields.
 */
import test from 'ava';
import { IsEmail, IsIn, Length, Matches, Max, Min } from 'class-validator';
import { Binary, Int32, ObjectId, type CommandStartedEvent, type Collection, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { ConcurrencyError, HookError, InvalidInputError, ValidationError } from '../../src/errors';
import { validate } from '../../src/index';
import {
  AfterDelete, AfterInsert, AfterLoad, AfterUpdate, ArrayField, BeforeDelete, BeforeInsert, BeforeUpdate, CreatedAt, Embedded, EmbeddedArray, Encrypted, Field, Id, Model,
  UpdatedAt, Version, type Deterministic, type Random,
} from '../../src/metadata';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const SECRET = 'SSN-SECRET-4242';

class Address {
  @Field() city!: string;
  @Length(5, 5) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'ent' }) zip!: Deterministic<string>;
}

@Model({ db: DB, collection: 'members', keyAltName: 'ent' })
class Member {
  @Id() _id!: ObjectId;
  @Length(2, 40) @Field() name!: string;
  @IsEmail() @Field() email!: string;
  @IsIn(['basic', 'gold']) @Field({ default: () => 'basic' }) plan!: string;
  @Min(0) @Max(150) @Field({ bsonType: 'int', optional: true }) age?: number;
  @Matches(/^SSN-/) @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn?: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', default: () => 'unverified' }) status!: Deterministic<string>;
  @Embedded(() => Address) address!: Address;
  @CreatedAt() createdAt!: Date;
  @UpdatedAt() updatedAt!: Date;
  @Version() version!: number;
  /** An initializer: stored when the application creates the entity with new, never invented by reads. */
  @Field({ optional: true }) nickname?: string = 'newbie';

  static events: string[] = [];
  @BeforeInsert() beforeInsert() { Member.events.push(`beforeInsert:${this.plan}:${this.createdAt instanceof Date}`); if (this.name === 'Hookfail') throw new Error(`refusing ${this.ssn}`); }
  @BeforeInsert() setStatus() { if (this.name === 'Vip') this.status = 'verified-by-hook'; }
  @AfterInsert() afterInsert() { Member.events.push(`afterInsert:${this._id instanceof ObjectId}`); }
  @BeforeUpdate() beforeUpdate() { Member.events.push(`beforeUpdate:${this.ssn}`); }
  @AfterUpdate() afterUpdate() { Member.events.push(`afterUpdate:${this.version}`); }
  @BeforeDelete() beforeDelete() { Member.events.push('beforeDelete'); }
  @AfterDelete() afterDelete() { Member.events.push('afterDelete'); }
  @AfterLoad() afterLoad() { Member.events.push(`afterLoad:${typeof this.ssn}`); }
}

class Part {
  @Field() label!: string;
  @ArrayField({ of: 'string' }) tags!: string[];
}

/** Every kind of value an entity can change in place: the snapshot a write keeps must not change with it. */
@Model({ db: DB, collection: 'kept' })
class Kept {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'date' }) seen!: Date;
  @Field({ bsonType: 'binData' }) blob!: Binary;
  @Field({ bsonType: 'objectId' }) owner!: ObjectId;
  @ArrayField({ of: 'int' }) scores!: number[];
  @Embedded(() => Part) part!: Part;
  @EmbeddedArray(() => Part) parts!: Part[];
}

let client: StrongboxClient;
let raw: MongoClient;
let stored: Collection<Document>;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Member, Kept], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
  raw = await rawClient();
  stored = raw.db(DB).collection('members');
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

let seq = 0;
function member(overrides: Partial<Member> = {}): Member {
  const m = new Member();
  Object.assign(m, { name: `Member ${++seq}`, email: `m${seq}@example.com`, ssn: SECRET, address: Object.assign(new Address(), { city: 'Ogdenville', zip: '12345' }) }, overrides);
  return m;
}
const repo = () => client.repository(Member);
const updatesOf = (since: number) => commands.slice(since).filter((c) => c.commandName === 'update');
const encrypted = (v: unknown) => v instanceof Binary && v.sub_type === 6;

test.serial('save() of a new entity inserts it with defaults, initializers, timestamps, version 1 and hooks in order', async (t) => {
  Member.events = [];
  const m = member({ name: 'Vip' });
  const saved = await repo().save(m);
  t.is(saved, m, 'the same entity, now with its _id and stamps');
  t.true(m._id instanceof ObjectId);
  t.is(m.plan, 'basic');
  t.is(m.version, 1);
  t.true(m.createdAt instanceof Date && m.updatedAt.getTime() === m.createdAt.getTime());
  t.deepEqual(Member.events, ['beforeInsert:basic:true', 'afterInsert:true'], 'defaults and timestamps come before the before-hook');
  const doc = (await stored.findOne({ _id: m._id }))!;
  t.is(doc.plan, 'basic');
  t.is(doc.nickname, 'newbie', 'an initializer of an entity made with new is a value the application wrote');
  t.true(encrypted(doc.status), 'the default of an encrypted field is encrypted');
  t.is((await repo().findById(m._id))!.status, 'verified-by-hook', 'a hook set an encrypted field before encryption');
  t.is(doc.version, 1);
});

test.serial('save() of a loaded entity sends only the changed encrypted field, under version and updatedAt stamps', async (t) => {
  const inserted = await repo().insertOne({ name: 'Changer', email: 'c@example.com', ssn: SECRET, address: { city: 'Springfield', zip: '54321' } } as never);
  const loaded = (await repo().findById(inserted._id))!;
  const storedBefore = (await stored.findOne({ _id: inserted._id }))!;
  const since = commands.length;
  loaded.ssn = 'SSN-CHANGED';
  await repo().save(loaded);
  const [update] = updatesOf(since);
  t.truthy(update, 'one update command');
  const u = update.command.updates[0];
  t.deepEqual(Object.keys(u.u.$set).sort(), ['ssn', 'updatedAt'], 'only the changed field and the timestamp are set');
  t.true(encrypted(u.u.$set.ssn), 'sent encrypted');
  // The operand in the field's declared type (int): an increment never changes the stored type.
  t.deepEqual(u.u.$inc, { version: new Int32(1) });
  t.false(JSON.stringify(update.command).includes('SSN-CHANGED'), 'no plaintext in the command');
  t.deepEqual(u.q.$and?.[0]?.version?.$eq ?? u.q.version?.$eq, new Int32(1), 'the update is conditional on the loaded version (sent in the declared type, int)');
  const after = (await stored.findOne({ _id: inserted._id }))!;
  t.true(Buffer.from((after.status as Binary).buffer).equals((storedBefore.status as Binary).buffer), 'an unchanged encrypted value keeps its ciphertext');
  t.is(after.version, 2);
  t.is(loaded.version, 2);
  t.is((await repo().findById(inserted._id))!.ssn, 'SSN-CHANGED');

  const unchanged = commands.length;
  await repo().save(loaded);
  t.is(updatesOf(unchanged).length, 0, 'saving an unchanged entity sends nothing');

  const nested = commands.length;
  loaded.address.zip = '99999';
  loaded.age = 33;
  loaded.ssn = undefined;
  await repo().save(loaded);
  const next = updatesOf(nested)[0].command.updates[0].u;
  t.deepEqual(Object.keys(next.$set).sort(), ['address.zip', 'age', 'updatedAt'], 'a change deep in an embedded document sets that path alone');
  t.deepEqual(next.$unset, { ssn: '' }, 'an emptied optional field is unset');
  const reread = (await repo().findById(inserted._id))!;
  t.is(reread.address.zip, '99999');
  t.is(reread.ssn, undefined);
  t.is(reread.version, 3);
});

test.serial('a written entity changed in place is saved with every change: its snapshot shares nothing mutable with it', async (t) => {
  const fresh = () => ({
    seen: new Date('2026-01-01T00:00:00Z'), blob: new Binary(Buffer.from('abc')), owner: new ObjectId('0123456789abcdef01234567'), scores: [1, 2],
    part: { label: 'a', tags: ['x'] }, parts: [{ label: 'b', tags: ['y'] }],
  });
  // Plain input, and the same values inside class instances (which a write keeps serialized).
  const inputs: Array<[string, object]> = [['plain objects', fresh()], ['class instances', Object.assign(new Kept(), fresh(), { part: Object.assign(new Part(), fresh().part) })]];
  for (const [what, input] of inputs) {
    const entity = await client.repository(Kept).insertOne(input as never);
    entity.seen.setUTCFullYear(2030);
    entity.blob.write(Buffer.from('z'), 0);
    entity.owner.id = new Uint8Array(12).fill(7);
    entity.scores.push(3);
    entity.part.tags.push('x2');
    entity.parts[0].label = 'b2';
    const since = commands.length;
    await client.repository(Kept).save(entity);
    const [update] = updatesOf(since);
    t.truthy(update, `${what}: one update`);
    t.deepEqual(Object.keys(update.command.updates[0].u.$set).sort(), ['blob', 'owner', 'part.tags', 'parts', 'scores', 'seen'], `${what}: every in-place change is sent`);
    const row = (await raw.db(DB).collection('kept').findOne({ _id: entity._id }))!;
    t.is((row.seen as Date).getUTCFullYear(), 2030, what);
    t.is(Buffer.from((row.blob as Binary).buffer).toString(), 'zbc', what);
    t.is((row.owner as ObjectId).toHexString(), '07'.repeat(12), what);
    t.deepEqual([row.scores, row.part.tags, row.parts[0].label], [[1, 2, 3], ['x', 'x2'], 'b2'], what);
    t.is(updatesOf(commands.length).length, 0);
    const again = commands.length;
    await client.repository(Kept).save(entity);
    t.is(updatesOf(again).length, 0, `${what}: saved again unchanged, nothing is sent`);
  }
});

test.serial('a stale save throws ConcurrencyError and changes nothing; updates through the repository move the version too', async (t) => {
  const m = await repo().save(member());
  const first = (await repo().findById(m._id))!;
  const second = (await repo().findById(m._id))!;
  first.name = 'First writer';
  await repo().save(first);
  second.name = 'Second writer';
  second.ssn = 'SSN-LOST';
  const err = await t.throwsAsync(repo().save(second), { instanceOf: ConcurrencyError });
  t.is(err!.code, 'CONCURRENCY_STALE_VERSION');
  t.regex(err!.message, /Member/);
  t.false(err!.message.includes('SSN-LOST'));
  const now = (await repo().findById(m._id))!;
  t.is(now.name, 'First writer');
  t.is(now.ssn, SECRET);

  await repo().updateOne({ _id: m._id }, { $set: { name: 'By query' } });
  now.name = 'Stale again';
  await t.throwsAsync(repo().save(now), { instanceOf: ConcurrencyError, message: /no longer at version 2/ });
  t.is((await stored.findOne({ _id: m._id }))!.version, 3, 'updateOne incremented the version (1 insert, 2 save, 3 update)');

  const gone = (await repo().findById(m._id))!;
  await t.throwsAsync(repo().remove(now), { instanceOf: ConcurrencyError }, 'remove of a stale entity is refused too');
  Member.events = [];
  await repo().remove(gone);
  t.deepEqual(Member.events, ['beforeDelete', 'afterDelete']);
  t.is(await stored.countDocuments({ _id: m._id }), 0);
  await t.throwsAsync(repo().remove(gone), { instanceOf: ConcurrencyError, code: 'CONCURRENCY_STALE_VERSION' });
});

test.serial('timestamps are kept by updates, upserts, findOneAndUpdate, bulk writes and replacements', async (t) => {
  const m = await repo().save(member());
  const created = m.createdAt.getTime();
  await new Promise((r) => setTimeout(r, 5));
  const updated = (await repo().findOneAndUpdate({ _id: m._id }, { $set: { age: 40 } }))!;
  t.is(updated.createdAt.getTime(), created, 'createdAt never changes on update');
  t.true(updated.updatedAt.getTime() > created);
  t.is(updated.version, 2);

  const upsertedId = new ObjectId();
  await repo().upsert({ _id: upsertedId }, { $set: { name: 'Upserted', email: 'u@example.com', plan: 'gold', status: 'new', address: { city: 'X', zip: '11111' } } } as never);
  const up = (await stored.findOne({ _id: upsertedId }))!;
  t.true(up.createdAt instanceof Date && up.updatedAt instanceof Date, 'an upsert that inserts sets both');
  t.is(up.version, 1);

  const defaultedId = new ObjectId();
  await repo().upsert({ _id: defaultedId, name: 'Upserted with defaults' }, { $set: { email: 'd@example.com', address: { city: 'X', zip: '11111' } } } as never);
  const defaulted = (await stored.findOne({ _id: defaultedId }))!;
  t.is(defaulted.plan, 'basic', 'an upsert that inserts gets the defaults the update and filter leave out');
  t.true(encrypted(defaulted.status), 'the default of an encrypted field is encrypted in $setOnInsert too');
  t.is((await repo().findById(defaultedId))!.status, 'unverified');
  // Every required field in $setOnInsert: were the document gone, the upsert would insert a complete one.
  await repo().upsert({ _id: defaultedId }, { $set: { plan: 'gold' }, $setOnInsert: { name: 'Gone', email: 'g@example.com', address: { city: 'Z', zip: '33333' } } } as never);
  t.is((await stored.findOne({ _id: defaultedId }))!.plan, 'gold', 'a matched upsert applies no default');

  const bulkId = new ObjectId();
  await repo().bulkWrite([
    { insertOne: { document: { _id: bulkId, name: 'Bulk', email: 'b@example.com', status: 'x', address: { city: 'Y', zip: '22222' } } as never } },
    { updateOne: { filter: { _id: m._id }, update: { $set: { age: 41 } } } },
  ]);
  const bulk = (await stored.findOne({ _id: bulkId }))!;
  t.true(bulk.createdAt instanceof Date);
  t.is(bulk.plan, 'basic', 'bulk inserts get defaults');
  t.is((await stored.findOne({ _id: m._id }))!.version, 3);

  const loaded = (await repo().findById(m._id))!;
  await repo().replaceOne({ _id: m._id }, { ...loaded, name: 'Replaced' } as never);
  const replaced = (await stored.findOne({ _id: m._id }))!;
  t.is(replaced.createdAt.getTime(), created, 'a replacement carrying createdAt keeps it');
  t.is(replaced.version, 4);
});

test.serial('reads never invent values: initializers do not run on hydration', async (t) => {
  const id = new ObjectId();
  const m = await repo().save(member({ _id: id }));
  await stored.updateOne({ _id: m._id }, { $unset: { nickname: '' } });
  const read = (await repo().findById(id))!;
  t.false('nickname' in read, 'a field the document lacks stays absent');
  t.true(read instanceof Member);
  t.true(read.address instanceof Address);
});

test.serial('validation: one ValidationError with every failing path and rule, never an encrypted value, nothing written', async (t) => {
  const before = await stored.countDocuments();
  const err = await t.throwsAsync(repo().insertOne({ name: 'X', email: 'not-an-email', plan: 'platinum', age: 200, ssn: 'NOT-A-SSN-SECRET', status: 's', address: { city: 'Z', zip: '1' } } as never), { instanceOf: ValidationError });
  t.is(err!.code, 'INPUT_VALIDATION_FAILED');
  t.deepEqual(err!.issues.map((i) => `${i.path}:${i.rule}`).sort(), ['address.zip:isLength', 'age:max', 'email:isEmail', 'name:isLength', 'plan:isIn', 'ssn:matches']);
  t.false(err!.message.includes('NOT-A-SSN-SECRET'), 'never the value of an encrypted field');
  t.regex(err!.message, /"ssn" fails the rule matches/);
  t.is(await stored.countDocuments(), before, 'nothing was written');

  const m = await repo().save(member());
  await t.throwsAsync(repo().updateOne({ _id: m._id }, { $set: { email: 'nope', 'address.zip': '1' } }), { instanceOf: ValidationError, message: /"email".*"address\.zip"/ });
  const loaded = (await repo().findById(m._id))!;
  loaded.plan = 'diamond';
  await t.throwsAsync(repo().save(loaded), { instanceOf: ValidationError, message: /"plan"/ });
  t.is((await repo().findById(m._id))!.plan, 'basic');

  const missing = await t.throwsAsync(repo().insertOne({ email: 'x@example.com' } as never), { instanceOf: ValidationError });
  t.true(missing!.issues.some((i) => i.path === 'name' && i.rule === 'required'), 'required fields are part of the same error');

  t.deepEqual(validate(member()), []);
  t.deepEqual(validate(member({ email: 'bad', ssn: 'x' })).map((i) => i.path).sort(), ['email', 'ssn']);
});

test.serial('an error in a before-hook writes nothing and is a HookError that does not quote the hook message', async (t) => {
  const before = await stored.countDocuments();
  const err = await t.throwsAsync(repo().insertOne({ ...member({ name: 'Hookfail' }) } as never), { instanceOf: HookError });
  t.regex(err!.message, /BeforeInsert.*Member.*nothing was written/);
  t.false(err!.message.includes(SECRET));
  t.is(await stored.countDocuments(), before);
});

test.serial('after-load hooks see decrypted values; a projected entity cannot be saved; save and remove take entities', async (t) => {
  const m = await repo().save(member());
  Member.events = [];
  await repo().findById(m._id);
  t.deepEqual(Member.events, ['afterLoad:string']);
  const [partial] = await repo().find({ _id: m._id }, { projection: { name: 1 } }).toArray();
  await t.throwsAsync(repo().save(partial as Member), { instanceOf: InvalidInputError, code: 'INPUT_ENTITY_PARTIAL' });
  await t.throwsAsync(repo().save({ name: 'plain' } as never), { instanceOf: InvalidInputError, code: 'INPUT_NOT_AN_ENTITY' });
});

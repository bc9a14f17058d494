/**
 * Round-25 adversarial pass: writes in flight (input copies, save() copies), undefined in
 * free-form values, refused driver options, and the 16 MiB limit on encrypted values of one
 * document. Written as plain JavaScript against the public API (repositories cast to any), with
 * the raw driver to see what is stored and command monitoring to act when a command starts.
 *
 * Each test asserts the correct behaviour. Serial: tests hook the shared client's command events.
 */
import test from 'ava';
import { BSON, Binary, Decimal128, Long, ObjectId, type CommandStartedEvent, type CommandSucceededEvent, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/index';
import { ArrayField, BeforeInsert, Embedded, Encrypted, Field, Id, Model, UpdatedAt, Version, type Random, type Deterministic } from '../../src/index';
import fc from 'fast-check';
import { describe, outcome, uniq, untypedRepository } from '../harness/adversary';
import { rawClient, testClient } from '../harness/client';
import { testServer } from '../harness/server';
import { EmbeddedArray, StrongboxError } from '../../src/index';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);

/** Values the input copy keeps as they are (Long, Decimal128, Buffer), in clear and encrypted fields, with a version and updatedAt. */
@Model({ db: DB, collection: 'ledgers', keyAltName: 'ledger' })
class Ledger {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @Field({ bsonType: 'long', optional: true }) count?: Long;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', optional: true }) amount?: Random<Long>;
  @Encrypted({ algorithm: 'Random', bsonType: 'decimal', optional: true }) price?: Random<Decimal128>;
  @Field({ bsonType: 'binData', optional: true }) blob?: Binary;
  @Encrypted({ algorithm: 'Random', bsonType: 'binData', optional: true }) secretBlob?: Random<Binary>;
  @Field({ bsonType: 'object', optional: true }) meta?: Record<string, unknown>;
  @Encrypted({ algorithm: 'Random', optional: true }) secretMeta?: Random<Record<string, unknown>>;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @UpdatedAt() updatedAt!: Date;
  @Version() version!: number;
}

class Profile {
  @Field() a!: string;
  @Field({ optional: true }) b?: string;
}
@Model({ db: DB, collection: 'people', keyAltName: 'people' })
class Person {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Embedded(() => Profile, { optional: true }) clear?: Profile;
  @Encrypted({ algorithm: 'Random', optional: true }) @Embedded(() => Profile, { optional: true }) secret?: Random<Profile>;
  @Field({ bsonType: 'array', optional: true }) loose?: unknown[];
  @Field({ optional: true }) nick?: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', optional: true }) code?: Deterministic<string>;
}
class Line {
  @Field() kind!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
}
@Model({ db: DB, collection: 'books', keyAltName: 'books' })
class Book {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @EmbeddedArray(() => Line) lines!: Line[];
}
const shared: { tags: string[] } = { tags: ['hook'] };
@Model({ db: DB, collection: 'hooked', keyAltName: 'hooked' })
class Hooked {
  @Id() _id!: ObjectId;
  @Field() title!: string;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @BeforeInsert() fill() { if (this.tags === undefined) this.tags = shared.tags; }
}

let client: StrongboxClient;
let raw: MongoClient;
const repo = (model: Function) => untypedRepository(client, model);

test.before(async () => {
  client = await testClient([Ledger, Person, Book, Hooked], { driverOptions: { monitorCommands: true } });
  raw = await rawClient();
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

/** Runs `change` synchronously when the next command named `name` starts (before the driver serializes it). */
function onNextStarted(name: string, change: (e: CommandStartedEvent) => void): void {
  const listener = (e: CommandStartedEvent) => {
    if (e.commandName !== name || e.databaseName !== DB) return;
    client.dataClient.off('commandStarted', listener);
    change(e);
  };
  client.dataClient.on('commandStarted', listener);
}

/** Runs `change` when the reply of the next command named `name` arrives (sent, not yet returned to the caller). */
function onNextSucceeded(name: string, change: (e: CommandSucceededEvent) => void): void {
  const listener = (e: CommandSucceededEvent) => {
    if (e.commandName !== name || e.databaseName !== DB) return;
    client.dataClient.off('commandSucceeded', listener);
    change(e);
  };
  client.dataClient.on('commandSucceeded', listener);
}

/** A document as the driver writes it, read back with BSON's defaults and keys sorted: entities and stored documents compare by what they hold. */
function canonical(value: unknown): string {
  const normalized = BSON.deserialize(BSON.serialize(value as Document, { ignoreUndefined: false }));
  const sort = (v: unknown): unknown => Array.isArray(v) ? v.map(sort)
    : v && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Document)[k])])) : v;
  return BSON.EJSON.stringify(sort(normalized) as Document, { relaxed: false });
}



// ---------------------------------------------------------------------------------------------
// Writes in flight: values the input copy keeps as they are (Buffer, Decimal128, Long)

type InFlight = [what: string, make: () => Document, change: (d: any) => void, when: 'started' | 'succeeded'];
/**
 * Values changed in place once they are on their way: an encrypted value when the command starts
 * (its ciphertext is made), a clear one when the reply arrives (the command was serialized).
 */
const KEPT_VALUES: InFlight[] = [
  ['an encrypted Long (low bits)', () => ({ amount: Long.fromNumber(5) }), (d) => { d.amount.low = 99; }, 'started'],
  ['an encrypted Decimal128 (bytes)', () => ({ price: Decimal128.fromString('1.5') }), (d) => { d.price.bytes[0] ^= 0xff; }, 'started'],
  ['an encrypted binData given as a Buffer', () => ({ secretBlob: Buffer.from('aaaa') }), (d) => { d.secretBlob[0] = 0x7a; }, 'started'],
  ['a Buffer inside a Random whole-object field', () => ({ secretMeta: { b: Buffer.from('aaaa') } }), (d) => { d.secretMeta.b[0] = 0x7a; }, 'started'],
  ['a clear binData given as a Buffer', () => ({ blob: Buffer.from('aaaa') }), (d) => { d.blob[0] = 0x7a; }, 'succeeded'],
  ['a clear long given as a Long', () => ({ count: Long.fromNumber(5) }), (d) => { d.count.low = 99; }, 'succeeded'],
  ['a Buffer inside a free-form object', () => ({ meta: { b: Buffer.from('aaaa') } }), (d) => { d.meta.b[0] = 0x7a; }, 'succeeded'],
];
const show = (v: unknown) => BSON.EJSON.stringify({ v: BSON.deserialize(BSON.serialize({ v })).v });

test.serial('insertOne: a Buffer, Long or Decimal128 changed in place while the insert is in flight leaves stored = entity, or the next save() sends it', async (t) => {
  const problems: string[] = [];
  for (const [what, make, change, when] of KEPT_VALUES) {
    const title = uniq('ledger');
    const doc: any = { title, ...make() };
    const field = Object.keys(make())[0];
    (when === 'started' ? onNextStarted : onNextSucceeded)('insert', () => change(doc));
    const entity: any = await repo(Ledger).insertOne(doc);
    const stored: any = await repo(Ledger).findOne({ title });
    await repo(Ledger).save(entity);
    const after: any = await repo(Ledger).findOne({ title });
    if (canonical({ v: entity[field] }) !== canonical({ v: after[field] })) {
      problems.push(`${what}: entity ${show(entity[field])}, stored ${show(stored[field])}, after save() ${show(after[field])}`);
    }
  }
  t.deepEqual(problems, [], 'the snapshot took a value the server never got, so save() sends nothing');
});

test.serial('save (loaded entity): a Buffer, Long or Decimal128 changed in place while the update is in flight is sent by the next save()', async (t) => {
  const problems: string[] = [];
  for (const [what, make, change, when] of KEPT_VALUES) {
    const title = uniq('ledger');
    await repo(Ledger).insertOne({ title });
    const entity: any = await repo(Ledger).findOne({ title });
    Object.assign(entity, make());
    const field = Object.keys(make())[0];
    (when === 'started' ? onNextStarted : onNextSucceeded)('update', () => change(entity));
    await repo(Ledger).save(entity);
    const stored: any = await repo(Ledger).findOne({ title });
    await repo(Ledger).save(entity);
    const after: any = await repo(Ledger).findOne({ title });
    if (canonical({ v: entity[field] }) !== canonical({ v: after[field] })) {
      problems.push(`${what}: entity ${show(entity[field])}, stored ${show(stored[field])}, after the next save() ${show(after[field])}`);
    }
  }
  t.deepEqual(problems, [], 'the change made during save() was taken for a written one');
});

test.serial('save (new entity): a change made to the entity while its insert is in flight is kept and sent by the next save()', async (t) => {
  const title = uniq('new');
  const entity: any = Object.assign(new Ledger(), { title, tags: ['a'] });
  onNextStarted('insert', () => { entity.title = `${title}-changed`; entity.tags.push('late'); });
  await repo(Ledger).save(entity);
  const entityAfter = [entity.title, entity.tags];
  await repo(Ledger).save(entity);
  const stored = await raw.db(DB).collection('ledgers').findOne({ _id: entity._id });
  t.deepEqual(entityAfter, [`${title}-changed`, ['a', 'late']], 'save() put the values it sent back onto the entity over the caller\'s change (lost silently)');
  t.deepEqual([stored?.title, stored?.tags], [`${title}-changed`, ['a', 'late']]);
});

test.serial('insertOne: a value a @BeforeInsert hook puts on the entity is copied too, so a change to it in flight leaves stored = entity or is sent by save()', async (t) => {
  const title = uniq('hooked');
  shared.tags = ['hook'];
  onNextSucceeded('insert', () => { shared.tags.push('late'); });
  const entity: any = await repo(Hooked).insertOne({ title });
  const stored = (await raw.db(DB).collection('hooked').findOne({ title }))?.tags;
  await repo(Hooked).save(entity);
  const after = (await raw.db(DB).collection('hooked').findOne({ title }))?.tags;
  t.deepEqual(after, entity.tags, `entity ${JSON.stringify(entity.tags)}, stored ${JSON.stringify(stored)}, after save() ${JSON.stringify(after)}: the hook's array was neither copied nor compared`);
});

// ---------------------------------------------------------------------------------------------
// undefined in filters

test.serial('deleteMany({ meta: undefined }) on a declared (free-form object) field is refused like undefined on other declared fields, and deletes nothing', async (t) => {
  const kept = uniq('keep');
  await repo(Ledger).insertOne({ title: kept });
  await t.throwsAsync(repo(Person).count({ nick: undefined }), { code: 'INPUT_WRONG_TYPE' }, 'undefined on a declared string field is refused');
  const { error } = await outcome(() => repo(Ledger).deleteMany({ meta: undefined }));
  const left = await raw.db(DB).collection('ledgers').countDocuments({ title: kept });
  t.is(left, 1, '{ meta: undefined } was sent as { meta: null } and deleted every document without meta');
  t.true(error instanceof StrongboxError, describe(error));
});

// ---------------------------------------------------------------------------------------------
// Driver options

/** A value other than the driver's default for each option Strongbox owns. */
const OWNED_VALUES: Record<string, unknown> = {
  ignoreUndefined: true, serializeFunctions: true, checkKeys: true, promoteLongs: false, promoteValues: false, promoteBuffers: true,
  bsonRegExp: true, raw: true, fieldsAsRaw: { meta: true }, useBigInt64: true, enableUtf8Validation: false,
  autoEncryption: { keyVaultNamespace: 'kv25.__keyVault', kmsProviders: { local: { key: Buffer.alloc(96, 1) } }, bypassAutoEncryption: true },
};

/** The code createClient fails with for these driverOptions ('accepted' when it does not). */
async function driverOptionsVerdict(driverOptions: unknown, extra: Document = {}): Promise<string> {
  const { value, error } = await outcome(() => testClient([Ledger], { driverOptions: driverOptions as never, ...extra }));
  if (value) { await (value as StrongboxClient).close(); return 'accepted'; }
  return (error as StrongboxError)?.code ?? describe(error);
}

test.serial('driverOptions: an owned option in any letter case (FieldsAsRaw, CheckKeys, AutoEncryption…) is refused with CONFIG_DRIVER_OPTION', async (t) => {
  const names = Object.keys(OWNED_VALUES);
  const problems = new Set<string>();
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    async (name, upper) => {
      const spelled = [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join('');
      if (spelled === name) return;
      const verdict = await driverOptionsVerdict({ [spelled]: OWNED_VALUES[name] });
      if (verdict !== 'CONFIG_DRIVER_OPTION') problems.add(`${spelled}: ${verdict}`);
    }), { numRuns: 20, seed: 25 });
  // Two spellings seen to pass, kept whatever the generator draws.
  for (const [spelled, value] of [['FieldsAsRaw', { meta: true }], ['CheckKeys', true]] as const) {
    const verdict = await driverOptionsVerdict({ [spelled]: value });
    if (verdict !== 'CONFIG_DRIVER_OPTION') problems.add(`${spelled}: ${verdict}`);
  }
  t.deepEqual([...problems].sort(), []);
});

test.serial('driverOptions: Node TLS options under other names (rejectUnauthorized, checkServerIdentity, ca, secureContext…) are refused: TLS comes from tls', async (t) => {
  const problems: string[] = [];
  for (const [name, value] of [
    ['rejectUnauthorized', false], ['checkServerIdentity', () => undefined], ['ca', 'not a CA'], ['secureContext', {}], ['ciphers', 'NULL'], ['minDHSize', 1],
  ] as Array<[string, unknown]>) {
    const verdict = await driverOptionsVerdict({ [name]: value });
    if (verdict !== 'CONFIG_DRIVER_OPTION') problems.push(`${name}: ${verdict}`);
  }
  t.deepEqual(problems, [], 'these reach tls.connect: certificate and host name checks switched off past the tls configuration (and production\'s rules)');
});

test.serial('driverOptions: a Proxy whose keys change after the check does not get tls*/BSON options to the driver', async (t) => {
  let enumerations = 0;
  const values: Record<string, unknown> = { maxPoolSize: 5, tlsInsecure: true, fieldsAsRaw: { meta: true } };
  const proxy = new Proxy({} as Record<string, unknown>, {
    ownKeys: () => (enumerations++ === 0 ? ['maxPoolSize'] : Object.keys(values)),
    getOwnPropertyDescriptor: (_t, k) => ({ value: values[k as string], enumerable: true, configurable: true, writable: true }),
    get: (_t, k) => values[k as string],
  });
  const { value, error } = await outcome(() => testClient([Ledger], { driverOptions: proxy as never }));
  if (value) {
    const options = (value as StrongboxClient).dataClient.options as unknown as Document;
    const reached = { tlsInsecure: options.tlsInsecure === true, fieldsAsRaw: Object.keys(options.fieldsAsRaw ?? {}) };
    await (value as StrongboxClient).close();
    t.deepEqual(reached, { tlsInsecure: false, fieldsAsRaw: [] }, 'options the check never saw reached the driver');
  } else {
    t.is((error as StrongboxError)?.code, 'CONFIG_DRIVER_OPTION', describe(error));
  }
});

test.serial('keyVault.uri setting a BSON option is refused before any connection (the database client is not connected first)', async (t) => {
  const server = await testServer();
  // The database at a closed port: a refusal "before it connects" never tries it.
  const closed = server.uri.replace(/:\d+(?=[/?,]|$)/, ':1');
  const vault = server.uri + (server.uri.includes('?') ? '&' : '?') + 'ignoreUndefined=true';
  const started = Date.now();
  const { error } = await outcome(() => testClient([Ledger], {
    uri: closed, driverOptions: { serverSelectionTimeoutMS: 1500 },
    keyVault: { namespace: 'kv25.__keyVault', uri: vault, tls: server.tls } as never,
  }));
  t.is((error as StrongboxError)?.code, 'CONFIG_DRIVER_OPTION', `${describe(error)} after ${Date.now() - started} ms: the database was connected to before the key vault's connection string was checked`);
});

// ---------------------------------------------------------------------------------------------
// 16 MiB

test.serial('a document of many small encrypted values (markings under 16 MiB, ciphertext over it) is refused with a StrongboxError before any encryption or command', async (t) => {
  // 180,000 values: about 8 MiB of markings, about 17 MiB of ciphertext (each value grows by IV, padding, HMAC and key id).
  const lines = Array.from({ length: 90_000 }, (_, i) => ({ kind: 'k', phone: `P${i % 10}`, note: 'SEKRIT' }));
  t.true(BSON.calculateObjectSize({ lines }) < 6 * 1024 * 1024, 'the plaintext document is far under 16 MiB');
  const contexts = client.engine.commands.batches;
  const inserts: string[] = [];
  const listener = (e: CommandStartedEvent) => { if (e.commandName === 'insert' && e.databaseName === DB) inserts.push(e.commandName); };
  client.dataClient.on('commandStarted', listener);
  const { error } = await outcome(() => repo(Book).insertOne({ name: uniq('book'), lines }));
  client.dataClient.off('commandStarted', listener);
  t.true(error instanceof StrongboxError, `failed with ${describe(error)} after ${client.engine.commands.batches - contexts} encryption batch(es)`);
  t.is((error as StrongboxError)?.code, 'ENCRYPT_DOCUMENT_TOO_LARGE');
  t.false(String((error as Error)?.message).includes('SEKRIT'));
  t.deepEqual(inserts, []);
});

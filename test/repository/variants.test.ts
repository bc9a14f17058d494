/**
 * Single-collection inheritance against the real server: two variants with different encrypted
 * fields share one collection; the base repository returns the right subclass instances, each
 * variant's repository sees only its own documents; one schema map covers every variant; a path
 * encrypted differently in two variants is a definition error naming both.
 */
import test from 'ava';
import { Binary, ObjectId, type CommandStartedEvent, type Collection, type Document, type MongoClient } from 'mongodb';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { InvalidInputError, ModelDefinitionError } from '../../src/errors';
import { CreatedAt, Encrypted, Field, Id, MetadataRegistry, Model, Variant, Version, type Deterministic, type Random } from '../../src/metadata';
import { buildSchemaMap, buildValidator } from '../../src/schema';
import { rawClient, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineFleet } from './models';

const DB = uniqueDbName(__filename);

const { Vehicle, Car, Truck } = defineFleet(DB);
type Car = InstanceType<typeof Car>;
type Truck = InstanceType<typeof Truck>;


let client: StrongboxClient;
let raw: MongoClient;
let stored: Collection<Document>;
const commands: CommandStartedEvent[] = [];
test.before(async () => {
  client = await testClient([Vehicle], { driverOptions: { monitorCommands: true } });
  client.dataClient.on('commandStarted', (event) => commands.push(event));
  raw = await rawClient();
  stored = raw.db(DB).collection('vehicles');
  await client.repository(Car).insertOne({ name: 'Beetle', vin: 'VIN-SECRET-1' } as never);
  await client.repository(Truck).insertOne({ name: 'Hauler', payload: 12000, axles: 3 } as never);
  await client.repository(Vehicle).insertOne({ kind: 'car', name: 'Mini', vin: 'VIN-SECRET-2' } as never);
});
test.after.always(async () => { await client?.close(); await raw?.close(); });

test('variants share the collection: the discriminator is stored, each variant\'s own fields encrypted', async (t) => {
  const beetle = (await stored.findOne({ name: 'Beetle' }))!;
  t.is(beetle.kind, 'car', 'the variant\'s repository fills the discriminator in');
  t.true(beetle.vin instanceof Binary && beetle.vin.sub_type === 6);
  const hauler = (await stored.findOne({ name: 'Hauler' }))!;
  t.is(hauler.kind, 'truck');
  t.true(hauler.payload instanceof Binary && hauler.payload.sub_type === 6);
  t.is(hauler.axles, 3);
});

// These three share the fixture's documents and the last one changes Mini's vin: serial, in this order.
test.serial('the base repository returns each document as an instance of its variant, decrypted', async (t) => {
  const all = await client.repository(Vehicle).find({}, { sort: { name: 1 } }).toArray();
  t.deepEqual(all.map((v) => [v.name, v.constructor.name]), [['Beetle', 'Car'], ['Hauler', 'Truck'], ['Mini', 'Car']]);
  t.is((all[0] as Car).vin, 'VIN-SECRET-1');
  t.is((all[1] as Truck).payload, 12000);
});

test.serial('a variant\'s repository sees only its documents, and queries its encrypted fields', async (t) => {
  const cars = client.repository(Car);
  t.is(await cars.count({}), 2);
  t.deepEqual((await cars.find({}).toArray()).map((c) => c.name).sort(), ['Beetle', 'Mini']);
  const found = (await cars.findOne({ vin: 'VIN-SECRET-2' }))!;
  t.is(found.name, 'Mini');
  t.true(found instanceof Car);
  t.is(await client.repository(Truck).count({ name: 'Beetle' }), 0, 'a truck query never matches a car');
  const pipeline = await client.repository(Truck).aggregate([{ $project: { name: 1 } }]).toArray();
  t.deepEqual(pipeline.map((d) => d.name), ['Hauler'], 'aggregate is scoped to the variant too');
  const deleted = await client.repository(Truck).deleteMany({ name: 'Beetle' });
  t.is(deleted.deletedCount, 0);
  t.deepEqual(await cars.distinct('name', {}), ['Beetle', 'Mini'], 'distinct is scoped to the variant');
  // The collection's metadata counts every variant: refused in a variant's repository, the base repository's counts all.
  await t.throwsAsync(cars.estimatedCount(), { instanceOf: InvalidInputError, code: 'INPUT_NOT_FOR_VARIANT' });
  t.is(await client.repository(Vehicle).estimatedCount(), 3);
});

test('writes are checked against the variant: unknown, mismatched or a sibling\'s fields are refused', async (t) => {
  const before = await stored.countDocuments();
  await t.throwsAsync(client.repository(Vehicle).insertOne({ kind: 'boat', name: 'x' } as never), { instanceOf: InvalidInputError, code: 'INPUT_VARIANT_UNKNOWN' });
  await t.throwsAsync(client.repository(Car).insertOne({ kind: 'truck', name: 'x', vin: 'v' } as never), { instanceOf: InvalidInputError, code: 'INPUT_VARIANT_MISMATCH' });
  await t.throwsAsync(client.repository(Car).insertOne({ name: 'x', vin: 'v', payload: 5 } as never), { instanceOf: InvalidInputError, code: 'INPUT_UNKNOWN_FIELD' });
  await t.throwsAsync(client.repository(Vehicle).insertOne({ kind: 'truck', name: 'x', payload: 1, vin: 'v' } as never), { instanceOf: InvalidInputError, code: 'INPUT_UNKNOWN_FIELD' });
  t.is(await stored.countDocuments(), before, 'nothing was written');
});

test.serial('save() of a loaded variant sends only the changed encrypted field, within the variant', async (t) => {
  const car = (await client.repository(Vehicle).findOne({ name: 'Mini' })) as Car;
  car.vin = 'VIN-NEW';
  const since = commands.length;
  await client.repository(Vehicle).save(car);
  const update = commands.slice(since).find((c) => c.commandName === 'update')!.command.updates[0];
  t.deepEqual(Object.keys(update.u.$set), ['vin']);
  t.is((await client.repository(Car).findOne({ vin: 'VIN-NEW' }))!.name, 'Mini');
});

test.serial('save() keeps a loaded entity in the variant it was read as: another variant\'s field is not stored, a new discriminator is refused before anything is sent', async (t) => {
  const car = (await client.repository(Vehicle).findOne({ name: 'Beetle' })) as Car & { payload?: number };
  car.payload = 7;
  car.name = 'Beetle 2';
  let since = commands.length;
  await client.repository(Vehicle).save(car);
  const update = commands.slice(since).find((c) => c.commandName === 'update')!.command.updates[0];
  t.deepEqual(Object.keys(update.u.$set), ['name'], 'only the car\'s own fields are compared');
  t.is((await client.repository(Vehicle).findOne({ name: 'Beetle 2' }))!.constructor, Car, 'the document still reads as a car');

  car.kind = 'truck';
  since = commands.length;
  const error = await t.throwsAsync(client.repository(Vehicle).save(car), { instanceOf: InvalidInputError });
  t.is((error as InvalidInputError).code, 'INPUT_VARIANT_CHANGED');
  t.regex(error!.message, /read with kind "car" and now has "truck"/);
  t.deepEqual(commands.slice(since).map((c) => c.commandName), [], 'nothing was sent');
  car.kind = 'car';
  car.name = 'Beetle';
  await client.repository(Vehicle).save(car);
  t.is((await stored.findOne({ name: 'Beetle' }))!.kind, 'car');
});

test('one schema map and validator cover every variant', async (t) => {
  const map = await client.schemaMap();
  const properties = (map[`${DB}.vehicles`] as { properties: Record<string, { encrypt?: { algorithm: string } }> }).properties;
  t.is(properties.vin.encrypt?.algorithm, 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic');
  t.is(properties.payload.encrypt?.algorithm, 'AEAD_AES_256_CBC_HMAC_SHA_512-Random');
  t.deepEqual([...client.registry].map((m) => m.target.name), ['Vehicle'], 'the registry lists the collection once');
  const validator = buildValidator(client.registry.get(Vehicle), await client.ensureDataKeys()) as { $jsonSchema: { properties: Record<string, { encrypt?: unknown }> } };
  t.truthy(validator.$jsonSchema.properties.vin.encrypt);
  t.truthy(validator.$jsonSchema.properties.payload.encrypt);
  t.deepEqual(buildSchemaMap([client.registry.get(Vehicle)], await client.ensureDataKeys()), map, 'the same as the client\'s');
});

test('the same path encrypted differently in two variants is a definition error naming both', (t) => {
  @Model({ db: DB, collection: 'accounts', keyAltName: 'fleet', discriminator: 'type' })
  class Account { @Id() _id!: ObjectId; @Field() type!: string; }
  @Variant('person') class PersonAccount extends Account { @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) taxId!: Deterministic<string>; }
  @Variant('company') class CompanyAccount extends Account { @Encrypted({ algorithm: 'Random', bsonType: 'string' }) taxId!: Random<string>; }
  void PersonAccount; void CompanyAccount;
  const err = t.throws(() => new MetadataRegistry([Account]), { instanceOf: ModelDefinitionError });
  t.is((err as ModelDefinitionError).code, 'MODEL_VARIANT_CONFLICT');
  t.regex(err!.message, /PersonAccount\.taxId \(string, Deterministic under key 'fleet'\) and CompanyAccount\.taxId \(string, Random under key 'fleet'\)/);
});

test('a variant declaring its own timestamps or version is a definition error: writes through the base repository would not stamp them', (t) => {
  @Model({ db: DB, collection: 'pets', discriminator: 'kind' })
  class Pet { @Id() _id!: ObjectId; @Field() kind!: string; @Version() version!: number; }
  @Variant('dog') class Dog extends Pet { @CreatedAt() born!: Date; }
  @Variant('cat') class Cat extends Pet {}
  void Dog; void Cat;
  const err = t.throws(() => new MetadataRegistry([Pet]), { instanceOf: ModelDefinitionError });
  t.is(err!.code, 'MODEL_VARIANT_STAMPS');
  t.regex(err!.message, /Dog declares other timestamps or version/);
});

test('definition errors: a variant of a model without discriminator, a discriminator that is no plain string field, a duplicate value', (t) => {
  @Model({ db: DB, collection: 'plain' })
  class Plain { @Id() _id!: ObjectId; }
  @Variant('x') class PlainVariant extends Plain {}
  t.is(t.throws(() => new MetadataRegistry([PlainVariant]), { instanceOf: ModelDefinitionError })!.code, 'MODEL_VARIANT_WITHOUT_DISCRIMINATOR');

  @Model({ db: DB, collection: 'tagged', discriminator: 'tag' })
  class Tagged { @Id() _id!: ObjectId; @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'fleet' }) tag!: Deterministic<string>; }
  t.is(t.throws(() => new MetadataRegistry([Tagged]), { instanceOf: ModelDefinitionError })!.code, 'MODEL_DISCRIMINATOR_FIELD');

  @Model({ db: DB, collection: 'twice', discriminator: 'kind' })
  class Twice { @Id() _id!: ObjectId; @Field() kind!: string; }
  @Variant('a') class A1 extends Twice {}
  @Variant('a') class A2 extends Twice {}
  void A1; void A2;
  t.regex(t.throws(() => new MetadataRegistry([Twice]), { instanceOf: ModelDefinitionError })!.message, /A2: the value "a" already names A1/);
});

test('registering one variant registers its collection with every variant', (t) => {
  const registry = new MetadataRegistry([Car]);
  t.deepEqual([...registry].map((m) => m.target.name), ['Vehicle']);
  t.is(registry.get(Truck).variant?.value, 'truck');
  t.true(registry.get(Vehicle).fields.has('payload') && registry.get(Vehicle).fields.get('payload')!.optional, 'a variant\'s field is optional in the collection\'s model');
});

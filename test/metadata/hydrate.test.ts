import test from 'ava';
import { plainToInstance } from 'class-transformer';
import fc from 'fast-check';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId } from 'mongodb';
import { Address, Person } from '../../examples/models/person';
import {
  ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, MetadataRegistry, Model, Random, hydrate,
} from '../../src/metadata';
import { hydrateOwned } from '../../src/metadata/hydrate';

class Place {
  @Field() placeId!: ObjectId;
  @Field() label!: string;
}

class Contact {
  @Field() kind!: string;
  @Field() value!: string;
}

class Card {
  @Field() number!: string;
}

@Model({ db: 'hydrate', collection: 'docs' })
class Doc {
  @Id() _id!: ObjectId;
  @Field() blob!: Binary;
  @Field() price!: Decimal128;
  @Field() counter!: Long;
  @Field() at!: Date;
  @Embedded(() => Place) place!: Place;
  @EmbeddedArray(() => Contact) contacts!: Contact[];
  @ArrayField({ of: 'objectId' }) refs!: ObjectId[];
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) ssn!: Random<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @Embedded(() => Card) card!: Random<Card>;

  describe(): string {
    return `${this.place.label}: ${this.contacts.length}`;
  }
}

/** A document as the driver returns it; `ssn` could not be decrypted, so it is still a subtype-6 binary. */
function driverDocument(card: unknown) {
  return {
    _id: new ObjectId(),
    blob: new Binary(Buffer.from('hello'), Binary.SUBTYPE_DEFAULT),
    price: Decimal128.fromString('19.99'),
    counter: Long.fromString('9007199254740993'),
    at: new Date('2024-01-02T03:04:05Z'),
    place: { placeId: new ObjectId(), label: 'office' },
    contacts: [{ kind: 'phone', value: '949-555-1212' }, { kind: 'mail', value: 'jd@example.com' }],
    refs: [new ObjectId(), new ObjectId()],
    ssn: new Binary(Buffer.from([2, ...new Array(20).fill(7)]), Binary.SUBTYPE_ENCRYPTED),
    card,
    undeclared: 'kept',
  };
}

const model = new MetadataRegistry([Doc]).get(Doc);

const hydrators: Array<[string, (doc: Record<string, unknown>) => Doc]> = [
  ['class-transformer plainToInstance', (doc) => plainToInstance(Doc, doc)],
  ['hydrate', (doc) => hydrate<Doc>(model, doc)],
];

for (const [name, toInstance] of hydrators) {
  test(`${name} keeps BSON values as real instances and hydrates embedded documents`, (t) => {
    const doc = driverDocument({ number: '4111' });
    const instance = toInstance(doc);
    t.true(instance instanceof Doc);
    t.is(instance.describe(), 'office: 2');
    t.true(instance._id instanceof ObjectId);
    t.true(instance._id.equals(doc._id));
    t.true(instance.blob instanceof Binary);
    t.is(instance.blob.toString('utf8'), 'hello');
    t.true(instance.price instanceof Decimal128);
    t.is(instance.price.toString(), '19.99');
    t.true(instance.counter instanceof Long);
    t.is(instance.counter.toString(), '9007199254740993');
    t.true(instance.at instanceof Date);
    t.is(instance.at.toISOString(), '2024-01-02T03:04:05.000Z');
    t.true(instance.place instanceof Place);
    t.true(instance.place.placeId instanceof ObjectId);
    t.true(instance.place.placeId.equals(doc.place.placeId));
    t.true(instance.contacts.every((c) => c instanceof Contact));
    t.deepEqual(instance.contacts.map((c) => c.value), ['949-555-1212', 'jd@example.com']);
    t.true(instance.refs.every((r, i) => r instanceof ObjectId && r.equals(doc.refs[i])));
    t.true(instance.ssn as unknown instanceof Binary);
    t.is((instance.ssn as unknown as Binary).sub_type, Binary.SUBTYPE_ENCRYPTED);
    t.true(instance.card instanceof Card);
    t.is(instance.card.number, '4111');
    t.is((instance as unknown as { undeclared: string }).undeclared, 'kept');
  });

  test(`${name} leaves a still-encrypted embedded document as its binary`, (t) => {
    const blob = new Binary(Buffer.from([2, 1, 2, 3]), Binary.SUBTYPE_ENCRYPTED);
    const instance = toInstance(driverDocument(blob));
    t.is(instance.card as unknown, blob);
  });
}

test('class-transformer left to guess crashes on Decimal128, which is why the decorators name a type', (t) => {
  class Undecorated {
    price!: Decimal128;
  }
  t.throws(() => plainToInstance(Undecorated, { price: Decimal128.fromString('1.5') }), { message: /Decimal128/ });
});

test('hydrate does not let a __proto__ key change the prototype', (t) => {
  const doc = JSON.parse('{"__proto__": {"polluted": true}, "name": "x"}') as Record<string, unknown>;
  const instance = hydrate<Doc & { name: string }>(model, doc);
  t.is(Object.getPrototypeOf(instance), Doc.prototype);
  t.is((instance as unknown as { polluted?: boolean }).polluted, undefined);
  t.is(instance.name, 'x');
});

test("hydrate turns the CSFLE manual's John Doe record into a Person with an Address", (t) => {
  const person = hydrate<Person>(new MetadataRegistry([Person]).get(Person), {
    _id: new ObjectId(),
    name: 'John Doe',
    address: { street: '1234 Main Street', city: 'MongoDBVille', zip: 99999 },
    phone: '949-555-1212',
    ssn: '123-45-6789',
  });
  t.true(person instanceof Person);
  t.true(person.address instanceof Address);
  t.is(person.address.zip, 99999);
  t.is(person.phone, '949-555-1212');
});

/*
 * hydrateOwned (reads: the deserialized document itself becomes the instance) against hydrate
 * (a copy): for every document, the same classes at every level, the same own keys in the same
 * order, and the same BSON. Documents are generated: declared fields of every kind (converted
 * int, double and long, embedded and arrays of embedded, encrypted leftovers), wrong kinds in
 * declared places, undeclared keys, a '__proto__' key.
 */
class Tag {
  @Field() label!: string;
  @Field({ bsonType: 'int' }) weight!: number;
}

@Model({ db: 'hydrate', collection: 'owned' })
class Owned {
  @Id() _id!: ObjectId;
  @Field({ bsonType: 'int' }) count!: number;
  @Field({ bsonType: 'double' }) ratio!: number;
  @Field({ bsonType: 'long' }) views!: Long;
  @Embedded(() => Place) place!: Place;
  @EmbeddedArray(() => Tag) tags!: Tag[];
  @ArrayField({ of: 'long' }) longs!: Long[];
  @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @Embedded(() => Card) card!: Random<Card>;
}

/** A class whose setter an assignment runs: hydrateOwned copies its documents, as hydrate does. */
class Guarded {
  // Plain properties, not initializers or #private ones: a read makes the instance without running the constructor.
  declare sets?: number;
  declare stored?: string;
  get label(): string { return this.stored ?? ''; }
  set label(value: string) { this.sets = (this.sets ?? 0) + 1; this.stored = value.toUpperCase(); }
}
Field({ bsonType: 'string' })(Guarded.prototype, 'label');
Model({ db: 'hydrate', collection: 'guarded' })(Guarded);

const ownedModel = new MetadataRegistry([Owned]).get(Owned);
const guardedModel = new MetadataRegistry([Guarded]).get(Guarded);

const ownedKey = fc.constantFrom('x', 'label', 'weight', 'placeId', 'number', 'toString', 'constructor', '__proto__', 'count');
const leaf = fc.oneof(
  fc.string({ maxLength: 6 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null),
  fc.integer().map((n) => new Int32(n)), fc.double({ noNaN: true }).map((n) => new Double(n)), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => Long.fromBigInt(n)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
  fc.uint8Array({ maxLength: 8 }).map((b) => new Binary(b, Binary.SUBTYPE_ENCRYPTED)),
);
const ownedValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('doc')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  doc: fc.dictionary(ownedKey, tie('value'), { maxKeys: 4 }),
})).value;
const ownedDocument = fc.record({
  _id: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
  count: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => new Int32(n)), ownedValue),
  ratio: fc.oneof(fc.double({ noNaN: true }).map((n) => new Double(n)), ownedValue),
  views: fc.oneof(fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }).map((n) => Long.fromBigInt(n)), ownedValue),
  place: ownedValue,
  tags: fc.oneof(fc.array(fc.record({ label: fc.string(), weight: fc.integer({ min: 0, max: 9 }).map((n) => new Int32(n)), extra: ownedValue }, { requiredKeys: ['label'] }), { maxLength: 3 }), ownedValue),
  longs: fc.oneof(fc.array(fc.integer().map((n) => Long.fromNumber(n)), { maxLength: 3 }), ownedValue),
  card: ownedValue,
  other: ownedValue,
}, { requiredKeys: ['_id'] }).chain((doc) => fc.boolean().map((withProto) => {
  if (!withProto) return doc;
  const out: Record<string, unknown> = { ...doc };
  Object.defineProperty(out, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  return out;
}));

/** The classes and own keys at every level of `value`, in order. */
function layout(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(layout);
  if (value === null || typeof value !== 'object' || '_bsontype' in value) return typeof value;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return { class: proto?.constructor?.name ?? 'null', keys: Object.keys(value), values: Object.values(value).map(layout) };
}

test('hydrateOwned gives what hydrate gives, on generated documents, and hydrates the document itself', (t) => {
  let inPlace = 0;
  fc.assert(fc.property(ownedDocument, (doc) => {
    const bytes = BSON.serialize(doc);
    const copied = hydrate<Owned>(ownedModel, BSON.deserialize(bytes));
    const given = BSON.deserialize(bytes);
    const owned = hydrateOwned<Owned>(ownedModel, given);
    t.deepEqual(layout(owned), layout(copied));
    t.deepEqual(Buffer.from(BSON.serialize(owned)), Buffer.from(BSON.serialize(copied)));
    t.true(owned instanceof Owned);
    t.is((owned as unknown as { polluted?: unknown }).polluted, undefined);
    if (owned === (given as unknown)) inPlace++;
  }), { numRuns: 300 });
  t.is(inPlace, 300, 'every document of a class without accessors is hydrated in place');
});

test('hydrateOwned of a class with a setter copies the document and runs the setter, as hydrate does', (t) => {
  const copied = hydrate<Guarded>(guardedModel, { label: 'ab', other: 1 });
  const given = { label: 'ab', other: 1 };
  const owned = hydrateOwned<Guarded>(guardedModel, given);
  t.not(owned as unknown, given);
  t.is(owned.sets, 1);
  t.is(owned.label, 'AB');
  t.deepEqual(layout(owned), layout(copied));
  t.is(copied.label, 'AB');
});

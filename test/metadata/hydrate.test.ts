import test from 'ava';
import { plainToInstance } from 'class-transformer';
import { Binary, Decimal128, Long, ObjectId } from 'mongodb';
import { Address, Person } from '../../examples/models/person';
import {
  ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, MetadataRegistry, Model, Random, hydrate,
} from '../../src/metadata';

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

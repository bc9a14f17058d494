import test from 'ava';
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, UUID } from 'mongodb';
import { ModelDefinitionError } from '../../src/errors';
import {
  ArrayField, Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Index, MetadataRegistry, Model, Random,
} from '../../src/metadata';

class Line {
  @Field() sku!: string;
}

@Model({ db: 'shop', collection: 'orders' })
class Order {
  @Id() _id!: ObjectId;
  @Field() customer!: string;
  @Field() total!: number;
  @Field({ bsonType: 'int' }) quantity!: number;
  @Field({ bsonType: 'long' }) views!: number;
  @Field() paid!: boolean;
  @Field() placedAt!: Date;
  @Field() receipt!: Binary;
  @Field() receiptId!: UUID;
  @Field() price!: Decimal128;
  @Field() counter!: Long;
  @Field() small!: Int32;
  @Field() ratio!: Double;
  @Field() stamp!: Timestamp;
  @Field() pattern!: RegExp;
  @Field({ optional: true }) note?: string;
  @ArrayField({ of: 'string' }) tags!: string[];
  @EmbeddedArray(() => Line) lines!: Line[];
  @Embedded(() => Line, { optional: true }) featured?: Line;
  @Field({ bsonType: 'object' }) extra!: Record<string, unknown>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'shop' }) card!: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'shop' }) email!: Deterministic<string>;
}

@Model({ db: 'shop', collection: 'customers' })
class Customer {
  @Id({ bsonType: 'string' }) _id!: string;
}

test('BSON types come from the property types, with bsonType overriding number storage', (t) => {
  const fields = new MetadataRegistry([Order]).get(Order).fields;
  const types = Object.fromEntries([...fields.values()].map((f) => [f.name, f.bsonType]));
  t.deepEqual(types, {
    _id: 'objectId', customer: 'string', total: 'double', quantity: 'int', views: 'long', paid: 'bool',
    placedAt: 'date', receipt: 'binData', receiptId: 'binData', price: 'decimal', counter: 'long', small: 'int',
    ratio: 'double', stamp: 'timestamp', pattern: 'regex', note: 'string', tags: 'array', lines: 'array',
    featured: 'object', extra: 'object', card: undefined, email: 'string',
  });
});

test('field metadata records arrays, optionality, ids and embedded shapes', (t) => {
  const fields = new MetadataRegistry([Order]).get(Order).fields;
  t.like(fields.get('_id'), { isId: true, isArray: false, optional: false });
  t.like(fields.get('note'), { optional: true, isId: false });
  t.like(fields.get('tags'), { isArray: true, itemBsonType: 'string' });
  t.like(fields.get('lines'), { isArray: true });
  t.is(fields.get('lines')?.embedded?.target, Line);
  t.deepEqual([...fields.get('lines')!.embedded!.fields.keys()], ['sku']);
  t.like(fields.get('featured'), { isArray: false, optional: true });
  t.like(fields.get('card')?.encrypted, { algorithm: 'Random', key: { kind: 'altName', altName: 'shop' }, inheritsModelKey: false });
});

test('@Id takes an explicit bsonType', (t) => {
  t.is(new MetadataRegistry([Customer]).get(Customer).fields.get('_id')?.bsonType, 'string');
});

test('lookup by class and by namespace', (t) => {
  const registry = new MetadataRegistry([Order, Customer]);
  t.is(registry.get(Order).namespace, 'shop.orders');
  t.like(registry.get(Order), { db: 'shop', collection: 'orders', target: Order });
  t.is(registry.byNamespace('shop.customers')?.target, Customer);
  t.is(registry.byNamespace('shop.nothing'), undefined);
  t.deepEqual([...registry].map((m) => m.target), [Order, Customer]);
});

test('registries are isolated from each other', (t) => {
  const a = new MetadataRegistry([Order]);
  const b = new MetadataRegistry().register(Customer);
  t.true(a.has(Order));
  t.false(a.has(Customer));
  t.false(b.has(Order));
  t.is(a.byNamespace('shop.customers'), undefined);
  t.is(b.byNamespace('shop.orders'), undefined);
  // Each registry resolves its own metadata.
  t.not(new MetadataRegistry([Order]).get(Order), a.get(Order));
});

test('re-registering a class is a no-op; a failed registration adds nothing', (t) => {
  const registry = new MetadataRegistry([Order]);
  const before = registry.get(Order);
  registry.register(Order);
  t.is(registry.get(Order), before);

  class NotAModel {}
  t.throws(() => registry.register(Customer, NotAModel), { instanceOf: ModelDefinitionError });
  t.false(registry.has(Customer));
});

test('an unregistered class is a clear error', (t) => {
  const error = t.throws(() => new MetadataRegistry([Order]).get(Customer), { instanceOf: ModelDefinitionError });
  t.is(error?.code, 'MODEL_NOT_REGISTERED');
  t.true(error?.message.startsWith('Customer: '));
});

test('subclasses inherit fields, and may redeclare one in place', (t) => {
  class Base {
    @Id() _id!: ObjectId;
    @Field() name!: string;
    @Field({ bsonType: 'int' }) level!: number;
  }
  @Model({ db: 'inherit', collection: 'children' })
  class Child extends Base {
    @Field({ bsonType: 'long' }) override level!: number;
    @Field() extra!: string;
  }
  @Model({ db: 'inherit', collection: 'grandchildren' })
  class GrandChild extends Child {
    @Field() more!: boolean;
  }
  const registry = new MetadataRegistry([Child, GrandChild]);
  const child = registry.get(Child).fields;
  t.deepEqual([...child.keys()], ['_id', 'name', 'level', 'extra']);
  t.is(child.get('level')?.bsonType, 'long');
  t.deepEqual([...registry.get(GrandChild).fields.keys()], ['_id', 'name', 'level', 'extra', 'more']);
  // Base stays as declared.
  @Model({ db: 'inherit', collection: 'bases' })
  class Concrete extends Base {}
  t.is(new MetadataRegistry([Concrete]).get(Concrete).fields.get('level')?.bsonType, 'int');
});

test('field names are stored as written, quoted ones included', (t) => {
  @Model({ db: 'names', collection: 'quoted' })
  class Quoted {
    @Field() 'first-name'!: string;
    @Field() 'with space'!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) 'taxid-short'!: Deterministic<string>;
  }
  t.deepEqual([...new MetadataRegistry([Quoted]).get(Quoted).fields.keys()], ['first-name', 'with space', 'taxid-short']);
});

test('a model-level default key is inherited by fields without their own', (t) => {
  const key = new UUID('5b4c7a90-1b2c-4d3e-8f40-516273849500');
  @Model({ db: 'keys', collection: 'defaults', keyId: key })
  class Defaults {
    @Encrypted({ algorithm: 'Random' }) a!: Random<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'own' }) b!: Random<string>;
  }
  const model = new MetadataRegistry([Defaults]).get(Defaults);
  t.deepEqual(model.defaultKey, { kind: 'id', id: key });
  t.like(model.fields.get('a')?.encrypted, { key: { kind: 'id', id: key }, inheritsModelKey: true });
  t.like(model.fields.get('b')?.encrypted, { key: { kind: 'altName', altName: 'own' }, inheritsModelKey: false });
});

test('key ids may be given as UUID strings or Binary subtype 4', (t) => {
  const text = '6c5d8ba1-2c3d-4e4f-9a51-627384950617';
  @Model({ db: 'keys', collection: 'ids' })
  class Ids {
    @Encrypted({ algorithm: 'Random', keyId: text }) a!: Random<string>;
    @Encrypted({ algorithm: 'Random', keyId: new Binary(new UUID(text).buffer, Binary.SUBTYPE_UUID) }) b!: Random<string>;
  }
  const fields = new MetadataRegistry([Ids]).get(Ids).fields;
  for (const name of ['a', 'b']) {
    const key = fields.get(name)?.encrypted?.key;
    t.is(key?.kind, 'id');
    t.is(key?.kind === 'id' ? key.id.toUUID().toHexString() : '', text);
  }
});

test('JSON pointers are unescaped into a field path', (t) => {
  @Model({ db: 'keys', collection: 'pointers' })
  class Pointers {
    @Field() 'a/b'!: string;
    @Encrypted({ algorithm: 'Random', keyAltName: '/a~1b' }) secret!: Random<string>;
  }
  t.deepEqual(new MetadataRegistry([Pointers]).get(Pointers).fields.get('secret')?.encrypted?.key,
    { kind: 'altNameFromField', pointer: '/a~1b', path: ['a/b'] });
});

test('an index on a Deterministic field is allowed: equality lookups work on its ciphertext', (t) => {
  @Model({ db: 'idx', collection: 'det' })
  class Det {
    @Index({ unique: true }) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) email!: Deterministic<string>;
  }
  t.deepEqual(new MetadataRegistry([Det]).get(Det).indexes, [{ key: { email: 1 }, unique: true }]);
});

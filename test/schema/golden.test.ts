import test, { type ExecutionContext } from 'ava';
import { BSON, ObjectId } from 'mongodb';
import { KeyError, ModelDefinitionError } from '../../src/errors';
import { Field, Id, MetadataRegistry, Model } from '../../src/metadata';
import { buildSchemaMap, buildValidator, collectKeyAltNames } from '../../src/schema';
import {
  FunctionKey, KEY_BANK, KEY_HR, KEY_PHONE, KEY_SSN, Flat, Nested, PerDocumentKey, SavingsAccount, WholeObject,
  WithContacts, resolver,
} from './fixtures';

const D = 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic';
const R = 'AEAD_AES_256_CBC_HMAC_SHA_512-Random';

/** Equal as canonical Extended JSON, key order included (MongoDB's examples put keyId, algorithm, bsonType). */
function sameJson(t: ExecutionContext, actual: unknown, expected: unknown): void {
  const a = BSON.EJSON.stringify(actual, { relaxed: false });
  const e = BSON.EJSON.stringify(expected, { relaxed: false });
  t.deepEqual(JSON.parse(a), JSON.parse(e));
  t.is(a, e);
}

function schemaOf(model: Function) {
  return buildSchemaMap(new MetadataRegistry([model]), resolver)[new MetadataRegistry([model]).get(model).namespace];
}

test('flat model: fixed key id, alt names resolved to ids, bsonType only where known', (t) => {
  sameJson(t, schemaOf(Flat), {
    bsonType: 'object',
    properties: {
      ssn: { encrypt: { keyId: [KEY_SSN], algorithm: R } },
      phone: { encrypt: { keyId: [KEY_PHONE], algorithm: D, bsonType: 'string' } },
      pin: { encrypt: { keyId: [KEY_PHONE], algorithm: D, bsonType: 'int' } },
    },
  });
  t.deepEqual(new MetadataRegistry([Flat]).get(Flat).indexes, [{ key: { name: 1 } }, { key: { phone: 1 }, unique: true }]);
});

test('flat model: the validator carries the same rules as the schema map', (t) => {
  const model = new MetadataRegistry([Flat]).get(Flat);
  sameJson(t, buildValidator(model, resolver), { $jsonSchema: schemaOf(Flat) });
});

test('nested model: embedded documents with encrypted fields nest, others are left out', (t) => {
  sameJson(t, schemaOf(Nested), {
    bsonType: 'object',
    properties: {
      address: {
        bsonType: 'object',
        properties: { zip: { encrypt: { keyId: [KEY_HR], algorithm: D, bsonType: 'int' } } },
      },
    },
  });
  t.deepEqual(new MetadataRegistry([Nested]).get(Nested).indexes, [
    { key: { name: 1, 'address.zip': -1 } },
    { key: { 'address.zip': 1 } },
  ]);
});

test('array of embedded documents: the validator enforces every element', (t) => {
  const model = new MetadataRegistry([WithContacts]).get(WithContacts);
  sameJson(t, buildValidator(model, resolver), {
    $jsonSchema: {
      bsonType: 'object',
      properties: {
        contacts: {
          bsonType: 'array',
          items: {
            bsonType: 'object',
            properties: { phone: { encrypt: { keyId: [KEY_HR], algorithm: D, bsonType: 'string' } } },
          },
        },
      },
    },
  });
});

test('array of embedded documents: the schema map refuses it, as automatic encryption does', (t) => {
  const error = t.throws(() => buildSchemaMap(new MetadataRegistry([WithContacts]), resolver), { instanceOf: ModelDefinitionError });
  t.is(error?.code, 'SCHEMA_ENCRYPT_IN_ARRAY');
  t.true(error?.message.startsWith('WithContacts.contacts: the array\'s documents have encrypted fields (contacts.phone)'), error?.message);
  t.regex(error?.message ?? '', /Fix: use explicit encryption .*'Random'/);
});

test("whole object and whole array Random (the CSFLE manual's personal_information and phone_numbers)", (t) => {
  sameJson(t, schemaOf(WholeObject), {
    bsonType: 'object',
    properties: {
      personal_information: { encrypt: { keyId: [KEY_HR], algorithm: R, bsonType: 'object' } },
      phone_numbers: { encrypt: { keyId: [KEY_HR], algorithm: R, bsonType: 'array' } },
    },
  });
});

test('inherited model: base-class fields come first, then the subclass', (t) => {
  const model = new MetadataRegistry([SavingsAccount]).get(SavingsAccount);
  t.deepEqual([...model.fields.keys()], ['_id', 'owner', 'iban', 'termMonths', 'notes']);
  t.deepEqual(model.indexes, [{ key: { owner: 1, iban: 1 } }]);
  sameJson(t, schemaOf(SavingsAccount), {
    bsonType: 'object',
    properties: {
      iban: { encrypt: { keyId: [KEY_BANK], algorithm: D, bsonType: 'string' } },
      notes: { encrypt: { keyId: [KEY_BANK], algorithm: R } },
    },
  });
});

test('per-document key: a JSON pointer keyId, and the model default key through encryptMetadata', (t) => {
  const expected = {
    bsonType: 'object',
    encryptMetadata: { keyId: [KEY_HR] },
    properties: {
      taxid: { encrypt: { keyId: '/employeeNo', algorithm: R } },
      taxidShort: { encrypt: { algorithm: D, bsonType: 'string' } },
      salary: { encrypt: { algorithm: R } },
    },
  };
  sameJson(t, schemaOf(PerDocumentKey), expected);
  sameJson(t, buildValidator(new MetadataRegistry([PerDocumentKey]).get(PerDocumentKey), resolver), { $jsonSchema: expected });
});

test('a key chosen by a function: refused by the schema map, validator demands encryption without a keyId', (t) => {
  const registry = new MetadataRegistry([FunctionKey]);
  const error = t.throws(() => buildSchemaMap(registry, resolver), { instanceOf: ModelDefinitionError });
  t.is(error?.code, 'SCHEMA_FUNCTION_KEY');
  t.true(error?.message.startsWith('FunctionKey.secret:'), error?.message);
  sameJson(t, buildValidator(registry.get(FunctionKey), resolver), {
    $jsonSchema: { bsonType: 'object', properties: { secret: { encrypt: { algorithm: R } } } },
  });
});

test('the schema map has an entry for every model, also those without encryption', (t) => {
  @Model({ db: 'golden', collection: 'plain' })
  class Plain {
    @Id() _id!: ObjectId;
    @Field() name!: string;
  }
  const map = buildSchemaMap(new MetadataRegistry([Flat, Plain, Nested]), resolver);
  t.deepEqual(Object.keys(map), ['golden.flat', 'golden.plain', 'golden.nested']);
  sameJson(t, map['golden.plain'], { bsonType: 'object', properties: {} });
});

test('the resolver may be a function; an unknown alt name is a KeyError naming it', (t) => {
  const registry = new MetadataRegistry([Flat]);
  const viaFunction = buildSchemaMap(registry, (altName) => resolver.get(altName));
  sameJson(t, viaFunction, buildSchemaMap(registry, resolver));
  const error = t.throws(() => buildSchemaMap(registry, () => undefined), { instanceOf: KeyError });
  t.is(error?.code, 'KEY_ALT_NAME_UNRESOLVED');
  t.regex(error?.message ?? '', /"golden-phone".*Fix: create the data key/);
});

test('collectKeyAltNames lists the fixed alt names to create or look up', (t) => {
  const registry = new MetadataRegistry([Flat, Nested, PerDocumentKey, SavingsAccount]);
  t.deepEqual(collectKeyAltNames(registry).sort(), ['bank', 'golden-phone', 'hr']);
});

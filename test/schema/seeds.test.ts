import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { BSON, UUID } from 'mongodb';
import { Employee, EMPLOYEE_KEY_ALT_NAMES } from '../../examples/models/employee';
import { Person, PERSON_KEY_ALT_NAME } from '../../examples/models/person';
import { schemaCommand } from '../../src/cli/commands/schema';
import { Field, MetadataRegistry, Model } from '../../src/metadata';
import { buildSchemaMap, buildValidator } from '../../src/schema';

const TAXID_KEY = new UUID('e114f7ad-ad7a-4a68-81a7-ebcb9ea0953a');
const TAXID_SHORT_KEY = new UUID('33408ee9-e499-43f9-89fe-5f8533870617');
const PEOPLE_KEY = new UUID('11d58b8a-0c6c-4d69-a0bd-70c6d9befae9');

const resolver = new Map([
  [EMPLOYEE_KEY_ALT_NAMES.taxid, TAXID_KEY],
  [EMPLOYEE_KEY_ALT_NAMES.taxidShort, TAXID_SHORT_KEY],
  [PERSON_KEY_ALT_NAME, PEOPLE_KEY],
]);

const canonical = (value: unknown): string => BSON.EJSON.stringify(value, { relaxed: false });

test('CSFLE manual: the hr.employees validator comes out exactly as in the manual', (t) => {
  // Transcribed from the manual's collMod command, key order included.
  const seed = {
    $jsonSchema: {
      bsonType: 'object',
      properties: {
        taxid: {
          encrypt: {
            keyId: [new UUID('e114f7ad-ad7a-4a68-81a7-ebcb9ea0953a')],
            algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random',
          },
        },
        'taxid-short': {
          encrypt: {
            keyId: [new UUID('33408ee9-e499-43f9-89fe-5f8533870617')],
            algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic',
            bsonType: 'string',
          },
        },
      },
    },
  };
  const validator = buildValidator(new MetadataRegistry([Employee]).get(Employee), resolver);
  t.is(canonical(validator), canonical(seed));
});

test("CSFLE manual: the John Doe person model encrypts phone (Deterministic) and ssn (Random) with the model's key", (t) => {
  const registry = new MetadataRegistry([Person]);
  const expected = {
    bsonType: 'object',
    encryptMetadata: { keyId: [PEOPLE_KEY] },
    properties: {
      phone: { encrypt: { algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic', bsonType: 'string' } },
      ssn: { encrypt: { algorithm: 'AEAD_AES_256_CBC_HMAC_SHA_512-Random' } },
    },
  };
  t.is(canonical(buildSchemaMap(registry, resolver)['app.people']), canonical(expected));
  const address = registry.get(Person).fields.get('address');
  t.deepEqual([...address!.embedded!.fields.values()].map((f) => [f.name, f.bsonType]), [
    ['street', 'string'], ['city', 'string'], ['zip', 'int'],
  ]);
});

test('strongbox schema prints both models of the manual as the golden file has them', (t) => {
  const output = schemaCommand([Employee, Person], { resolver });
  const golden = fs.readFileSync(path.join(__dirname, '../../../test/schema/golden/schema-command.json'), 'utf8');
  t.deepEqual(JSON.parse(output), JSON.parse(golden));
  // Extended JSON, so the key ids read back as UUIDs.
  const parsed = BSON.EJSON.parse(output) as { validators: Record<string, unknown> };
  t.is(canonical(parsed.validators['hr.employees']), canonical(buildValidator(new MetadataRegistry([Employee]).get(Employee), resolver)));
});

test('strongbox schema lists validators only for collections with encrypted fields', (t) => {
  @Model({ db: 'test', collection: 'plain' })
  class Plain {
    @Field() name!: string;
  }
  const output = JSON.parse(schemaCommand(new MetadataRegistry([Employee, Plain]), { resolver }));
  t.deepEqual(Object.keys(output.schemaMap), ['hr.employees', 'test.plain']);
  t.deepEqual(Object.keys(output.validators), ['hr.employees']);
});

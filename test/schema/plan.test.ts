import test from 'ava';
import { MetadataRegistry } from '../../src/metadata';
import { buildEncryptionPlan } from '../../src/schema';
import { Flat, KEY_SSN, Nested, PerDocumentKey, WholeObject, WithContacts } from './fixtures';

const planOf = (model: Function) => buildEncryptionPlan(new MetadataRegistry([model]).get(model));

test('the plan lists every encrypted field with its full path, algorithm, type and key', (t) => {
  t.deepEqual(planOf(Flat).paths, [
    { path: ['ssn'], algorithm: 'Random', key: { kind: 'id', id: KEY_SSN }, inArray: false },
    { path: ['phone'], algorithm: 'Deterministic', bsonType: 'string', key: { kind: 'altName', altName: 'golden-phone' }, inArray: false },
    { path: ['pin'], algorithm: 'Deterministic', bsonType: 'int', key: { kind: 'altName', altName: 'golden-phone' }, inArray: false },
  ]);
  t.is(planOf(Flat).namespace, 'golden.flat');
});

test('nested and array paths continue into embedded documents', (t) => {
  t.deepEqual(planOf(Nested).paths.map((p) => [p.path, p.inArray]), [[['address', 'zip'], false]]);
  t.deepEqual(planOf(WithContacts).paths.map((p) => [p.path, p.inArray]), [[['contacts', 'phone'], true]]);
});

test('per-document keys keep the pointer and its parsed path', (t) => {
  const taxid = planOf(PerDocumentKey).lookup('taxid').encrypted;
  t.deepEqual(taxid?.key, { kind: 'altNameFromField', pointer: '/employeeNo', path: ['employeeNo'] });
  t.deepEqual(planOf(PerDocumentKey).lookup('salary').encrypted?.key, { kind: 'altName', altName: 'hr' });
});

test('lookup resolves dotted paths through embedded documents', (t) => {
  const plan = planOf(Nested);
  const zip = plan.lookup('address.zip');
  t.deepEqual(zip.encrypted?.path, ['address', 'zip']);
  t.is(zip.field?.name, 'zip');
  t.is(zip.insideEncrypted, undefined);
  const street = plan.lookup('address.street');
  t.is(street.encrypted, undefined);
  t.is(street.field?.bsonType, 'string');
  t.deepEqual(plan.lookup('address').field?.embedded?.target.name, 'Address');
});

for (const path of ['contacts.0.phone', 'contacts.$.phone', 'contacts.$[].phone', 'contacts.$[x].phone', 'contacts.phone']) {
  test(`lookup steps over array positions: ${path}`, (t) => {
    const found = planOf(WithContacts).lookup(path);
    t.deepEqual(found.encrypted?.path, ['contacts', 'phone']);
    t.is(found.field?.name, 'phone');
  });
}

test('a numeric segment is a field name where the parent is not an array', (t) => {
  t.deepEqual(planOf(Nested).lookup('address.0'), {});
  t.is(planOf(WithContacts).lookup('tags.0').field?.name, 'tags');
});

test('paths beneath a Random whole object or array are insideEncrypted', (t) => {
  const plan = planOf(WholeObject);
  const ssn = plan.lookup('personal_information.ssn');
  t.deepEqual(ssn.insideEncrypted?.path, ['personal_information']);
  t.is(ssn.encrypted, undefined);
  t.is(ssn.field?.name, 'ssn');
  t.deepEqual(plan.lookup('personal_information.undeclared').insideEncrypted?.path, ['personal_information']);
  t.deepEqual(plan.lookup('phone_numbers.0').insideEncrypted?.path, ['phone_numbers']);
  t.deepEqual(plan.lookup('personal_information').encrypted?.bsonType, 'object');
});

test('unknown and empty paths resolve to nothing', (t) => {
  const plan = planOf(Flat);
  t.deepEqual(plan.lookup('nope'), {});
  t.deepEqual(plan.lookup(''), {});
  t.deepEqual(plan.lookup('name.first'), {});
});

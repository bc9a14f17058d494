import test, { type ExecutionContext } from 'ava';
import { Binary, ObjectId } from 'mongodb';
import { ModelDefinitionError } from '../../src/errors';
import {
  BsonType, CompoundIndex, Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Index,
  MetadataRegistry, Model, Random,
} from '../../src/metadata';

/** Registering `models` fails with `code`, and the message starts by naming `site` and ends with a fix. */
function rejects(t: ExecutionContext, models: Function[], code: string, site: string): string {
  const error = t.throws(() => new MetadataRegistry(models), { instanceOf: ModelDefinitionError });
  t.is<string, string>(error?.code, code, error?.message);
  t.true(error?.message.startsWith(`${site}: `), error?.message);
  t.regex(error?.message ?? '', /\. Fix: \S/);
  return error?.message ?? '';
}

test('Deterministic without a bsonType (the brand hides the type)', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Employee {
    @Encrypted({ algorithm: 'Deterministic', keyAltName: 'hr' }) ssn!: Deterministic<string>;
  }
  const message = rejects(t, [Employee], 'MODEL_DETERMINISTIC_BSONTYPE', 'Employee.ssn');
  t.is(message, "Employee.ssn: Deterministic encryption needs exactly one bsonType, got none (TypeScript cannot infer it from Deterministic<T>). Fix: @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' })");
});

test('Deterministic with several bsonTypes', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Multi {
    @Encrypted({ algorithm: 'Deterministic', bsonType: ['string', 'int'], keyAltName: 'k' }) code!: Deterministic<string>;
  }
  rejects(t, [Multi], 'MODEL_DETERMINISTIC_BSONTYPE', 'Multi.code');
});

for (const type of ['double', 'decimal', 'bool', 'object', 'array', 'javascriptWithScope'] as const) {
  test(`Deterministic refuses ${type}`, (t) => {
    @Model({ db: 'e', collection: 'c' })
    class Refused {
      @Encrypted({ algorithm: 'Deterministic', bsonType: type, keyAltName: 'k' }) value!: Deterministic<unknown>;
    }
    const message = rejects(t, [Refused], 'MODEL_DETERMINISTIC_TYPE_REFUSED', 'Refused.value');
    t.true(message.includes(`'${type}'`));
  });
}

test('Deterministic refuses a plain number (stored as double) and says how to store it instead', (t) => {
  // Without the brand (as plain JavaScript would have it) design:type is Number, stored as 'double'.
  const encrypted = Encrypted({ algorithm: 'Deterministic', keyAltName: 'k' }) as PropertyDecorator;
  @Model({ db: 'e', collection: 'c' })
  class Amount {
    @encrypted total!: number;
  }
  const message = rejects(t, [Amount], 'MODEL_DETERMINISTIC_TYPE_REFUSED', 'Amount.total');
  t.true(message.includes("Fix: store it as 'int', 'long' or 'string'"));
});

test('Deterministic on an embedded document is refused (it is an object)', (t) => {
  class Inner {
    @Field() a!: string;
  }
  @Model({ db: 'e', collection: 'c' })
  class Outer {
    // @ts-expect-error @Embedded on a Deterministic property does not compile; JavaScript callers get the definition error below
    @Encrypted({ algorithm: 'Deterministic', keyAltName: 'k' }) @Embedded(() => Inner) inner!: Deterministic<Inner>;
  }
  rejects(t, [Outer], 'MODEL_DETERMINISTIC_TYPE_REFUSED', 'Outer.inner');
});

for (const type of ['null', 'undefined', 'minKey', 'maxKey'] as const) {
  test(`no algorithm encrypts ${type}`, (t) => {
    @Model({ db: 'e', collection: 'c' })
    class Never {
      @Encrypted({ algorithm: 'Random', bsonType: type, keyAltName: 'k' }) value!: Random<unknown>;
    }
    rejects(t, [Never], 'MODEL_ENCRYPT_TYPE_REFUSED', 'Never.value');
  });
}

test('nothing beneath a Random whole object may be encrypted', (t) => {
  class Card {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) number!: Deterministic<string>;
  }
  @Model({ db: 'e', collection: 'c' })
  class Wallet {
    @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @Embedded(() => Card) card!: Random<Card>;
  }
  const message = rejects(t, [Wallet], 'MODEL_ENCRYPTED_BENEATH_RANDOM', 'Card.number (in Wallet.card.number)');
  t.true(message.includes("inside card"));
});

test('nothing beneath a Random whole array may be indexed', (t) => {
  class Visit {
    @Index() @Field() at!: Date;
  }
  @Model({ db: 'e', collection: 'c' })
  class Patient {
    @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @EmbeddedArray(() => Visit) visits!: Random<Visit[]>;
  }
  rejects(t, [Patient], 'MODEL_INDEX_BENEATH_RANDOM', 'Visit.at (in Patient.visits.at)');
});

test('a compound index reaching beneath a Random whole object is refused', (t) => {
  class Info {
    @Field() zip!: string;
  }
  @Model({ db: 'e', collection: 'c' })
  @CompoundIndex({ name: 1, 'info.zip': 1 })
  class Holder {
    @Field() name!: string;
    @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) @Embedded(() => Info) info!: Random<Info>;
  }
  rejects(t, [Holder], 'MODEL_INDEX_BENEATH_RANDOM', 'Holder');
});

test('an index on a Random field is refused', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Indexed {
    @Index() @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) ssn!: Random<string>;
  }
  rejects(t, [Indexed], 'MODEL_INDEX_RANDOM', 'Indexed.ssn');
});

test('an index on an undeclared path is refused', (t) => {
  @Model({ db: 'e', collection: 'c' })
  @CompoundIndex({ nmae: 1 })
  class Typo {
    @Field() name!: string;
  }
  rejects(t, [Typo], 'MODEL_INDEX_UNKNOWN_PATH', 'Typo');
});

test('an encrypted field needs a key', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Keyless {
    @Encrypted({ algorithm: 'Random' }) ssn!: Random<string>;
  }
  rejects(t, [Keyless], 'MODEL_KEY_MISSING', 'Keyless.ssn');
});

test('a key pointer must name a declared, unencrypted string field of the same model', (t) => {
  @Model({ db: 'e', collection: 'a' })
  class Missing {
    @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) taxid!: Random<string>;
  }
  t.true(rejects(t, [Missing], 'MODEL_KEY_POINTER_TARGET', 'Missing.taxid').includes('names no declared field'));

  @Model({ db: 'e', collection: 'b' })
  class NotString {
    @Field() employeeNo!: number;
    @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) taxid!: Random<string>;
  }
  t.true(rejects(t, [NotString], 'MODEL_KEY_POINTER_TARGET', 'NotString.taxid').includes("type 'double'"));

  @Model({ db: 'e', collection: 'c' })
  class EncryptedTarget {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) employeeNo!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) taxid!: Random<string>;
  }
  t.true(rejects(t, [EncryptedTarget], 'MODEL_KEY_POINTER_TARGET', 'EncryptedTarget.taxid').includes('encrypted field'));
});

test('a pointer in an embedded class is resolved from the model root', (t) => {
  class Tax {
    @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) id!: Random<string>;
  }
  @Model({ db: 'e', collection: 'root' })
  class Root {
    @Field() employeeNo!: string;
    @Embedded(() => Tax) tax!: Tax;
  }
  t.notThrows(() => new MetadataRegistry([Root]));
  @Model({ db: 'e', collection: 'other' })
  class Other {
    @Embedded(() => Tax) tax!: Tax;
  }
  rejects(t, [Other], 'MODEL_KEY_POINTER_TARGET', 'Tax.id (in Other.tax.id)');
});

test('Deterministic cannot use a per-document key (pointer, function, or inherited pointer)', (t) => {
  @Model({ db: 'e', collection: 'a' })
  class Pointer {
    @Field() employeeNo!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: '/employeeNo' }) taxid!: Deterministic<string>;
  }
  rejects(t, [Pointer], 'MODEL_DETERMINISTIC_PER_DOCUMENT_KEY', 'Pointer.taxid');

  @Model({ db: 'e', collection: 'b' })
  class Fn {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: () => 'k' }) taxid!: Deterministic<string>;
  }
  rejects(t, [Fn], 'MODEL_DETERMINISTIC_PER_DOCUMENT_KEY', 'Fn.taxid');

  @Model({ db: 'e', collection: 'c', keyAltName: '/employeeNo' })
  class Inherited {
    @Field() employeeNo!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) taxid!: Deterministic<string>;
  }
  t.true(rejects(t, [Inherited], 'MODEL_DETERMINISTIC_PER_DOCUMENT_KEY', 'Inherited.taxid').includes('inherited from the model'));
});

test('_id cannot be encrypted', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class SecretId {
    @Id({ bsonType: 'string' }) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) _id!: Deterministic<string>;
  }
  rejects(t, [SecretId], 'MODEL_ID_ENCRYPTED', 'SecretId._id');
});

test('@Id must be on _id, since names are stored as written', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class WrongId {
    @Id() id!: ObjectId;
  }
  rejects(t, [WrongId], 'MODEL_ID_NAME', 'WrongId.id');
});

test('two classes cannot share a namespace', (t) => {
  @Model({ db: 'hr', collection: 'employees' })
  class A {
    @Field() a!: string;
  }
  @Model({ db: 'hr', collection: 'employees' })
  class B {
    @Field() b!: string;
  }
  const message = rejects(t, [A, B], 'MODEL_NAMESPACE_DUPLICATE', 'B');
  t.true(message.includes('hr.employees is already used by A'));
  t.throws(() => new MetadataRegistry([A]).register(B), { instanceOf: ModelDefinitionError, code: 'MODEL_NAMESPACE_DUPLICATE' });
});

test('an unknown bsonType is refused', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Unknown {
    @Field({ bsonType: 'varchar' as BsonType }) name!: string;
  }
  const message = rejects(t, [Unknown], 'MODEL_BSONTYPE_UNKNOWN', 'Unknown.name');
  t.true(message.includes('"varchar" is not a BSON type'));
});

test('a plain field whose type cannot be inferred needs a bsonType', (t) => {
  interface Shape { x: number }
  @Model({ db: 'e', collection: 'c' })
  class Vague {
    @Field() shape!: Shape;
  }
  rejects(t, [Vague], 'MODEL_BSONTYPE_MISSING', 'Vague.shape');
});

test('an array field needs its element type', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Tags {
    @Field() tags!: string[];
  }
  rejects(t, [Tags], 'MODEL_ARRAY_ITEMS', 'Tags.tags');
});

test('a bsonType contradicting the property type is refused', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Clash {
    @Field({ bsonType: 'int' }) name!: string;
  }
  rejects(t, [Clash], 'MODEL_BSONTYPE_CONFLICT', 'Clash.name');
});

test('bad keys: both alt name and id, an invalid id, an empty alt name', (t) => {
  @Model({ db: 'e', collection: 'a' })
  class Both {
    @Encrypted({ algorithm: 'Random', keyAltName: 'k', keyId: '5b4c7a90-1b2c-4d3e-8f40-516273849500' }) a!: Random<string>;
  }
  rejects(t, [Both], 'MODEL_KEY_AMBIGUOUS', 'Both.a');

  @Model({ db: 'e', collection: 'b' })
  class BadId {
    @Encrypted({ algorithm: 'Random', keyId: new Binary(Buffer.alloc(16), 0) }) a!: Random<string>;
  }
  t.true(rejects(t, [BadId], 'MODEL_KEY_ID_INVALID', 'BadId.a').includes('Binary subtype 0'));

  @Model({ db: 'e', collection: 'c' })
  class EmptyName {
    @Encrypted({ algorithm: 'Random', keyAltName: '' }) a!: Random<string>;
  }
  rejects(t, [EmptyName], 'MODEL_KEY_ALT_NAME_INVALID', 'EmptyName.a');

  @Model({ db: 'e', collection: 'd', keyId: 'not-a-uuid' })
  class BadDefault {
    @Encrypted({ algorithm: 'Random' }) a!: Random<string>;
  }
  rejects(t, [BadDefault], 'MODEL_KEY_ID_INVALID', 'BadDefault');
});

test('an unknown algorithm is refused', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Algo {
    @Encrypted({ algorithm: 'AES' as 'Random', keyAltName: 'k' }) a!: Random<string>;
  }
  rejects(t, [Algo], 'MODEL_ALGORITHM_UNKNOWN', 'Algo.a');
});

test('Random with several bsonTypes is refused (one type per field)', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Several {
    @Encrypted({ algorithm: 'Random', bsonType: ['string', 'int'], keyAltName: 'k' }) a!: Random<string | number>;
  }
  rejects(t, [Several], 'MODEL_BSONTYPE_MULTIPLE', 'Several.a');
});

test('a registered class needs its own @Model', (t) => {
  class Bare {
    @Field() a!: string;
  }
  rejects(t, [Bare], 'MODEL_NOT_DECORATED', 'Bare');
  @Model({ db: 'e', collection: 'parents' })
  class Parent {
    @Field() a!: string;
  }
  class Heir extends Parent {}
  t.true(rejects(t, [Heir], 'MODEL_NOT_DECORATED', 'Heir').includes('inherits @Model'));
});

test('database and collection names are checked', (t) => {
  @Model({ db: 'has.dot', collection: 'c' })
  class BadDb {}
  rejects(t, [BadDb], 'MODEL_NAMESPACE_INVALID', 'BadDb');
  @Model({ db: 'ok', collection: 'system.users' })
  class BadCollection {}
  rejects(t, [BadCollection], 'MODEL_NAMESPACE_INVALID', 'BadCollection');
});

test('contradicting or repeated decorators are refused', (t) => {
  class Inner {
    @Field() a!: string;
  }
  @Model({ db: 'e', collection: 'a' })
  class Both {
    @Field() @Embedded(() => Inner) inner!: Inner;
  }
  rejects(t, [Both], 'MODEL_DECORATOR_CONFLICT', 'Both.inner');
  @Model({ db: 'e', collection: 'b' })
  class Twice {
    @Field() @Field() name!: string;
  }
  rejects(t, [Twice], 'MODEL_DECORATOR_CONFLICT', 'Twice.name');
});

test('embedded classes must be classes, and cannot embed themselves', (t) => {
  @Model({ db: 'e', collection: 'a' })
  class Undefined {
    @Embedded(() => undefined as unknown as Function) inner!: object;
  }
  t.true(rejects(t, [Undefined], 'MODEL_EMBEDDED_TARGET', 'Undefined.inner').includes('circular import'));

  class TreeNode {
    @Field() label!: string;
    @EmbeddedArray(() => TreeNode) children!: TreeNode[];
  }
  @Model({ db: 'e', collection: 'b' })
  class Tree {
    @Embedded(() => TreeNode) root!: TreeNode;
  }
  const message = rejects(t, [Tree], 'MODEL_EMBEDDED_CYCLE', 'TreeNode.children (in Tree.root.children)');
  t.true(message.includes('Tree → TreeNode → TreeNode'));
});

test('static properties are not fields', (t) => {
  @Model({ db: 'e', collection: 'c' })
  class Static {
    @Field() static label: string;
  }
  rejects(t, [Static], 'MODEL_PROPERTY_KEY', 'Static.label');
});

test('an inherited field names the class that declares it and the model', (t) => {
  class Base {
    @Encrypted({ algorithm: 'Random' }) secret!: Random<string>;
  }
  @Model({ db: 'e', collection: 'c' })
  class Derived extends Base {}
  rejects(t, [Derived], 'MODEL_KEY_MISSING', 'Base.secret (in Derived.secret)');
});

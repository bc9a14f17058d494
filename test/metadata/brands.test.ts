import test from 'ava';
import { Deterministic, Encrypted, EncryptionKind, Field, MetadataRegistry, Model, Random } from '../../src/metadata';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Assert<T extends true> = T;

export type BrandChecks = [
  Assert<Equal<EncryptionKind<Deterministic<string>>, 'Deterministic'>>,
  Assert<Equal<EncryptionKind<Random<string>>, 'Random'>>,
  Assert<Equal<EncryptionKind<Random<{ a: number }> | undefined>, 'Random'>>,
  Assert<[EncryptionKind<string>] extends [never] ? true : false>,
  Assert<[EncryptionKind<{ a: string }>] extends [never] ? true : false>,
  Assert<[EncryptionKind<string | undefined>] extends [never] ? true : false>,
];

test('branded values read and assign as their plain type', (t) => {
  const value: Deterministic<string> = '6789';
  const plain: string = value;
  const random: Random<number> = 5;
  t.is(plain.length + random, 9);
});

test('@Encrypted accepts properties that carry the matching brand, quoted names included', (t) => {
  @Model({ db: 'brands', collection: 'ok' })
  class Ok {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) 'taxid-short'!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'k', optional: true }) taxid?: Random<string>;
  }
  const fields = new MetadataRegistry([Ok]).get(Ok).fields;
  t.is(fields.get('taxid-short')?.encrypted?.algorithm, 'Deterministic');
  t.is(fields.get('taxid')?.encrypted?.algorithm, 'Random');
  t.true(fields.get('taxid')?.optional);
});

test('@Encrypted on a property without the matching brand does not compile', (t) => {
  class Wrong {
    // @ts-expect-error Deterministic on a Random property
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'k' }) a!: Random<string>;
    // @ts-expect-error Random on a Deterministic property
    @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) b!: Deterministic<string>;
    // @ts-expect-error an unbranded property would let query types allow what the server cannot do
    @Encrypted({ algorithm: 'Random', keyAltName: 'k' }) c!: string;
    @Field() d!: string;
  }
  t.truthy(Wrong);
});

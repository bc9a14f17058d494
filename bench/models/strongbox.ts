import { Binary, ObjectId, type Document } from 'mongodb';
import { Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, Random } from '../../src';
import type { Datasets } from '../datasets';
import { COLLECTION_OF, DETERMINISTIC_PATH, KEY_ALT_NAME, type DocKind } from './plan';

/*
 * The Strongbox models of the benchmark documents, written as an application would: decorated
 * classes for the small flat and the nested document. The large flat document has 250 generic
 * fields, so its classes are generated from the JSON (the same decorators, applied in a loop).
 */
export const STRONGBOX_DB = 'odm_strongbox';
export const STRONGBOX_ENCRYPTED_DB = 'odm_strongbox_enc';

@Model({ db: STRONGBOX_DB, collection: COLLECTION_OF.small })
export class SmallFlat {
  @Id() _id!: ObjectId;
  @Field() field1!: string;
  @Field() field2!: string;
  @Field() field3!: string;
  @Field() field4!: string;
  @Field() field5!: string;
  @Field() field6!: string;
  @Field() field7!: string;
  @Field({ bsonType: 'int' }) field8!: number;
  @Field({ bsonType: 'int' }) field9!: number;
  @Field({ bsonType: 'int' }) field10!: number;
  @Field({ bsonType: 'int' }) field11!: number;
  @Field({ bsonType: 'int' }) field12!: number;
  @Field({ bsonType: 'int' }) field13!: number;
}

@Model({ db: STRONGBOX_ENCRYPTED_DB, collection: COLLECTION_OF.encSmall, keyAltName: KEY_ALT_NAME })
export class EncryptedSmallFlat {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) field1!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field2!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field3!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field4!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field5!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field6!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) field7!: Random<string>;
  @Field({ bsonType: 'int' }) field8!: number;
  @Field({ bsonType: 'int' }) field9!: number;
  @Field({ bsonType: 'int' }) field10!: number;
  @Field({ bsonType: 'int' }) field11!: number;
  @Field({ bsonType: 'int' }) field12!: number;
  @Field({ bsonType: 'int' }) field13!: number;
}

export class StringEmbedded {
  @Field() unique_id!: ObjectId;
  @Field() field1!: string;
  @Field() field2!: string;
  @Field() field3!: string;
  @Field() field4!: string;
  @Field() field5!: string;
  @Field() field6!: string;
  @Field() field7!: string;
  @Field() field8!: string;
  @Field() field9!: string;
  @Field() field10!: string;
  @Field() field11!: string;
  @Field() field12!: string;
  @Field() field13!: string;
  @Field() field14!: string;
  @Field() field15!: string;
}

/** embedded_str_doc_1 of the encrypted nested model: its unique_id is Deterministic, so it can still be found. */
export class EncryptedStringEmbedded extends StringEmbedded {
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'objectId' }) declare unique_id: Deterministic<ObjectId>;
}

export class IntegerEmbedded {
  @Field() unique_id!: ObjectId;
  @Field({ bsonType: 'int' }) field1!: number;
  @Field({ bsonType: 'int' }) field2!: number;
  @Field({ bsonType: 'int' }) field3!: number;
  @Field({ bsonType: 'int' }) field4!: number;
  @Field({ bsonType: 'int' }) field5!: number;
  @Field({ bsonType: 'int' }) field6!: number;
  @Field({ bsonType: 'int' }) field7!: number;
  @Field({ bsonType: 'int' }) field8!: number;
  @Field({ bsonType: 'int' }) field9!: number;
  @Field({ bsonType: 'int' }) field10!: number;
  @Field({ bsonType: 'int' }) field11!: number;
  @Field({ bsonType: 'int' }) field12!: number;
  @Field({ bsonType: 'int' }) field13!: number;
  @Field({ bsonType: 'int' }) field14!: number;
  @Field({ bsonType: 'int' }) field15!: number;
}

/** The fields of LARGE_DOC_NESTED except embedded_str_doc_1, which differs between the plain and the encrypted model. */
abstract class NestedBase {
  @Id() _id!: ObjectId;
  @Embedded(() => StringEmbedded) embedded_str_doc_2!: StringEmbedded;
  @Embedded(() => StringEmbedded) embedded_str_doc_3!: StringEmbedded;
  @Embedded(() => StringEmbedded) embedded_str_doc_4!: StringEmbedded;
  @Embedded(() => StringEmbedded) embedded_str_doc_5!: StringEmbedded;
  @EmbeddedArray(() => StringEmbedded) embedded_str_doc_array!: StringEmbedded[];
  @Embedded(() => IntegerEmbedded) embedded_int_doc_8!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_9!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_10!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_11!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_12!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_13!: IntegerEmbedded;
  @Embedded(() => IntegerEmbedded) embedded_int_doc_14!: IntegerEmbedded;
}

@Model({ db: STRONGBOX_DB, collection: COLLECTION_OF.nested })
export class LargeNested extends NestedBase {
  @Embedded(() => StringEmbedded) embedded_str_doc_1!: StringEmbedded;
}

@Model({ db: STRONGBOX_ENCRYPTED_DB, collection: COLLECTION_OF.encNested, keyAltName: KEY_ALT_NAME })
export class EncryptedLargeNested extends NestedBase {
  @Embedded(() => EncryptedStringEmbedded) embedded_str_doc_1!: EncryptedStringEmbedded;
}

/** The large flat model from its JSON: strings, ints and the binary image_field; in the encrypted variant every string encrypted. */
function largeFlatModel(source: Document, encrypted: boolean): Function {
  const LargeFlat = class LargeFlat {};
  const proto = LargeFlat.prototype;
  Id()(proto, '_id');
  for (const [name, value] of Object.entries(source)) {
    if (typeof value === 'string' && encrypted) {
      Encrypted({ algorithm: name === DETERMINISTIC_PATH.encLarge ? 'Deterministic' : 'Random', bsonType: 'string' })(proto as never, name);
    } else {
      Field({ bsonType: typeof value === 'string' ? 'string' : typeof value === 'number' ? 'int' : value instanceof Binary ? 'binData' : 'object' })(proto, name);
    }
  }
  Model(encrypted
    ? { db: STRONGBOX_ENCRYPTED_DB, collection: COLLECTION_OF.encLarge, keyAltName: KEY_ALT_NAME }
    : { db: STRONGBOX_DB, collection: COLLECTION_OF.large })(LargeFlat);
  return LargeFlat;
}

export function strongboxModels(datasets: Datasets): Record<DocKind, Function> {
  return {
    small: SmallFlat,
    large: largeFlatModel(datasets.large.doc, false),
    nested: LargeNested,
    encSmall: EncryptedSmallFlat,
    encLarge: largeFlatModel(datasets.large.doc, true),
    encNested: EncryptedLargeNested,
  };
}

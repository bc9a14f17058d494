/*
 * Models for the migration tests, one set per database so test files can run in parallel.
 * Every shape a backfill must handle: a top-level field, a nested one, one inside an array of
 * embedded documents, a whole embedded document, a double, and a per-document key.
 */
import type { Int32, ObjectId } from 'mongodb';
import { Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, Random } from '../../src/metadata';

export function plainModels(db: string) {
  class Address {
    @Field() street!: string;
    @Field({ bsonType: 'int' }) zip!: number;
  }
  class Contact {
    @Field() label!: string;
    @Field() email!: string;
  }
  class Medical {
    @Field() blood!: string;
    @Field({ bsonType: 'double' }) weight!: number;
  }
  @Model({ db, collection: 'patients' })
  class Patient {
    @Id() _id!: ObjectId | string | Int32;
    @Field() name!: string;
    @Field() tenant!: string;
    @Field() ssn!: string;
    @Field() phone!: string;
    @Field({ bsonType: 'double' }) score!: number;
    @Embedded(() => Address) address!: Address;
    @EmbeddedArray(() => Contact) contacts!: Contact[];
    @Embedded(() => Medical) medical!: Medical;
    @Field() notes!: string;
  }
  return { Patient, Address, Contact, Medical };
}

export function encryptedModels(db: string) {
  class Address {
    @Field() street!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', keyAltName: 'mig-a' }) zip!: Deterministic<number>;
  }
  class Contact {
    @Field() label!: string;
    @Encrypted({ algorithm: 'Random', keyAltName: 'mig-b' }) email!: Random<string>;
  }
  class Medical {
    @Field() blood!: string;
    @Field({ bsonType: 'double' }) weight!: number;
  }
  @Model({ db, collection: 'patients', keyAltName: 'mig-a' })
  class Patient {
    @Id() _id!: ObjectId | string | Int32;
    @Field() name!: string;
    @Field() tenant!: string;
    @Encrypted({ algorithm: 'Random' }) ssn!: Random<string>;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'double' }) score!: Random<number>;
    @Embedded(() => Address) address!: Address;
    @EmbeddedArray(() => Contact) contacts!: Contact[];
    @Encrypted({ algorithm: 'Random' }) @Embedded(() => Medical) medical!: Random<Medical>;
    @Encrypted({ algorithm: 'Random', keyAltName: '/tenant' }) notes!: Random<string>;
  }
  return { Patient };
}

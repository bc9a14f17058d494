/* Models behind the golden tests, one per shape of model the generators must handle. */
import { ObjectId, UUID } from 'mongodb';
import {
  ArrayField, CompoundIndex, Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Index, Model, Random,
} from '../../src/metadata';

export const KEY_SSN = new UUID('0b7a8e2c-3d4f-4a5b-8c6d-7e8f9a0b1c2d');
export const KEY_PHONE = new UUID('1c8b9f3d-4e5a-4b6c-9d7e-8f9a0b1c2d3e');
export const KEY_HR = new UUID('2d9cae4e-5f6b-4c7d-ae8f-9a0b1c2d3e4f');
export const KEY_BANK = new UUID('3eadbf5f-6a7c-4d8e-bf9a-0b1c2d3e4f5a');

/** Alt name → data key id, as a key vault lookup would return them. */
export const resolver = new Map([
  ['golden-phone', KEY_PHONE],
  ['hr', KEY_HR],
  ['bank', KEY_BANK],
]);

@Model({ db: 'golden', collection: 'flat' })
export class Flat {
  @Id() _id!: ObjectId;
  @Index() @Field() name!: string;
  @Field() createdAt!: Date;
  @Encrypted({ algorithm: 'Random', keyId: KEY_SSN.toHexString() }) ssn!: Random<string>;
  @Index({ unique: true })
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'golden-phone' })
  phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', keyAltName: 'golden-phone' }) pin!: Deterministic<number>;
}

export class Address {
  @Field() street!: string;
  @Index() @Encrypted({ algorithm: 'Deterministic', bsonType: 'int', keyAltName: 'hr' }) zip!: Deterministic<number>;
}

export class Preferences {
  @Field() language!: string;
}

@Model({ db: 'golden', collection: 'nested' })
@CompoundIndex({ name: 1, 'address.zip': -1 })
export class Nested {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Embedded(() => Address) address!: Address;
  @Embedded(() => Preferences, { optional: true }) preferences?: Preferences;
}

export class Contact {
  @Field() label!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'hr' }) phone!: Deterministic<string>;
}

@Model({ db: 'golden', collection: 'contacts' })
export class WithContacts {
  @Id() _id!: ObjectId;
  @EmbeddedArray(() => Contact) contacts!: Contact[];
  @ArrayField({ of: 'string' }) tags!: string[];
}

/* The CSFLE manual's whole-object example: { personal_information: { ssn, credit_score, credit_cards }, phone_numbers }. */
export class PersonalInformation {
  @Field() ssn!: string;
  @Field({ bsonType: 'int' }) credit_score!: number;
  @ArrayField({ of: 'string' }) credit_cards!: string[];
}

@Model({ db: 'golden', collection: 'whole' })
export class WholeObject {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', keyAltName: 'hr' })
  @Embedded(() => PersonalInformation)
  personal_information!: Random<PersonalInformation>;
  @ArrayField({ of: 'string' })
  @Encrypted({ algorithm: 'Random', keyAltName: 'hr' })
  phone_numbers!: Random<string[]>;
}

/* Base class without @Model: its fields and indexes are inherited. */
@CompoundIndex({ owner: 1, iban: 1 })
export class Account {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) iban!: Deterministic<string>;
}

@Model({ db: 'golden', collection: 'savings' })
export class SavingsAccount extends Account {
  @Field({ bsonType: 'int' }) termMonths!: number;
  @Encrypted({ algorithm: 'Random', keyAltName: 'bank' }) notes!: Random<string>;
}

/* One key per employee: the key alt name is the value of employeeNo. Other fields use the model's key. */
@Model({ db: 'golden', collection: 'per_document', keyAltName: 'hr' })
export class PerDocumentKey {
  @Id() _id!: ObjectId;
  @Field() employeeNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) taxid!: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) taxidShort!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random' }) salary!: Random<number>;
}

/* A key chosen by code: explicit encryption only. */
@Model({ db: 'golden', collection: 'function_key' })
export class FunctionKey {
  @Id() _id!: ObjectId;
  @Field() tenant!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: (doc: { tenant: string }) => `tenant-${doc.tenant}` }) secret!: Random<string>;
}

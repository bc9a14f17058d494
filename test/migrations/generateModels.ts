/*
 * Before/after model pairs, one per kind of change `migration create` must turn into steps.
 * All live in golden.accounts; each pair is diffed on its own.
 */
import type { ObjectId } from 'mongodb';
import { CompoundIndex, Deterministic, Embedded, Encrypted, Field, Id, Index, Model, Random } from '../../src/metadata';

class Address {
  @Field() street!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) zip!: Deterministic<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
@CompoundIndex({ owner: 1, createdAt: -1 })
export class NewAccount {
  @Id() _id!: ObjectId;
  @Index() @Field() owner!: string;
  @Field() createdAt!: Date;
  @Index({ unique: true }) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) iban!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', keyAltName: 'bank' }) notes!: Random<string>;
  @Embedded(() => Address) address!: Address;
}

@Model({ db: 'golden', collection: 'accounts' })
export class IndexesBefore {
  @Id() _id!: ObjectId;
  @Index() @Field() owner!: string;
  @Index({ name: 'by_created' }) @Field() createdAt!: Date;
}

@Model({ db: 'golden', collection: 'accounts' })
export class IndexesAfter {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Index({ name: 'by_created', expireAfterSeconds: 86400 }) @Field() createdAt!: Date;
  @Index({ unique: true, sparse: true }) @Field() email!: string;
}

@Model({ db: 'golden', collection: 'accounts' })
export class PlainPhone {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Field() phone!: string;
}

@Model({ db: 'golden', collection: 'accounts' })
export class EncryptedPhone {
  @Id() _id!: ObjectId;
  @Field() owner!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) phone!: Deterministic<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class RandomNotes {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) iban!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'bank' }) notes!: Random<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class DeterministicNotes {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) iban!: Deterministic<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) notes!: Deterministic<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class IbanUnderNewKey {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank-2025' }) iban!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'bank' }) notes!: Random<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class PlainNotes {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'bank' }) iban!: Deterministic<string>;
  @Field() notes!: string;
}

@Model({ db: 'golden', collection: 'accounts' })
export class ScoreAsInt {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', bsonType: 'int', keyAltName: 'bank' }) score!: Random<number>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class ScoreAsLong {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', bsonType: 'long', keyAltName: 'bank' }) score!: Random<number>;
}

class Medical {
  @Field() blood!: string;
  @Field() diagnosis!: string;
}

class MedicalFields {
  @Field() blood!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'bank' }) diagnosis!: Random<string>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class MedicalWhole {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', keyAltName: 'bank' }) @Embedded(() => Medical) medical!: Random<Medical>;
}

@Model({ db: 'golden', collection: 'accounts' })
export class MedicalByField {
  @Id() _id!: ObjectId;
  @Embedded(() => MedicalFields) medical!: MedicalFields;
}

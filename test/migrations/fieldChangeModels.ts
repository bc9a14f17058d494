/*
 * Before/after model pairs for field-level changes: renames (declared with @RenamedFrom), removals,
 * conversions. All live in golden.people; each pair is diffed on its own.
 */
import type { ObjectId } from 'mongodb';
import { ArrayField, Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Index, Model, Random, RenamedFrom } from '../../src/metadata';

class AddressBefore {
  @Field() street!: string;
  @Field() zip!: string;
}
class AddressAfter {
  @Field() street!: string;
  @RenamedFrom('zip') @Field() postcode!: string;
}
class ContactBefore {
  @Field() label!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'people' }) pin!: Random<string>;
}
class ContactAfter {
  @Field() label!: string;
  @RenamedFrom('pin') @Encrypted({ algorithm: 'Random', keyAltName: 'people' }) code!: Random<string>;
}

@Model({ db: 'golden', collection: 'people' })
export class RenameBefore {
  @Id() _id!: ObjectId;
  @Index() @Field() fullName!: string;
  @Field() employeeNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) salary!: Random<number>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'people' }) ssn!: Deterministic<string>;
  @Embedded(() => AddressBefore) address!: AddressBefore;
  @EmbeddedArray(() => ContactBefore) contacts!: ContactBefore[];
}

@Model({ db: 'golden', collection: 'people' })
export class RenameAfter {
  @Id() _id!: ObjectId;
  @Index() @RenamedFrom('fullName') @Field() name!: string;
  @RenamedFrom('employeeNo') @Field() staffNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/staffNo' }) salary!: Random<number>;
  @RenamedFrom('ssn') @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'people' }) taxId!: Deterministic<string>;
  @Embedded(() => AddressAfter) address!: AddressAfter;
  @EmbeddedArray(() => ContactAfter) contacts!: ContactAfter[];
}

/** The same change without @RenamedFrom: read as removals and additions, with possible renames noted. */
@Model({ db: 'golden', collection: 'people' })
export class RenameUndeclared {
  @Id() _id!: ObjectId;
  @Index() @Field() name!: string;
  @Field() employeeNo!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: '/employeeNo' }) salary!: Random<number>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'people' }) taxId!: Deterministic<string>;
  @Embedded(() => AddressBefore) address!: AddressBefore;
  @EmbeddedArray(() => ContactBefore) contacts!: ContactBefore[];
}

@Model({ db: 'golden', collection: 'people' })
export class DefaultsBefore {
  @Id() _id!: ObjectId;
  @Field() name!: string;
}

@Model({ db: 'golden', collection: 'people' })
export class DefaultsAfter {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field() status!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'people' }) tier!: Random<string>;
  @Field({ optional: true }) nickname?: string;
}

@Model({ db: 'golden', collection: 'people' })
export class TypesBefore {
  @Id() _id!: ObjectId;
  @Field() zip!: string;
  @Field() born!: string;
  @Field() visits!: number;
  @Field({ bsonType: 'double' }) balance!: number;
  @Field() tag!: string;
  @Field() active!: boolean;
  @Encrypted({ algorithm: 'Random', bsonType: 'int', keyAltName: 'people' }) code!: Random<number>;
}

@Model({ db: 'golden', collection: 'people' })
export class TypesAfter {
  @Id() _id!: ObjectId;
  @Field() zip!: number;
  @Field() born!: Date;
  @Field({ bsonType: 'long' }) visits!: number;
  @Field({ bsonType: 'decimal' }) balance!: unknown;
  @ArrayField({ of: 'string' }) tag!: string[];
  @Field() active!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: 'people' }) code!: Random<string>;
}

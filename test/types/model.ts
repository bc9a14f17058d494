/*
 * Models for the type tests. These files are checked by tsc as part of the build; a
 * `// @ts-expect-error` that no longer sees an error fails it, so every refusal below is
 * proven, and every unmarked line proves that form compiles. The query types read declared
 * property types only; the decorators are there for the run time: the conformance test
 * (test/repository/typeConformance.test.ts) replays every example through a repository of this
 * very model, so the compile-time and run-time rules are checked against one definition.
 */
import type { ObjectId } from 'mongodb';
import type { Deterministic, Random } from '../../src/metadata/brands';
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, Model } from '../../src/metadata';

export class Address {
  @Field() street!: string;
  @Field() city!: string;
  @Field() zip!: string;
}

export class Contact {
  @Field() kind!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
}

/** Only Deterministic inside: whole-value equality can still be encrypted and compared. */
export class Badge {
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) code!: Deterministic<string>;
  @Field() label!: string;
}

export class MedicalRecord {
  @Field() blood!: string;
  @ArrayField({ of: 'string' }) allergies!: string[];
  describe(): string {
    return this.blood;
  }
}

@Model({ db: 'sb_type_conformance', collection: 'people', keyAltName: 'type-conformance' })
export class Person {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field({ optional: true }) nickname?: string;
  @Field({ optional: true }) formerName?: string;
  @Field() age!: number;
  @Embedded(() => Address) address!: Address;
  @EmbeddedArray(() => Contact) contacts!: Contact[];
  @Embedded(() => Badge) badge!: Badge;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) tier!: Deterministic<'gold' | 'silver'>;
  @Encrypted({ algorithm: 'Random', bsonType: 'double' }) salary!: Random<number>;
  @ArrayField({ of: 'string' }) tags!: string[];
  @ArrayField({ of: 'double' }) scores!: number[];
  @Encrypted({ algorithm: 'Random' }) @Embedded(() => MedicalRecord) medical!: Random<MedicalRecord>;
  @Field() createdAt!: Date;
  @Field({ optional: true, bsonType: 'date' }) deletedAt?: Date | null;
  greet(): string {
    return `Hello ${this.name}`;
  }
}

/** True when A and B are the same type (not merely mutually assignable). */
export type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
export function expectType<T extends true>(): T | undefined {
  return undefined;
}

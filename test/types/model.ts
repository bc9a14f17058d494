/*
 * Models for the type tests. Plain classes: the query types read declared property types
 * only, so no decorators are needed. These files are checked by tsc as part of the build;
 * a `// @ts-expect-error` that no longer sees an error fails it, so every refusal below is
 * proven, and every unmarked line proves that form compiles.
 */
import type { ObjectId } from 'mongodb';
import type { Deterministic, Random } from '../../src/metadata/brands';

export class Address {
  street!: string;
  city!: string;
  zip!: string;
}

export class Contact {
  kind!: string;
  phone!: Deterministic<string>;
  note!: Random<string>;
}

/** Only Deterministic inside: whole-value equality can still be encrypted and compared. */
export class Badge {
  code!: Deterministic<string>;
  label!: string;
}

export class MedicalRecord {
  blood!: string;
  allergies!: string[];
  describe(): string {
    return this.blood;
  }
}

export class Person {
  _id!: ObjectId;
  name!: string;
  nickname?: string;
  formerName?: string;
  age!: number;
  address!: Address;
  contacts!: Contact[];
  badge!: Badge;
  ssn!: Random<string>;
  phone!: Deterministic<string>;
  tier!: Deterministic<'gold' | 'silver'>;
  salary!: Random<number>;
  tags!: string[];
  scores!: number[];
  medical!: Random<MedicalRecord>;
  createdAt!: Date;
  deletedAt?: Date | null;
  greet(): string {
    return `Hello ${this.name}`;
  }
}

/** True when A and B are the same type (not merely mutually assignable). */
export type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
export function expectType<T extends true>(): T | undefined {
  return undefined;
}

/*
 * The John Doe record of the MongoDB manual's client-side field level encryption page: { name, address: { street, city, zip }, phone, ssn }. phone is
 * Deterministic so it can be looked up; ssn is Random. Both use the model's default key.
 */
import { ObjectId } from 'mongodb';
import { Deterministic, Embedded, Encrypted, Field, Id, Model, Random } from '../../src/metadata';

export const PERSON_KEY_ALT_NAME = 'people';

export class Address {
  @Field() street!: string;
  @Field() city!: string;
  @Field({ bsonType: 'int' }) zip!: number;
}

@Model({ db: 'app', collection: 'people', keyAltName: PERSON_KEY_ALT_NAME })
export class Person {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Embedded(() => Address) address!: Address;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random' }) ssn!: Random<string>;
}

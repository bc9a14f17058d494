/*
 * The same model after the change: email becomes Deterministic (still findable by equality,
 * and its unique index keeps working on the ciphertext), ssn becomes Random.
 */
import type { ObjectId } from 'mongodb';
import { Encrypted, Field, Id, Index, Model, type Deterministic, type Random } from '../../../src';

@Model({ db: 'example_shop', collection: 'customers', keyAltName: 'customers' })
export class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Index({ unique: true }) @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) email!: Deterministic<string>;
  @Encrypted({ algorithm: 'Random' }) ssn!: Random<string>;
}

/*
 * A customer whose full name (encrypted) is being split into a given name (encrypted) and a
 * family name (plain, so it can be indexed and sorted).
 */
import type { ObjectId } from 'mongodb';
import { Encrypted, Field, Id, Index, Model, type Random } from '../../src';

@Model({ db: 'example_code_step', collection: 'customers', keyAltName: 'customers' })
export class Customer {
  @Id() _id!: ObjectId;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) fullName!: Random<string>;
  @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) givenName?: Random<string>;
  @Index() @Field({ optional: true }) familyName?: string;
}

/**
 * Embedded documents the tests of what updates create share (test/security/creation.test.ts,
 * adversary43.test.ts): an address with two required fields and an optional one.
 */
import { Field } from '../../src/index';

export class Address {
  @Field({ bsonType: 'string' }) city!: string;
  @Field({ bsonType: 'string' }) zip!: string;
  @Field({ bsonType: 'string', optional: true }) note?: string;
}

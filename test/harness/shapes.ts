/**
 * Models the tests of what updates create share (test/security/creation.test.ts,
 * adversary43–45.test.ts): an address with two required fields and an optional one, and orders
 * whose rows (an embedded array) hold an embedded address, a typed array and an embedded array.
 */
import type { ObjectId } from 'mongodb';
import { ArrayField, Embedded, EmbeddedArray, Field, Id, Model } from '../../src/index';

export class Address {
  @Field({ bsonType: 'string' }) city!: string;
  @Field({ bsonType: 'string' }) zip!: string;
  @Field({ bsonType: 'string', optional: true }) note?: string;
}

export class Row {
  @Field({ bsonType: 'string' }) label!: string;
  @Embedded(() => Address, { optional: true }) spot?: Address;
  @ArrayField({ of: 'string', optional: true }) tags?: string[];
  @EmbeddedArray(() => Address, { optional: true }) spots?: Address[];
}

/** An Order model in `db` (collection `orders`), its values under `keyAltName`. */
export function defineOrders(db: string, keyAltName: string) {
  @Model({ db, collection: 'orders', keyAltName })
  class Order {
    @Id() _id!: ObjectId;
    @Field({ bsonType: 'string' }) name!: string;
    @EmbeddedArray(() => Row, { optional: true }) rows?: Row[];
    @Embedded(() => Address, { optional: true }) spot?: Address;
  }
  return Order;
}

/** The base of a collection with variants in `db` (collection `parties`, discriminator `kind`): the variants are each test's own. */
export function defineParty(db: string, keyAltName: string) {
  @Model({ db, collection: 'parties', keyAltName, discriminator: 'kind' })
  class Party {
    @Id() _id!: ObjectId;
    @Field({ bsonType: 'string' }) kind!: string;
    @Field({ bsonType: 'string' }) displayName!: string;
  }
  return Party;
}

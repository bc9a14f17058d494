import { ObjectId } from 'mongodb';
import { ArrayField, Deterministic, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, Random, Variant } from '../../src/metadata';

/** Models shared by the repository tests, stored in a database of the caller's choosing. */
export function defineModels(db: string) {
  class Address {
    @Field() street!: string;
    @Field() city!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'pii' }) zip!: Deterministic<string>;
  }
  class Contact {
    @Field() kind!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: 'pii' }) phone!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', keyAltName: 'pii' }) note!: Random<string>;
  }
  class Medical {
    @Field() bloodType!: string;
    @ArrayField({ of: 'string' }) allergies!: string[];
  }
  @Model({ db, collection: 'patients', keyAltName: 'pii' })
  class Patient {
    @Id() _id!: ObjectId;
    @Field() name!: string;
    @Field({ bsonType: 'int' }) age!: number;
    @Embedded(() => Address) address!: Address;
    @EmbeddedArray(() => Contact) contacts!: Contact[];
    @ArrayField({ of: 'string' }) tags!: string[];
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
    // Optional: the update tests remove it with $unset.
    @Encrypted({ algorithm: 'Random', bsonType: 'string', optional: true }) ssn!: Random<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'int' }) score!: Random<number>;
    @Encrypted({ algorithm: 'Random' }) @Embedded(() => Medical) medical!: Random<Medical>;
  }
  /** One data key per customer: crypto-shredding one customer leaves everyone else readable. */
  @Model({ db, collection: 'customers' })
  class Customer {
    @Id() _id!: ObjectId;
    @Field() customerId!: string;
    @Field() name!: string;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/customerId' }) ssn!: Random<string>;
  }
  return { Address, Contact, Medical, Patient, Customer };
}

/** One collection, two variants with different encrypted fields (single-collection inheritance). */
export function defineFleet(db: string) {
  @Model({ db, collection: 'vehicles', keyAltName: 'fleet', discriminator: 'kind' })
  class Vehicle {
    @Id() _id!: ObjectId;
    @Field() kind!: string;
    @Field() name!: string;
  }

  @Variant('car')
  class Car extends Vehicle {
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) vin!: Deterministic<string>;
  }

  @Variant('truck')
  class Truck extends Vehicle {
    @Encrypted({ algorithm: 'Random', bsonType: 'int' }) payload!: Random<number>;
    @Field({ optional: true }) axles?: number;
  }
  return { Vehicle, Car, Truck };
}

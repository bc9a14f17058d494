/**
 * The model the fail-closed tests attack: one field of every kind the query policy must know —
 * plain, Deterministic string and int, Random, Random under a per-document key, an embedded
 * document holding an encrypted field, an array of embedded documents holding encrypted fields,
 * and a whole object encrypted Random.
 */
import { ObjectId } from 'mongodb';
import { ArrayField, Embedded, EmbeddedArray, Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/index';

export function defineFailClosedModel(db: string) {
  class Address {
    @Field() street!: string;
    @Field() city!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) zip!: Deterministic<string>;
  }
  class Contact {
    @Field() kind!: string;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string' }) note!: Random<string>;
  }
  class Medical {
    @Field() bloodType!: string;
    @ArrayField({ of: 'string' }) allergies!: string[];
  }
  @Model({ db, collection: 'accounts', keyAltName: 'failclosed' })
  class Account {
    @Id() _id!: ObjectId;
    @Field() name!: string;
    /** Names the data key of `vault`: one key per customer (crypto-shredding). */
    @Field() customerId!: string;
    @Field({ bsonType: 'int' }) age!: number;
    @ArrayField({ of: 'string' }) tags!: string[];
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
    @Encrypted({ algorithm: 'Deterministic', bsonType: 'int' }) pin!: Deterministic<number>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string' }) ssn!: Random<string>;
    @Encrypted({ algorithm: 'Random', bsonType: 'string', keyAltName: '/customerId' }) vault!: Random<string>;
    @Embedded(() => Address) address!: Address;
    @EmbeddedArray(() => Contact) contacts!: Contact[];
    @Encrypted({ algorithm: 'Random' }) @Embedded(() => Medical) medical!: Random<Medical>;
  }
  return { Account, Address, Contact, Medical };
}

/** What kind of secret each encrypted path of Account holds. */
export type SecretKind = 'string' | 'int' | 'address' | 'contact' | 'contacts' | 'medical';
export const ENCRYPTED_PATHS: ReadonlyArray<[string, SecretKind]> = [
  ['phone', 'string'], ['pin', 'int'], ['ssn', 'string'], ['vault', 'string'], ['address.zip', 'string'],
  ['contacts.phone', 'string'], ['contacts.note', 'string'], ['medical', 'medical'], ['medical.bloodType', 'string'],
  ['medical.allergies', 'string'],
];
/** Containers that hold encrypted fields: the whole value written or compared carries secrets. */
export const CONTAINER_PATHS: ReadonlyArray<[string, SecretKind]> = [['address', 'address'], ['contacts', 'contacts']];
export const PLAIN_PATHS = ['name', 'customerId', 'age', 'tags', 'address.street', 'address.city', 'contacts.kind'] as const;

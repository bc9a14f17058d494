/*
 * hr.employees from the MongoDB manual's client-side field level encryption pages: taxid is Random (never queried),
 * taxid-short Deterministic so it can be found by equality. With these alt names resolved to
 * the manual's data key ids, buildValidator reproduces the manual's $jsonSchema exactly.
 */
import { ObjectId } from 'mongodb';
import { Deterministic, Encrypted, Field, Id, Model, Random } from '../../src/metadata';

export const EMPLOYEE_KEY_ALT_NAMES = { taxid: 'hr-taxid', taxidShort: 'hr-taxid-short' } as const;

@Model({ db: 'hr', collection: 'employees' })
export class Employee {
  @Id() _id!: ObjectId;
  @Field() fname!: string;
  @Field() lname!: string;

  @Encrypted({ algorithm: 'Random', keyAltName: EMPLOYEE_KEY_ALT_NAMES.taxid })
  taxid!: Random<string>;

  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string', keyAltName: EMPLOYEE_KEY_ALT_NAMES.taxidShort })
  'taxid-short'!: Deterministic<string>;
}

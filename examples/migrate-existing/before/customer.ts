/* The model as the application had it: nothing encrypted. */
import type { ObjectId } from 'mongodb';
import { Field, Id, Index, Model } from '../../../src';

@Model({ db: 'example_shop', collection: 'customers' })
export class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Index({ unique: true }) @Field() email!: string;
  @Field() ssn!: string;
}

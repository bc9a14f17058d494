/*
 * The query types as the repository's methods take them: proof that the rules hold at the
 * public API, not only on the bare types.
 */
import type { Repository } from '../../src/repository/repository';
import type { Person } from './model';

export async function usage(people: Repository<Person>): Promise<void> {
  await people.findOne({ phone: '555-0100', 'address.city': 'Paris' });
  people.find({ age: { $gte: 18 } }, { sort: { age: -1 }, projection: { name: 1, ssn: 1 }, limit: 10 });
  await people.updateOne({ _id: (await people.findOne({ name: 'Ada' }))!._id }, { $set: { ssn: '123-45-6789' }, $inc: { age: 1 } });
  await people.count({ tags: 'vip' });

  // @ts-expect-error Random field in a filter
  await people.findOne({ ssn: '123-45-6789' });
  // @ts-expect-error Deterministic field with a range operator
  people.find({ phone: { $gt: '5' } });
  // @ts-expect-error sort by an encrypted field
  people.find({}, { sort: { phone: 1 } });
  // @ts-expect-error $inc on an encrypted field
  await people.updateMany({}, { $inc: { salary: 1 } });
  // @ts-expect-error $expr
  await people.deleteMany({ $expr: { $eq: ['$name', '$nickname'] } });
}

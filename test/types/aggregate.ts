import type { ObjectId } from 'mongodb';
import type { Repository } from '../../src/repository/repository';
import { expectType, type Equal, type Person } from './model';

export async function scratch(people: Repository<Person>): Promise<void> {
  const a = await people.aggregate([{ $match: { name: 'Ada' } }, { $project: { name: 1, p: '$phone' } }]).toArray();
  expectType<Equal<typeof a, { _id: ObjectId; name: string; p: string }[]>>();
  // @ts-expect-error sort on encrypted
  people.aggregate([{ $match: { name: 'Ada' } }, { $sort: { phone: 1 } }]);
  // @ts-expect-error unknown field
  people.aggregate([{ $match: { nmae: 'Ada' } }]);
  // @ts-expect-error Random
  people.aggregate([{ $match: { ssn: 'Ada' } }]);
  const g = await people.aggregate([{ $group: { _id: '$address.city', n: { $sum: 1 }, phones: { $push: '$phone' }, avg: { $avg: '$age' } } }]).toArray();
  expectType<Equal<typeof g, { _id: string; n: number; phones: string[]; avg: number | null }[]>>();
  // @ts-expect-error group by a Random field
  people.aggregate([{ $group: { _id: '$ssn' } }]);
  // @ts-expect-error sum of encrypted
  people.aggregate([{ $group: { _id: null, s: { $sum: '$salary' } } }]);
  const d = await people.aggregate([{ $project: { p: '$phone' } }, { $sort: { p: 1 } }] as import('mongodb').Document[]).toArray();
  expectType<Equal<typeof d, import('mongodb').Document[]>>();
  const e = await people.aggregate<{ x: number }>([{ $project: { p: '$phone' } }]).toArray();
  expectType<Equal<typeof e, { x: number }[]>>();
  // @ts-expect-error moved encrypted still refused later
  people.aggregate([{ $project: { p: '$phone' } }, { $sort: { p: 1 } }]);
}

/*
 * Reads with a projection are typed by it: fields that were not loaded are not typed as
 * present, and the model's methods (which may read them) are not offered.
 */
import type { ObjectId } from 'mongodb';
import type { Deterministic } from '../../src/metadata/brands';
import type { Repository } from '../../src/repository/repository';
import { expectType, type Equal, type Person } from './model';

export async function projectedReads(people: Repository<Person>, id: ObjectId): Promise<void> {
  const full = await people.findOne({ name: 'Ada' });
  expectType<Equal<typeof full, Person | null>>();
  full?.greet();

  const named = await people.findOne({ name: 'Ada' }, { projection: { name: 1 } });
  expectType<Equal<typeof named, { _id: ObjectId; name: string } | null>>();
  // @ts-expect-error not loaded
  named?.age;
  // @ts-expect-error methods may read fields that were not loaded
  named?.greet();

  // findById takes the model's _id type.
  // @ts-expect-error Person's _id is an ObjectId
  await people.findById('x');
  const noId = await people.findById(id, { projection: { name: 1, _id: 0 } });
  expectType<Equal<typeof noId, { name: string } | null>>();

  const cursor = people.find({}, { projection: { 'address.city': 1, phone: 1 } });
  for await (const p of cursor) {
    expectType<Equal<typeof p, { _id: ObjectId; address: { city: string }; phone: Deterministic<string> }>>();
    // @ts-expect-error only city was loaded
    p.address.street;
  }

  const withoutSecrets = await people.find({}, { projection: { ssn: 0, salary: 0, medical: 0 } }).toArray();
  withoutSecrets[0].name;
  // @ts-expect-error excluded
  withoutSecrets[0].ssn;

  const updated = await people.findOneAndUpdate({ name: 'Ada' }, { $set: { age: 37 } }, { projection: { age: 1 } });
  expectType<Equal<typeof updated, { _id: ObjectId; age: number } | null>>();
  const replaced = await people.findOneAndReplace({ name: 'Ada' }, {} as never, { projection: { name: 1 } });
  expectType<Equal<typeof replaced, { _id: ObjectId; name: string } | null>>();
  const deleted = await people.findOneAndDelete({ name: 'Ada' }, { projection: { tags: 1, _id: 0 } });
  expectType<Equal<typeof deleted, { tags: string[] } | null>>();
  const whole = await people.findOneAndDelete({ name: 'Ada' });
  expectType<Equal<typeof whole, Person | null>>();

  // @ts-expect-error unknown field in a projection
  people.find({}, { projection: { nmae: 1 } });
}

import type { Page, Repository } from '../../src/repository/repository';
import { expectType, type Equal, type Person } from './model';

export async function paginationTypes(people: Repository<Person>): Promise<void> {
  const page = await people.paginate({ age: { $gte: 18 } }, { sort: { age: -1, name: 1 }, limit: 20 });
  expectType<Equal<typeof page, Page<Person>>>();
  expectType<Equal<typeof page.items, Person[]>>();
  expectType<Equal<typeof page.next, string | null>>();
  if (page.next) await people.paginate({}, { sort: { age: -1, name: 1 }, limit: 20, after: page.next });
  await people.paginate({}, { sort: { 'address.city': 1 }, limit: 5 });
  // @ts-expect-error encrypted fields cannot be sorted on
  await people.paginate({}, { sort: { phone: 1 }, limit: 5 });
  // @ts-expect-error optional fields would let documents fall between pages
  await people.paginate({}, { sort: { nickname: 1 }, limit: 5 });
  // @ts-expect-error arrays are multi-valued
  await people.paginate({}, { sort: { tags: 1 }, limit: 5 });
  // @ts-expect-error limit is required
  await people.paginate({}, { sort: { age: 1 } });
  // @ts-expect-error Random field in the filter
  await people.paginate({ ssn: 'x' }, { limit: 5 });
  const projected = await people.paginate({}, { sort: { age: -1 }, limit: 5, projection: { age: 1, phone: 1 } });
  expectType<Equal<(typeof projected.items)[number]['phone'], Person['phone']>>();
  // @ts-expect-error name was not loaded
  void projected.items[0].name;
  const withoutSecrets = await people.paginate({}, { limit: 5, projection: { ssn: 0, salary: 0 } });
  void withoutSecrets.items[0].name;
  // @ts-expect-error ssn was excluded
  void withoutSecrets.items[0].ssn;
  // @ts-expect-error unknown field in the projection
  await people.paginate({}, { limit: 5, projection: { nmae: 1 } });
}

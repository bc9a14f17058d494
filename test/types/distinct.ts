import type { ObjectId } from 'mongodb';
import type { Repository } from '../../src/repository/repository';
import { expectType, type Equal, type Person } from './model';

export async function distinctTypes(people: Repository<Person>): Promise<void> {
  expectType<Equal<Awaited<ReturnType<typeof people.distinct<'phone'>>>, string[]>>();
  const tiers = await people.distinct('tier', { age: { $gt: 3 } });
  expectType<Equal<typeof tiers, ('gold' | 'silver')[]>>();
  expectType<Equal<typeof tiers, ('gold' | 'silver')[]>>();
  const tags = await people.distinct('tags');
  expectType<Equal<typeof tags, string[]>>();
  const ids = await people.distinct('_id');
  expectType<Equal<typeof ids, ObjectId[]>>();
  const kinds = await people.distinct('contacts.kind');
  expectType<Equal<typeof kinds, string[]>>();
  const nick = await people.distinct('nickname');
  expectType<Equal<typeof nick, string[]>>();
  const codes = await people.distinct('badge.code');
  expectType<Equal<typeof codes, string[]>>();
  // @ts-expect-error Random: one ciphertext per document
  await people.distinct('ssn');
  // @ts-expect-error a document holding encrypted fields
  await people.distinct('badge');
  // @ts-expect-error Random inside array elements
  await people.distinct('contacts.note');
  // @ts-expect-error unknown path
  await people.distinct('nmae');
  const count: number = await people.estimatedCount();
  void count;
}

import type { Repository } from '../../src/repository/repository';
import type { ChangeEvent } from '../../src/repository/types';
import { expectType, type Equal, type Person } from './model';

export async function watchTypes(people: Repository<Person>): Promise<void> {
  const stream = people.watch([{ $match: { 'fullDocument.phone': '+1', operationType: { $in: ['insert', 'update'] } } }], { fullDocument: 'updateLookup' });
  for await (const event of stream) {
    expectType<Equal<typeof event, ChangeEvent<Person>>>();
    if (event.operationType === 'insert') expectType<Equal<typeof event.fullDocument, Person>>();
    if (event.operationType === 'update') {
      expectType<Equal<typeof event.fullDocument, Person | null | undefined>>();
      const zip: string | undefined = event.updateDescription.updatedFields['address.zip'];
      void zip;
      expectType<Equal<typeof event.updateDescription.removedFields, string[]>>();
    }
    if (event.operationType === 'delete') {
      // @ts-expect-error a delete event carries no fullDocument
      void event.fullDocument;
    }
  }
  people.watch([{ $match: { 'fullDocument.address.city': 'Paris', 'documentKey._id': {} as Person['_id'], 'fullDocumentBeforeChange.phone': '+2' } }, { $project: { fullDocument: 1 } }]);
  // @ts-expect-error Random fields cannot be compared
  people.watch([{ $match: { 'fullDocument.ssn': 'x' } }]);
  // @ts-expect-error Deterministic fields allow equality only
  people.watch([{ $match: { 'fullDocument.phone': { $gt: 'a' } } }]);
  // @ts-expect-error not a stage a change stream allows
  people.watch([{ $group: { _id: '$operationType' } }]);
  // @ts-expect-error unknown option
  people.watch([], { comment: 'x' });
  // @ts-expect-error not a fullDocument mode
  people.watch([], { fullDocument: 'always' });
}

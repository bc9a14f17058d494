import type { Document } from 'mongodb';
import { bsonTypeNumber } from '../../stored/values';

/*
 * MongoDB compares values of different types by a fixed type order, and `$gt` only matches
 * within the type bracket of its operand: `{ _id: { $gt: 5 } }` never returns a string _id.
 * Resuming a scan sorted by _id therefore needs "greater in this bracket, or of a later
 * bracket". _id cannot be an array, a regex or undefined. The later brackets are named by the
 * $type aliases every MongoDB-compatible server knows: decimal and symbol share a bracket with
 * double and string (so `$gt` covers them), and MinKey/MaxKey _ids are left out (FerretDB
 * refuses those aliases, and no application uses such _ids).
 */
const BRACKETS: Array<{ numbers: number[]; aliases: string[] }> = [
  { numbers: [255], aliases: [] },
  { numbers: [10], aliases: ['null'] },
  { numbers: [1, 16, 18, 19], aliases: ['double', 'int', 'long'] },
  { numbers: [14, 2], aliases: ['string'] },
  { numbers: [3], aliases: ['object'] },
  { numbers: [5], aliases: ['binData'] },
  { numbers: [7], aliases: ['objectId'] },
  { numbers: [8], aliases: ['bool'] },
  { numbers: [9], aliases: ['date'] },
  { numbers: [17], aliases: ['timestamp'] },
  { numbers: [127], aliases: [] },
];

/** The filter for documents after `lastId` in ascending _id order. */
export function afterIdFilter(lastId: unknown): Document {
  const type = bsonTypeNumber(lastId);
  const at = BRACKETS.findIndex((b) => type !== undefined && b.numbers.includes(type));
  const later = at === -1 ? [] : BRACKETS.slice(at + 1).flatMap((b) => b.aliases);
  if (later.length === 0) return { _id: { $gt: lastId } };
  return { $or: [{ _id: { $gt: lastId } }, { _id: { $type: later } }] };
}

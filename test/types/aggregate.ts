/*
 * Typed aggregation: each stage of the common subset is checked against the documents the stages
 * before it produce, and the result type follows the pipeline. Every `pipeline(…)` example is
 * recorded and replayed through the run-time analyzer by test/repository/typeConformance.test.ts:
 * a line that compiles must be accepted, a `// @ts-expect-error` line refused.
 */
import type { Document, ObjectId } from 'mongodb';
import { Field, Id, Model } from '../../src/metadata';
import type { CheckedPipeline, PipelineResult } from '../../src/repository/aggregateTypes';
import { lookup } from '../../src/repository/lookup';
import type { Repository } from '../../src/repository/repository';
import { typeCase } from './cases';
import { expectType, type Equal, Person } from './model';

/** A model without encrypted fields: what lookup() may join. */
@Model({ db: 'sb_type_conformance', collection: 'clinics' })
export class Clinic {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Field() city!: string;
}

const record = typeCase<readonly unknown[]>('pipeline', 1);
/** Checks a pipeline on Person as `aggregate` does, and records it for the run-time replay. */
function pipeline<const S extends readonly unknown[]>(stages: CheckedPipeline<Person, S>): PipelineResult<Person, S> | undefined {
  record(stages as readonly unknown[]);
  return undefined;
}
type Result<R> = Exclude<R, undefined>;

// ---- $match, $sort, $skip, $limit: the documents keep the model's shape, as plain data
const matched = pipeline([{ $match: { name: 'Ada', phone: '555-0100' } }, { $sort: { age: -1, 'address.city': 1 } }, { $skip: 5 }, { $limit: 10 }]);
expectType<Equal<Result<typeof matched>['phone'], string>>();
// @ts-expect-error results are plain data: no model methods
matched?.greet();
// @ts-expect-error unknown field
pipeline([{ $match: { nmae: 'Ada' } }]);
// @ts-expect-error a stage has exactly one operator
pipeline([{ $match: { name: 'Ada' }, $sort: { age: 1 } }]);
// @ts-expect-error $limit takes a number
pipeline([{ $limit: '5' }]);
// @ts-expect-error a Random field is not queryable, here as in filters
pipeline([{ $match: { ssn: '123-45-6789' } }]);
// @ts-expect-error Deterministic fields take equality only
pipeline([{ $match: { phone: { $gt: '555' } } }]);
// @ts-expect-error ciphertext order says nothing about plaintext order
pipeline([{ $sort: { phone: 1 } }]);
// @ts-expect-error ... nor can a document holding encrypted fields be sorted
pipeline([{ $sort: { badge: 1 } }]);

// ---- $project: inclusion, exclusion, dotted paths, moved and computed fields
const projected = pipeline([{ $project: { name: 1, phone: 1, 'address.city': 1 } }]);
expectType<Equal<Result<typeof projected>, { _id: ObjectId; name: string; phone: string; address: { city: string } }>>();
const excluded = pipeline([{ $project: { ssn: 0, salary: 0, medical: 0, contacts: 0, badge: 0, address: 0, tags: 0, scores: 0 } }]);
expectType<Equal<Result<typeof excluded>, { _id: ObjectId; name: string; nickname?: string; formerName?: string; age: number; phone: string; tier: 'gold' | 'silver'; createdAt: Date; deletedAt?: Date | null }>>();
const moved = pipeline([{ $project: { _id: 0, who: '$name', secret: '$ssn', city: '$address.city' } }]);
expectType<Equal<Result<typeof moved>, { who: string; secret: string; city: string }>>();
const computed = pipeline([{ $project: { name: 1, upper: { $toUpper: '$name' }, tagCount: { $size: '$tags' }, adult: { $gte: ['$age', 18] } } }]);
expectType<Equal<Result<typeof computed>, { _id: ObjectId; name: string; upper: string; tagCount: number; adult: boolean }>>();
const withoutCity = pipeline([{ $project: { 'address.city': 0, contacts: 0, badge: 0, medical: 0, ssn: 0, salary: 0, phone: 0, tier: 0, tags: 0, scores: 0, createdAt: 0, deletedAt: 0, nickname: 0, formerName: 0 } }]);
expectType<Equal<Result<typeof withoutCity>, { _id: ObjectId; name: string; age: number; address: { street: string; zip: string } }>>();
// @ts-expect-error unknown field
pipeline([{ $project: { nmae: 1 } }]);
// @ts-expect-error a projection keeps (1) or drops (0); other numbers are refused
pipeline([{ $project: { name: 1, age: 2 } }]);
// @ts-expect-error the server cannot compute on ciphertext
pipeline([{ $project: { upper: { $toUpper: '$phone' } } }]);
// @ts-expect-error a plain value moved under an encrypted field's name would be stored in the clear
pipeline([{ $project: { ssn: '$name' } }]);
// @ts-expect-error not an operator Strongbox knows
pipeline([{ $project: { x: { $myOperator: '$name' } } }]);
// @ts-expect-error an expression object holds one operator
pipeline([{ $project: { x: { $toUpper: '$name', $toLower: '$name' } } }]);

// ---- a moved encrypted field stays encrypted in later stages
const movedPhone = pipeline([{ $project: { p: '$phone' } }, { $match: { p: '555-0100' } }]);
expectType<Equal<Result<typeof movedPhone>, { _id: ObjectId; p: string }>>();
// @ts-expect-error p holds the phone's ciphertext
pipeline([{ $project: { p: '$phone' } }, { $sort: { p: 1 } }]);
// @ts-expect-error ... and Random stays unqueryable
pipeline([{ $project: { s: '$ssn' } }, { $match: { s: '123-45-6789' } }]);
// An encrypted value moved over a plain field takes its place, and its rules.
const replaced = pipeline([{ $addFields: { nickname: '$phone' } }, { $match: { nickname: '555-0100' } }]);
expectType<Equal<Result<typeof replaced>['nickname'], string>>();
// @ts-expect-error nickname now holds the phone's ciphertext
pipeline([{ $addFields: { nickname: '$phone' } }, { $sort: { nickname: 1 } }]);
// Collected through an array, in a computed document, or by $push, ciphertext can only be moved on.
const collected = pipeline([{ $project: { phones: '$contacts.phone', card: { code: '$badge.code' } } }, { $project: { phones: 1, card: 1 } }]);
expectType<Equal<Result<typeof collected>, { _id: ObjectId; phones: string[]; card: { code: string } }>>();
// @ts-expect-error the phones of all contacts: which key encrypted each is not known any more
pipeline([{ $project: { phones: '$contacts.phone' } }, { $match: { phones: '555-0100' } }]);
// @ts-expect-error ... nor inside a computed document
pipeline([{ $project: { card: { code: '$badge.code' } } }, { $match: { 'card.code': 'B-1' } }]);
// @ts-expect-error ... nor once collected by $push
pipeline([{ $group: { _id: null, phones: { $push: '$phone' } } }, { $match: { phones: '555-0100' } }]);

// ---- $addFields / $set, $unset
const added = pipeline([{ $addFields: { next: { $add: ['$age', 1] }, label: 'patient' } }, { $match: { next: { $gt: 18 } } }, { $unset: ['ssn', 'salary', 'medical'] }]);
expectType<Equal<Result<typeof added>['next'], number>>();
expectType<Equal<'ssn' extends keyof Result<typeof added> ? true : false, false>>();
const setStage = pipeline([{ $set: { city: '$address.city' } }, { $unset: 'address' }]);
expectType<Equal<Result<typeof setStage>['city'], string>>();
// @ts-expect-error a literal written where the model keeps encrypted values
pipeline([{ $addFields: { phone: 'x' } }]);
// @ts-expect-error ... also inside a document holding encrypted fields
pipeline([{ $addFields: { 'badge.extra': 'x' } }]);
// @ts-expect-error an expression comparing an encrypted value
pipeline([{ $addFields: { same: { $eq: ['$phone', '555-0100'] } } }]);
// @ts-expect-error a field holding moved ciphertext cannot be overwritten with a computed value
pipeline([{ $project: { secret: '$ssn' } }, { $addFields: { secret: 1 } }]);
// @ts-expect-error $unset takes top-level names of the documents
pipeline([{ $unset: 'nmae' }]);

// ---- $group with the common accumulators
const grouped = pipeline([{ $group: { _id: '$address.city', count: { $sum: 1 }, ages: { $sum: '$age' }, avgAge: { $avg: '$age' }, oldest: { $max: '$age' }, youngest: { $min: '$age' }, phones: { $push: '$phone' }, firstSsn: { $first: '$ssn' }, lastName: { $last: '$name' }, names: { $addToSet: '$name' }, n: { $count: {} } } }]);
expectType<Equal<Result<typeof grouped>, { _id: string; count: number; ages: number; avgAge: number | null; oldest: number; youngest: number; phones: string[]; firstSsn: string; lastName: string; names: string[]; n: number }>>();
const byCity = pipeline([{ $group: { _id: { city: '$address.city', zip: '$address.zip' }, n: { $sum: 1 } } }, { $sort: { n: -1, '_id.city': 1 } }]);
expectType<Equal<Result<typeof byCity>, { _id: { city: string; zip: string }; n: number }>>();
const everything = pipeline([{ $group: { _id: null, total: { $sum: '$age' } } }]);
expectType<Equal<Result<typeof everything>, { _id: null; total: number }>>();
pipeline([{ $group: { _id: '$address' } }]);
// @ts-expect-error grouping compares values: not on a Random field
pipeline([{ $group: { _id: '$ssn' } }]);
// @ts-expect-error ... nor on a Deterministic one (the server would group ciphertexts)
pipeline([{ $group: { _id: '$phone', n: { $sum: 1 } } }]);
// @ts-expect-error ... nor on a document holding encrypted fields
pipeline([{ $group: { _id: '$badge' } }]);
// @ts-expect-error numeric accumulators cannot compute on ciphertext
pipeline([{ $group: { _id: null, s: { $sum: '$salary' } } }]);
// @ts-expect-error ... $max either
pipeline([{ $group: { _id: null, m: { $max: '$phone' } } }]);
// @ts-expect-error ... nor on a Random field of array elements
pipeline([{ $group: { _id: null, s: { $avg: '$contacts.note' } } }]);
// @ts-expect-error a path inside a value encrypted whole does not exist for the server
pipeline([{ $group: { _id: null, b: { $first: '$medical.blood' } } }]);
// @ts-expect-error an accumulator holds one operator
pipeline([{ $group: { _id: null, n: { $sum: 1, $avg: '$age' } } }]);
// @ts-expect-error an accumulator output named like an encrypted field of the model
pipeline([{ $group: { _id: null, phone: { $first: '$phone' } } }]);
// @ts-expect-error values collected by $push stay ciphertext: not sortable after $unwind
pipeline([{ $group: { _id: null, all: { $push: '$ssn' } } }, { $unwind: '$all' }, { $sort: { all: 1 } }]);

// ---- $unwind, $count
const unwound = pipeline([{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }]);
expectType<Equal<Result<typeof unwound>, { _id: string; n: number }>>();
const contacts = pipeline([{ $unwind: { path: '$contacts', includeArrayIndex: 'position' } }, { $match: { 'contacts.phone': '555-0100' } }, { $project: { contacts: 1, position: 1 } }]);
expectType<Equal<Result<typeof contacts>, { _id: ObjectId; contacts: { kind: string; phone: string; note: string }; position: number }>>();
const counted = pipeline([{ $match: { age: { $gte: 18 } } }, { $count: 'adults' }]);
expectType<Equal<Result<typeof counted>, { adults: number }>>();
pipeline([{ $unwind: '$contacts' }, { $sort: { 'contacts.kind': 1 } }]);
// @ts-expect-error an unwound element's Deterministic field is still encrypted
pipeline([{ $unwind: '$contacts' }, { $sort: { 'contacts.phone': 1 } }]);
// @ts-expect-error unknown field
pipeline([{ $unwind: '$nope' }]);
// @ts-expect-error $count names a field: no $
pipeline([{ $count: '$n' }]);
// @ts-expect-error ... and no dot
pipeline([{ $count: 'a.b' }]);

// ---- $lookup to a model
const joined = pipeline([lookup(Clinic, { localField: 'address.city', foreignField: 'city', as: 'clinics' }), { $project: { name: 1, clinics: 1 } }]);
expectType<Equal<Result<typeof joined>, { _id: ObjectId; name: string; clinics: { _id: ObjectId; name: string; city: string }[] }>>();
// @ts-expect-error joins compare stored values: not on an encrypted field
pipeline([lookup(Clinic, { localField: 'phone', foreignField: 'city', as: 'clinics' })]);
// @ts-expect-error joined documents come from a collection the repository does not check: they are only moved
pipeline([lookup(Clinic, { localField: 'address.city', foreignField: 'city', as: 'clinics' }), { $match: { 'clinics.name': 'St Mary' } }]);

// ---- outside the typed subset: the stage and those after it are checked at run time only
const sampled = pipeline([{ $sample: { size: 2 } }, { $match: { name: 'Ada' } }]);
expectType<Equal<Result<typeof sampled>, Document>>();

/** Type-only: these call the repository or build refused stages, so they are never run. */
export async function usage(people: Repository<Person>, stages: Document[]): Promise<void> {
  const adults = await people.aggregate([{ $match: { age: { $gte: 18 } } }, { $group: { _id: '$address.city', n: { $sum: 1 } } }]).toArray();
  expectType<Equal<typeof adults, { _id: string; n: number }[]>>();
  // A Document[] value: untyped, checked at run time.
  const untyped = await people.aggregate(stages).toArray();
  expectType<Equal<typeof untyped, Document[]>>();
  // A result type named by the caller: the pipeline is not checked by the types.
  const named = await people.aggregate<{ n: number }>([{ $count: 'n' }]).toArray();
  expectType<Equal<typeof named, { n: number }[]>>();
  // @ts-expect-error the public method refuses what the typed pipeline refuses
  people.aggregate([{ $sort: { phone: 1 } }]);
  // @ts-expect-error a model with encrypted fields cannot be joined (its ciphertext could not be decrypted)
  lookup(Person, { localField: 'name', foreignField: 'name', as: 'people' });
  // @ts-expect-error foreignField names a field of the joined model
  lookup(Clinic, { localField: 'name', foreignField: 'town', as: 'clinics' });
}

/*
 * Compile-time types of `repository.aggregate` for the common stages: each stage is checked
 * against the documents the stages before it produce, and the result type follows the pipeline.
 * The rules are those the run-time analyzer applies (MongoDB manual, "Aggregation Pipeline
 * Stages" and "Expressions", restricted by what can work on ciphertext); the types only move the
 * error to the editor. docs/queries.md ("Typed aggregation") lists what is typed.
 *
 * Between stages the documents keep the encryption brands of the model: a field moved to a new
 * name (`{ p: '$phone' }`, `$first`, `$push`) still holds ciphertext, so later stages keep
 * refusing to sort, group or compute on it. The result itself is plain data (`Plain<…>`), as
 * aggregate returns decrypted plain objects, never model instances.
 *
 * A pipeline with a stage outside the typed subset still compiles: that stage and all after it
 * are not checked here (the run time checks them as always) and the result is `Document`.
 */
import type { Document } from 'mongodb';
import type { Random } from '../metadata/brands';
import type { EXPRESSION_OPERATOR_NAMES } from './policy/table';
import type { DataKeys, FieldEntries, KindOf, Leaf, MaxPathDepth, PathEntry, Plain } from './paths';
import type { Filter, Sort } from './types';

interface EncryptedValuesCannotBeComputedOn {
  readonly 'the server cannot compute on, compare or group by an encrypted value: move it whole, or compute after reading': never;
}
interface EncryptedFieldNamesCannotBeWritten {
  readonly 'a computed or plain value cannot be written where the model keeps encrypted values: it would be stored in the clear': never;
}
interface UnknownPath {
  readonly 'no such field in the documents at this stage': never;
}
interface NotInTypedSubset {
  readonly 'variables and $getField/$let/$map/$filter/$reduce are not typed: pass the pipeline as a Document[] variable (the run time still checks it)': never;
}
interface OneOperatorPerObject {
  readonly 'an expression object holds exactly one operator, or only field names': never;
}
interface UnknownOperator {
  readonly 'not an aggregation operator Strongbox knows': never;
}
interface CountNeedsAFieldName {
  readonly '$count takes the name of the output field: not empty, no leading $, no dot': never;
}
interface ProjectTakesFlagsOrExpressions {
  readonly '$project keeps (1, true), drops (0, false) or computes: numbers other than 0 and 1 are refused': never;
}
interface LookupTargetMustBePlain {
  readonly 'lookup joins only models without encrypted fields: their ciphertext could not be decrypted through this repository (use populate)': never;
}

/** Marks documents whose shape the types no longer follow (after a stage outside the typed subset). */
interface Untyped {
  readonly 'untyped documents': never;
}

declare const lookupTarget: unique symbol;

/** A `$lookup` stage built by `lookup(Model, …)`: a plain stage at run time, carrying the joined model for the types. */
export interface LookupStage<Target, Local extends string = string, Foreign extends string = string, As extends string = string> {
  /** The stage as the server receives it; `from` is the joined model's collection. */
  readonly $lookup: { readonly from: string; readonly localField: Local; readonly foreignField: Foreign; readonly as: As };
  /** Never present at run time: names the joined model for the types. */
  readonly [lookupTarget]?: Target;
}

/** The documents entering the pipeline: the model's data properties, brands kept. */
type Data<T> = { [K in keyof T as K extends DataKeys<T> ? K : never]: T[K] };

// ---------------------------------------------------------------------------------------------
// Paths and what they hold

/** Paths of D whose value is plaintext all the way down: what expressions, group keys and sorts may read. */
type PlainPaths<D> = PlainEntry<FieldEntries<D>>['path'];
type PlainEntry<X> = X extends PathEntry ? (X['kind'] extends 'plain' ? ([X['inner']] extends [never] ? X : never) : never) : never;

/** Paths that are, lie inside or hold encrypted values. */
type EncryptedPaths<D> = Exclude<FieldEntries<D>, PlainEntry<FieldEntries<D>>>['path'];

/** A name a computed value may not be written to: an encrypted path of the model or of the documents, or a path inside one. */
type Unwritable<M, D, K extends PropertyKey> = K extends string
  ? K extends EncryptedPaths<M> | EncryptedPaths<D> | `${EncryptedPaths<M> | EncryptedPaths<D>}.${string}` ? true : false
  : false;

/** The value holds ciphertext somewhere (it is, or holds, a branded value); past the depth cap it is assumed to. */
type HoldsEncrypted<V, D extends unknown[] = []> = true extends HoldsEncryptedEach<V, D> ? true : false;
type HoldsEncryptedEach<V, D extends unknown[]> = V extends unknown
  ? [KindOf<V>] extends ['plain']
    ? V extends Leaf
      ? false
      : D['length'] extends MaxPathDepth
        ? true
        : V extends readonly (infer E)[] ? HoldsEncryptedEach<E, [...D, unknown]> : { [K in DataKeys<V>]-?: HoldsEncryptedEach<V[K], [...D, unknown]> }[DataKeys<V>]
    : true
  : never;

/**
 * Ciphertext the run time can no longer attribute to one field and key (collected through an
 * array, by $push/$addToSet, in a computed document, joined by $lookup): later stages may only
 * move it whole, so it is typed as Random, which refuses everything else. It is still decrypted
 * on read (the result type is its plain value).
 */
type Opaque<V> = HoldsEncrypted<V> extends true ? Random<V> : V;

/** The path crosses an array of D on its way (MongoDB then collects one value per element). */
type CrossesArray<V, P extends string> = V extends readonly unknown[]
  ? true
  : P extends `${infer Head}.${infer Rest}` ? (Head extends keyof V ? CrossesArray<NonNullable<V[Head]>, Rest> : false) : false;

/** What `$path` moves: the declared value, opaque when collected through an array. */
type Moved<D, P extends string> = CrossesArray<D, P> extends true ? Opaque<ValueAt<D, P>> : ValueAt<D, P>;

/** What `$path` yields: arrays on the way give one value per element, as in MongoDB. */
type ValueAt<V, P extends string> = V extends readonly (infer E)[]
  ? ValueAt<E, P>[]
  : V extends Leaf
    ? (V extends null | undefined ? V : never)
    : P extends `${infer Head}.${infer Rest}`
      ? (Head extends keyof V ? ValueAt<V[Head], Rest> : never)
      : P extends keyof V ? V[P] : never;

// ---------------------------------------------------------------------------------------------
// Expressions

/** Operators whose arguments the types check; the others of the run-time list need variables or read fields by computed name. */
type ExpressionOperator = Exclude<(typeof EXPRESSION_OPERATOR_NAMES)[number], '$getField' | '$setField' | '$unsetField' | '$let' | '$map' | '$filter' | '$reduce'>;

/** A `$path` reference: a path of D holding only plaintext. */
type ReferenceCheck<D, P extends string> = P extends PlainPaths<D> ? `$${P}` : P extends FieldEntries<D>['path'] ? EncryptedValuesCannotBeComputedOn : UnknownPath;

/** An expression evaluated by the server: every reference inside must name plaintext; E itself when valid. */
type ExpressionCheck<D, E> = E extends string
  ? E extends `$$${string}` ? NotInTypedSubset : E extends `$${infer P}` ? ReferenceCheck<D, P> : E
  : E extends Leaf
    ? E
    : E extends readonly unknown[]
      ? { readonly [I in keyof E]: ExpressionCheck<D, E[I]> }
      : [Extract<keyof E, `$${string}`>] extends [never]
        ? { readonly [K in keyof E]: ExpressionCheck<D, E[K]> }
        : IsSingle<keyof E> extends true ? { readonly [K in keyof E]: OperatorCheck<D, K, E[K]> } : OneOperatorPerObject;

/** True for a single key, false for a union of several. */
type IsSingle<K, All = K> = [K] extends [never] ? false : K extends unknown ? ([All] extends [K] ? true : false) : never;

type OperatorCheck<D, K, A> = K extends '$literal' ? A : K extends ExpressionOperator ? ExpressionCheck<D, A> : K extends `$${string}` ? UnknownOperator : A;

type NumericOperator = '$abs' | '$add' | '$ceil' | '$divide' | '$exp' | '$floor' | '$ln' | '$log' | '$log10' | '$mod' | '$multiply' | '$pow' | '$round'
  | '$sqrt' | '$subtract' | '$trunc' | '$size' | '$strLenCP' | '$strLenBytes' | '$indexOfArray' | '$indexOfCP' | '$indexOfBytes' | '$cmp' | '$strcasecmp'
  | '$year' | '$month' | '$week' | '$dayOfMonth' | '$dayOfWeek' | '$dayOfYear' | '$hour' | '$minute' | '$second' | '$millisecond' | '$toInt' | '$toDouble';
type BooleanOperator = '$and' | '$or' | '$not' | '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte' | '$in' | '$isArray' | '$isNumber' | '$regexMatch' | '$toBool'
  | '$setEquals' | '$setIsSubset' | '$anyElementTrue' | '$allElementsTrue';
type StringOperator = '$concat' | '$toLower' | '$toUpper' | '$trim' | '$ltrim' | '$rtrim' | '$substr' | '$substrCP' | '$substrBytes' | '$toString' | '$dateToString' | '$type'
  | '$replaceOne' | '$replaceAll';

/** The value of a (valid) expression, as far as the types can tell; `unknown` for the rest. */
type ExpressionValue<D, E> = E extends `$${infer P}`
  ? ValueAt<D, P>
  : E extends Leaf
    ? E
    : E extends readonly unknown[]
      ? { -readonly [I in keyof E]: ExpressionValue<D, E[I]> }
      : keyof E extends `$${infer Op}`
        ? OperatorValue<D, `$${Op}`, E[keyof E]>
        : { -readonly [K in keyof E]: ExpressionValue<D, E[K]> };

type OperatorValue<D, Op, A> = Op extends '$literal' ? A
  : Op extends NumericOperator ? number
  : Op extends BooleanOperator ? boolean
  : Op extends StringOperator ? string
  : Op extends '$toDate' | '$dateAdd' | '$dateSubtract' | '$dateTrunc' | '$dateFromString' | '$dateFromParts' ? Date
  : Op extends '$ifNull' ? (A extends readonly unknown[] ? NonNullable<ExpressionValue<D, A[0]>> | ExpressionValue<D, A[number]> : unknown)
  : unknown;

// ---------------------------------------------------------------------------------------------
// $project, $addFields / $set

type Flag = 0 | 1 | boolean;
type IsInclusion<P> = true extends { [K in keyof P]-?: K extends '_id' ? false : P[K] extends 0 | false ? false : true }[keyof P] ? true : false;

/** One output field: a moved path keeps what it holds (ciphertext included); anything else is computed and checked. */
type OutputCheck<M, D, K extends string, V, Stage extends '$project' | '$addFields'> = V extends `$$${string}`
  ? NotInTypedSubset
  : V extends `$${infer P}`
    ? P extends PlainPaths<D>
      ? (Unwritable<M, D, K> extends true ? EncryptedFieldNamesCannotBeWritten : V)
      : P extends FieldEntries<D>['path'] ? V : UnknownPath
    : Unwritable<M, D, K> extends true
      ? EncryptedFieldNamesCannotBeWritten
      : V extends number ? (Stage extends '$project' ? ProjectTakesFlagsOrExpressions : V)
      : V extends Leaf ? V
      : V extends readonly unknown[] ? ExpressionCheck<D, V>
      : keyof V extends `$${string}` ? ExpressionCheck<D, V>
      : { readonly [Q in keyof V]: OutputCheck<M, D, `${K}.${Q & string}`, V[Q], Stage> };

type ProjectCheck<M, D, P> = IsInclusion<P> extends true
  ? { readonly [K in keyof P]: P[K] extends Flag ? (K extends FieldEntries<D>['path'] ? (P[K] extends 0 | false ? (K extends '_id' ? P[K] : ProjectTakesFlagsOrExpressions) : P[K]) : UnknownPath) : OutputCheck<M, D, K & string, P[K], '$project'> }
  : { readonly [K in keyof P]: K extends FieldEntries<D>['path'] ? 0 | false : UnknownPath };

type AddFieldsCheck<M, D, P> = { readonly [K in keyof P]: OutputCheck<M, D, K & string, P[K], '$addFields'> };

/** A computed output value; a moved path brings its declared type (and brand). */
type OutputValue<D, V> = V extends `$${infer P}`
  ? Moved<D, P>
  : V extends Leaf | readonly unknown[]
    ? ExpressionValue<D, V>
    : keyof V extends `$${string}` ? ExpressionValue<D, V> : Opaque<{ -readonly [Q in keyof V]: OutputValue<D, V[Q]> }>;

/** Top-level names of dotted keys: `'address.city': 1` keeps part of address. */
type TopOf<K> = K extends `${infer Top}.${string}` ? Top : K;
type SubKeys<P, Top extends string> = { [Q in keyof P as Q extends `${Top}.${infer R}` ? R : never]: P[Q] };

type Projected<D, P> = IsInclusion<P> extends true
  ? {
      [K in keyof D as K extends '_id' ? (P extends { _id: 0 | false } ? never : K) : K extends TopOf<keyof P> ? (P extends Record<K, 0 | false> ? never : K) : never]:
        K extends keyof P ? (P[K] extends Flag ? D[K] : OutputValue<D, P[K]>) : Within<D[K], SubKeys<P, K & string>>;
    } & { -readonly [K in keyof P as K extends keyof D ? never : K extends `${string}.${string}` ? never : P[K] extends Flag ? never : K]: OutputValue<D, P[K]> }
  : { [K in keyof D as K extends keyof P ? never : K]: K extends TopOf<keyof P> ? Within<D[K], SubKeys<P, K & string>> : D[K] };

/** A projection of sub-paths applied to an embedded document (to each element of an array of them, as MongoDB does). */
type Within<V, S> = V extends readonly (infer E)[] ? Within<E, S>[] : V extends Leaf ? V : KindOf<V> extends 'plain' ? Projected<V, S> : V;

/** A dotted key changes a field inside an existing document: the documents keep their declared shape there. */
type AddedFields<D, P> = Omit<D, keyof P> & { -readonly [K in keyof P as K extends `${string}.${string}` ? never : K]: OutputValue<D, P[K]> };

// ---------------------------------------------------------------------------------------------
// $group

/** Accumulators that only move a stored value: they take encrypted values whole. */
type MovingAccumulator = '$first' | '$last' | '$push' | '$addToSet';
type ComputingAccumulator = '$sum' | '$avg' | '$min' | '$max';

type AccumulatorCheck<M, D, K, A> = K extends '_id'
  ? ExpressionCheck<D, A>
  : Unwritable<M, D, K & string> extends true
    ? EncryptedFieldNamesCannotBeWritten
    : IsSingle<keyof A> extends false
      ? OneOperatorPerObject
    : keyof A extends infer Op
      ? Op extends '$count'
        ? { readonly $count: Record<string, never> }
        : Op extends MovingAccumulator
          ? { readonly [O in Op]: MovedOperand<D, A[Op & keyof A]> }
          : Op extends ComputingAccumulator
            ? { readonly [O in Op]: ExpressionCheck<D, A[Op & keyof A]> }
            : { readonly [O in Op & string]: UnknownOperator }
      : never;

/** A moving accumulator's operand: a path (its value moved whole, ciphertext included), or an expression on plaintext. */
type MovedOperand<D, A> = A extends `$$${string}`
  ? NotInTypedSubset
  : A extends `$${infer P}`
    ? (P extends FieldEntries<D>['path'] ? A : UnknownPath)
    : A extends Leaf | readonly unknown[] ? ExpressionCheck<D, A>
    : keyof A extends `$${string}` ? ExpressionCheck<D, A> : { readonly [Q in keyof A]: MovedOperand<D, A[Q]> };

type GroupCheck<M, D, G> = { readonly [K in keyof G]: AccumulatorCheck<M, D, K, G[K]> } & { readonly _id: unknown };

type AccumulatedValue<D, A> = keyof A extends infer Op
  ? Op extends '$count' | '$sum' ? number
  : Op extends '$avg' ? number | null
  : Op extends '$min' | '$max' | '$first' | '$last' ? OutputValue<D, A[Op & keyof A]>
  : Op extends '$push' | '$addToSet' ? Opaque<OutputValue<D, A[Op & keyof A]>[]>
  : unknown
  : never;

type Grouped<D, G> = { -readonly [K in keyof G]: K extends '_id' ? OutputValue<D, G[K]> : AccumulatedValue<D, G[K]> };

// ---------------------------------------------------------------------------------------------
// $unwind, $count, $unset, $lookup

type UnwindOptions = { readonly path: string; readonly includeArrayIndex?: string; readonly preserveNullAndEmptyArrays?: boolean };

type UnwindCheck<M, D, U> = U extends string
  ? (U extends `$${DataKeys<D>}` ? U : UnknownPath)
  : U extends UnwindOptions
    ? { readonly path: U['path'] extends `$${DataKeys<D>}` ? U['path'] : UnknownPath; readonly includeArrayIndex?: Unwritable<M, D, U['includeArrayIndex'] & string> extends true ? EncryptedFieldNamesCannotBeWritten : string; readonly preserveNullAndEmptyArrays?: boolean }
    : UnwindOptions;

type ElementOf<V, Keep> = [KindOf<V>] extends ['plain'] ? (V extends readonly (infer E)[] ? E : V) | (Keep extends true ? Extract<V, null | undefined> : never) : V;

type Unwound<D, U> = U extends string
  ? UnwoundAt<D, U, false>
  : U extends UnwindOptions
    ? UnwoundAt<D, U['path'], U['preserveNullAndEmptyArrays'] extends true ? true : false> & (U['includeArrayIndex'] extends string ? { [K in U['includeArrayIndex']]: number | (U['preserveNullAndEmptyArrays'] extends true ? null : never) } : unknown)
    : Untyped;

type UnwoundAt<D, Path, Keep> = Path extends `$${infer K}` ? { [Q in keyof D]: Q extends K ? ElementOf<Keep extends true ? D[Q] : NonNullable<D[Q]>, Keep> : D[Q] } : Untyped;

type CountCheck<C> = C extends '' | `$${string}` | `${string}.${string}` ? CountNeedsAFieldName : C extends string ? C : CountNeedsAFieldName;

type UnsetCheck<D, U> = U extends string ? (U extends DataKeys<D> ? U : UnknownPath) : { readonly [I in keyof U]: U[I] extends DataKeys<D> ? U[I] : UnknownPath };

type LookupCheck<D, H> = H extends LookupStage<infer Target, infer Local, string, string>
  ? (Local extends PlainPaths<D> ? H : { readonly $lookup: { readonly localField: Local extends FieldEntries<D>['path'] ? EncryptedValuesCannotBeComputedOn : UnknownPath } })
  : H;

/** What `lookup(Target, spec)` takes: a foreign field of Target (plaintext); a Target with encrypted fields is refused. */
export type LookupSpec<Target, Local extends string, Foreign extends string, As extends string> = [EncryptedPaths<Target>] extends [never]
  ? { readonly localField: Local; readonly foreignField: Foreign & FieldEntries<Target>['path']; readonly as: As }
  : LookupTargetMustBePlain;

type Joined<D, H> = H extends LookupStage<infer Target, string, string, infer As> ? Omit<D, As> & { [K in As]: Random<Data<Target>[]> } : Untyped;

// ---------------------------------------------------------------------------------------------
// The fold

/** The documents after stage H on documents D of model M. */
type Next<M, D, H> = [D] extends [Untyped] ? Untyped
  : H extends { readonly $match: unknown } | { readonly $sort: unknown } | { readonly $skip: unknown } | { readonly $limit: unknown } ? D
  : H extends { readonly $count: infer C extends string } ? { [K in C]: number }
  : H extends { readonly $project: infer P } ? Projected<D, P>
  : H extends { readonly $addFields: infer P } ? AddedFields<D, P>
  : H extends { readonly $set: infer P } ? AddedFields<D, P>
  : H extends { readonly $unset: infer U } ? Omit<D, (U extends readonly (infer N)[] ? N : U) & string>
  : H extends { readonly $group: infer G } ? Grouped<D, G>
  : H extends { readonly $unwind: infer U } ? Unwound<D, U>
  : H extends LookupStage<unknown> ? Joined<D, H>
  : Untyped;

/** What stage H must look like on documents D: H itself where the types do not follow it. */
type StageCheck<M, D, H> = [D] extends [Untyped] ? H
  : H extends { readonly $match: unknown } ? { readonly $match: Filter<D> }
  : H extends { readonly $sort: unknown } ? { readonly $sort: Sort<D> }
  : H extends { readonly $skip: unknown } ? { readonly $skip: number }
  : H extends { readonly $limit: unknown } ? { readonly $limit: number }
  : H extends { readonly $count: infer C } ? { readonly $count: CountCheck<C> }
  : H extends { readonly $project: infer P } ? { readonly $project: ProjectCheck<M, D, P> }
  : H extends { readonly $addFields: infer P } ? { readonly $addFields: AddFieldsCheck<M, D, P> }
  : H extends { readonly $set: infer P } ? { readonly $set: AddFieldsCheck<M, D, P> }
  : H extends { readonly $unset: infer U } ? { readonly $unset: UnsetCheck<D, U> }
  : H extends { readonly $group: infer G } ? { readonly $group: GroupCheck<M, D, G> }
  : H extends { readonly $unwind: infer U } ? { readonly $unwind: UnwindCheck<M, D, U> }
  : H extends LookupStage<unknown> ? LookupCheck<D, H>
  : H;

/** The documents entering each stage of S, in order. */
type Inputs<M, D, S, Acc extends unknown[] = []> = S extends readonly [infer H, ...infer R] ? Inputs<M, Next<M, D, H>, R, [...Acc, D]> : Acc;

type Folded<M, D, S> = S extends readonly [infer H, ...infer R] ? Folded<M, Next<M, D, H>, R> : S extends readonly [] ? D : Untyped;

/**
 * A pipeline as `aggregate` checks it: each stage of the typed subset against the documents the
 * stages before it produce. Stages outside the subset, and everything after them, pass as written.
 */
export type CheckedPipeline<T, S extends readonly unknown[]> = {
  readonly [I in keyof S]: StageCheck<Data<T>, Inputs<Data<T>, Data<T>, S> extends infer In ? (I extends keyof In ? In[I] : Untyped) : never, S[I]>;
};

/**
 * The documents a pipeline S on model T yields: plain decrypted data (no model methods, no
 * encryption brands), shaped stage by stage; `Document` once a stage is outside the typed subset
 * or when S is not a tuple (a `Document[]` variable).
 */
export type PipelineResult<T, S extends readonly unknown[]> = Folded<Data<T>, Data<T>, S> extends infer D ? ([D] extends [Untyped] ? Document : Plain<D>) : never;

interface ResultTypeMustBeNamed {
  readonly 'without a result type argument, aggregate checks the pipeline (the next overload); aggregate<R>(pipeline) skips that check': never;
}

/**
 * The untyped form of aggregate is chosen only with an explicit result type, so a pipeline the
 * typed form refuses is a compile error instead of silently falling back to it. It is declared
 * first: TypeScript reports the error of the last overload, which is then the typed one.
 */
export type NamedResult<R> = [R] extends [never] ? ResultTypeMustBeNamed : unknown;

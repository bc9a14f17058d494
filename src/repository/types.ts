/*
 * Compile-time query types of a repository. They are stricter than the driver's: unknown
 * paths and wrong value types are errors, and so is anything the server would have to
 * evaluate on ciphertext. The repository checks the same rules again at run time (for callers
 * that bypass the types); these types only move the error to the editor. docs/queries.md has
 * the full table.
 *
 * Where an encrypted path is refused, it usually stays a key of the type, typed as one of the
 * interfaces below that nothing can be assigned to: their names (and single property) state
 * the reason, so that is what the compile error shows instead of "property does not exist",
 * and an object that is not a fresh literal cannot slip the path past excess-property checks.
 */
import type { RefTarget } from '../metadata/ref';
import type { BSONRegExp, Decimal128, Double, Int32, Long, Timestamp } from 'mongodb';
import type {
  DataKeys, FieldEntries, PathValue, Paths, FilterEntries, InnerKind, KindOf, Leaf, PathEntry, Plain, RenameEntries, UpdateEntries,
} from './paths';

export type { FieldKind, MaxPathDepth, PathValue, Paths, Plain } from './paths';

interface RandomEncryptedFieldsAreNotQueryable {
  readonly 'Random-encrypted fields cannot be queried: the same value encrypts differently every time': never;
}
interface ExpressionsCannotBeEncrypted {
  readonly '$where and $expr are refused: values inside expressions cannot be encrypted': never;
}
interface EncryptedFieldsCannotBeSorted {
  readonly 'encrypted fields cannot be sorted on: ciphertext order says nothing about plaintext order': never;
}
interface ServerCannotComputeOnEncryptedValues {
  readonly 'the server cannot compute on an encrypted value: read it, change it, and $set it': never;
}
interface AddToSetCannotCompareRandomCiphertext {
  readonly '$addToSet cannot find duplicates among Random-encrypted values: use $push': never;
}
interface EncryptedFieldsCannotBeRenamed {
  readonly 'encrypted fields (and documents holding them) cannot be renamed: migrate them instead': never;
}

type Regex = RegExp | BSONRegExp;

/** `{ field: null }` matches a missing or null field, so null is a comparand exactly for optional or nullable fields. */
type Absent<V> = undefined extends V ? null : null extends V ? null : never;

/** What an encrypted value is compared with: its plain type, never null (null cannot be encrypted). */
type Comparand<V> = Plain<NonNullable<V>>;

/** Nothing below is Random (or unexplored), so a whole value can be encrypted and compared for equality. */
type Comparable<I extends InnerKind> = [Extract<I, 'Random' | 'unexplored'>] extends [never] ? true : false;

// ---------------------------------------------------------------------------------------------
// Filter

interface ExistsOperator {
  $exists?: boolean;
}
interface EqualityOperators<V> extends ExistsOperator {
  $eq?: V;
  $ne?: V;
  $in?: readonly V[];
  $nin?: readonly V[];
}
interface RangeOperators<V> {
  $gt?: V;
  $gte?: V;
  $lt?: V;
  $lte?: V;
}
interface RegexOperators {
  $regex?: string | Regex;
  $options?: string;
}
interface Comparisons<V, N> extends EqualityOperators<V | N>, RangeOperators<V> {}
interface ValueOperators<V, N> extends Comparisons<V, N> {
  $not?: Comparisons<V, N>;
}
interface StringComparisons<V, N> extends Comparisons<V, N>, RegexOperators {}
interface StringOperators<V, N> extends StringComparisons<V, N> {
  $not?: StringComparisons<V, N> | Regex;
}

/** A plaintext scalar: everything MongoDB offers, $regex only for strings. */
type LeafCondition<V, N> = [V] extends [string] ? V | N | Regex | StringOperators<V, N> : V | N | ValueOperators<V, N>;

/**
 * Deterministic: same plaintext, same ciphertext, so (in)equality is all the server can
 * decide. $exists is allowed too: whether a field is present is visible to the server anyway.
 */
type DeterministicCondition<V> = V | EqualityOperators<V>;

/** An embedded document: equality with a whole plain value (encrypted fields inside get encrypted), or presence. */
type DocumentCondition<V, N, I extends InnerKind> = Comparable<I> extends true ? V | N | EqualityOperators<V | N> : ExistsOperator;

/*
 * An array matches a whole array value (W) or any element matching an element condition (EV:
 * an element value). never in a slot refuses that form. $elemMatch is declared in interface
 * bodies rather than passed as a type argument: member types are built only when used, so an
 * element's Filter is not computed for every array path of every query.
 */
interface ArrayOperators<V, EV> extends EqualityOperators<V> {
  $all?: readonly EV[];
  $size?: number;
}
interface DocumentArrayOperators<E, V, EV> extends ArrayOperators<V, EV> {
  $elemMatch?: Filter<E>;
}
interface ScalarArrayOperators<E, V> extends ArrayOperators<V, E>, RangeOperators<E> {
  $elemMatch?: ValueOperators<E, never>;
}
interface StringArrayOperators<E, V> extends ArrayOperators<V, E>, RangeOperators<E>, RegexOperators {
  $elemMatch?: StringOperators<E, never>;
}
interface DeterministicArrayOperators<E, V> extends ArrayOperators<V, E> {
  $elemMatch?: EqualityOperators<E>;
}

type ArrayCondition<E, N, I extends InnerKind> = [KindOf<E>] extends ['plain']
  ? NonNullable<E> extends Leaf
    ? ScalarArrayCondition<Plain<NonNullable<E>>, N>
    : Comparable<I> extends true
      ? ContainerArrayCondition<NonNullable<E>, Plain<E>[] | N, Plain<NonNullable<E>>>
      : ContainerArrayCondition<NonNullable<E>, never, never>
  : KindOf<E> extends 'Deterministic'
    ? Comparand<E>[] | N | Comparand<E> | DeterministicArrayOperators<Comparand<E>, Comparand<E>[] | N | Comparand<E>>
    : ArrayOperators<never, never>;

/** Elements that are documents or arrays; W and EV are never when elements hold Random fields. */
type ContainerArrayCondition<E, W, EV> = W | EV | (E extends readonly unknown[] ? ArrayOperators<W | EV, EV> : DocumentArrayOperators<E, W | EV, EV>);

type ScalarArrayCondition<E, N> = [E] extends [string]
  ? E[] | N | E | Regex | StringArrayOperators<E, E[] | N | E>
  : E[] | N | E | ScalarArrayOperators<E, E[] | N | E>;

type PlainCondition<V, I extends InnerKind> = NonNullable<V> extends readonly (infer E)[]
  ? ArrayCondition<E, Absent<V>, I>
  : NonNullable<V> extends Leaf
    ? LeafCondition<Plain<NonNullable<V>>, Absent<V>>
    : DocumentCondition<Plain<NonNullable<V>>, Absent<V>, I>;

type FieldCondition<X extends PathEntry> = X['kind'] extends 'plain'
  ? PlainCondition<X['value'], X['inner']>
  : X['kind'] extends 'Deterministic' ? DeterministicCondition<Comparand<X['value']>> : RandomEncryptedFieldsAreNotQueryable;

/** A Random path is kept, with everything below it, only to carry the explanation. */
type FieldConditions<T> = {
  [X in FilterEntries<T> as X['kind'] extends 'Random' ? X['path'] | `${X['path']}.${string}` : X['path']]?: FieldCondition<X>;
};

interface TextSearch {
  $search: string;
  $language?: string;
  $caseSensitive?: boolean;
  $diacriticSensitive?: boolean;
}

interface TopLevelOperators<T> {
  $and?: readonly Filter<T>[];
  $or?: readonly Filter<T>[];
  $nor?: readonly Filter<T>[];
  $text?: TextSearch;
  $comment?: string;
  /** Server-side JavaScript cannot see plaintext, and the repository cannot encrypt values inside it. */
  $where?: ExpressionsCannotBeEncrypted;
  /** The repository encrypts operands of query operators; inside an aggregation expression it cannot tell which values to encrypt. */
  $expr?: ExpressionsCannotBeEncrypted;
}

/**
 * A query on model T. Plain fields take MongoDB's query operators with values of their type;
 * Deterministic fields take equality only; Random fields (and anything inside them) cannot
 * appear. No $where or $expr.
 */
export type Filter<T> = FieldConditions<T> & TopLevelOperators<T>;

// ---------------------------------------------------------------------------------------------
// Update

type NumericValue = number | bigint | Long | Int32 | Double | Decimal128;

/** Keeps a plain path when `Ok`, and every encrypted path (typed as a refusal) so the error explains itself. */
type ServerSideKey<X extends PathEntry, Ok> = X['kind'] extends 'plain' ? (Ok extends true ? X['path'] : never) : X['path'];

type IsArray<V> = NonNullable<V> extends readonly unknown[] ? true : false;
type ElementOf<V> = NonNullable<V> extends readonly (infer E)[] ? E : never;

/** An encrypted path takes its plain value (the repository encrypts it), never null: null cannot be encrypted. */
type SetFields<T> = {
  [X in UpdateEntries<T> as X['path']]?: X['kind'] extends 'plain' ? Plain<X['value']> : Comparand<X['value']>;
};

/** Only optional fields: removing a required one would leave a document its model cannot describe. */
type UnsetFields<T> = {
  [X in UpdateEntries<T> as undefined extends X['value'] ? X['path'] : never]?: '' | 1 | true;
};

type NumericFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, NonNullable<X['value']> extends NumericValue ? true : false>]?: X['kind'] extends 'plain'
    ? (NonNullable<X['value']> extends number ? number : NonNullable<X['value']> | number)
    : ServerCannotComputeOnEncryptedValues;
};

type BoundFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, NonNullable<X['value']> extends Leaf ? true : false>]?: X['kind'] extends 'plain'
    ? Plain<NonNullable<X['value']>>
    : ServerCannotComputeOnEncryptedValues;
};

/** A Timestamp takes only `{ $type: 'timestamp' }`: `true` would store a Date in it. */
type CurrentDateFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, NonNullable<X['value']> extends Date | Timestamp ? true : false>]?: X['kind'] extends 'plain'
    ? (NonNullable<X['value']> extends Timestamp ? { $type: 'timestamp' } : true | { $type: 'date' })
    : ServerCannotComputeOnEncryptedValues;
};

interface PushEach<E> {
  $each: readonly Plain<E>[];
  $position?: number;
  $slice?: number;
  $sort?: NonNullable<E> extends Leaf ? 1 | -1 : Sort<NonNullable<E>>;
}

type PushFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, IsArray<X['value']>>]?: X['kind'] extends 'plain'
    ? Plain<ElementOf<X['value']>> | PushEach<ElementOf<X['value']>>
    : ServerCannotComputeOnEncryptedValues;
};

type AddToSetFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, IsArray<X['value']>>]?: X['kind'] extends 'plain'
    ? Comparable<X['inner']> extends true
      ? Plain<ElementOf<X['value']>> | { $each: readonly Plain<ElementOf<X['value']>>[] }
      : AddToSetCannotCompareRandomCiphertext
    : ServerCannotComputeOnEncryptedValues;
};

/** $pull takes a condition on elements: a filter for documents, a value condition for scalars. */
type PullCondition<E> = [KindOf<E>] extends ['plain']
  ? NonNullable<E> extends Leaf
    ? LeafCondition<Plain<NonNullable<E>>, never>
    : NonNullable<E> extends readonly unknown[] ? Plain<NonNullable<E>> : Filter<NonNullable<E>>
  : KindOf<E> extends 'Deterministic' ? DeterministicCondition<Comparand<E>> : RandomEncryptedFieldsAreNotQueryable;

type PullFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, IsArray<X['value']>>]?: X['kind'] extends 'plain' ? PullCondition<ElementOf<X['value']>> : ServerCannotComputeOnEncryptedValues;
};

/** $pullAll compares whole elements, which cannot be encrypted when anything inside them is encrypted. */
type PullAllFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, IsArray<X['value']>>]?: X['kind'] extends 'plain'
    ? ([X['inner']] extends [never] ? readonly Plain<ElementOf<X['value']>>[] : ServerCannotComputeOnEncryptedValues)
    : ServerCannotComputeOnEncryptedValues;
};

type PopFields<T> = {
  [X in UpdateEntries<T> as ServerSideKey<X, IsArray<X['value']>>]?: X['kind'] extends 'plain' ? 1 | -1 : ServerCannotComputeOnEncryptedValues;
};

/**
 * A rename keeps documents valid for the model: the source must be optional (it disappears),
 * the target a plaintext path of the model that accepts the source's type. Encrypted fields
 * are bound to their path by the schema (and per-document key pointers), so they never move.
 */
type RenameFields<T> = {
  [X in RenameEntries<T> as ServerSideKey<X, undefined extends X['value'] ? true : false>]?: X['kind'] extends 'plain'
    ? ([X['inner']] extends [never] ? RenameTarget<RenameEntries<T>, X> : EncryptedFieldsCannotBeRenamed)
    : EncryptedFieldsCannotBeRenamed;
};

type RenameTarget<E extends PathEntry, Source extends PathEntry> = E extends PathEntry<infer P, infer V, 'plain', never>
  ? P extends Source['path'] ? never : [Exclude<Source['value'], undefined>] extends [V] ? P : never
  : never;

/**
 * An update of model T. Values written into encrypted fields ($set, $setOnInsert, $push,
 * $addToSet) are encrypted by the repository; operators the server evaluates against the
 * stored value refuse encrypted fields. `_id` cannot be updated.
 */
export interface UpdateFilter<T> {
  $set?: SetFields<T>;
  $setOnInsert?: SetFields<T>;
  $unset?: UnsetFields<T>;
  $inc?: NumericFields<T>;
  $mul?: NumericFields<T>;
  $min?: BoundFields<T>;
  $max?: BoundFields<T>;
  $currentDate?: CurrentDateFields<T>;
  $push?: PushFields<T>;
  $addToSet?: AddToSetFields<T>;
  $pull?: PullFields<T>;
  $pullAll?: PullAllFields<T>;
  $pop?: PopFields<T>;
  $rename?: RenameFields<T>;
}

// ---------------------------------------------------------------------------------------------
// arrayFilters

type ElementOfArray<V> = NonNullable<V> extends readonly (infer E)[] ? E : never;
type IsDocumentElement<E> = NonNullable<E> extends Leaf ? false : NonNullable<E> extends readonly unknown[] ? false : true;
type ArrayKeys<T, Documents extends boolean> = {
  [K in DataKeys<T>]-?: NonNullable<T[K]> extends readonly unknown[] ? (IsDocumentElement<ElementOfArray<T[K]>> extends Documents ? K : never) : never;
}[DataKeys<T>];

/** `{ '<id>.<path>': condition }` on the elements of an array of documents: the element's own Filter, each path behind any identifier. */
type DocumentElementFilter<E> = { [K in keyof Filter<E> as K extends `$${string}` ? never : `${string}.${K & string}`]?: Filter<E>[K] };

/** `{ <id>: condition }` on the elements of an array of scalars; a dotted key there is a path into a document element, never this. */
type ScalarElementFilter<E> = { [identifier: string]: PlainCondition<E, never> } & { [path: `${string}.${string}`]: never };

/**
 * One `arrayFilters` condition of an update on model T: conditions on the elements that an
 * `$[id]` of the update names (MongoDB manual, "$[<identifier>]"), with the element's rules —
 * Deterministic element fields take equality (and are encrypted), Random ones are refused. The
 * repository checks at run time that each identifier is used by the update, on one array only.
 */
export type ArrayFilter<T> =
  | { [K in ArrayKeys<T, true>]: DocumentElementFilter<NonNullable<ElementOfArray<T[K]>>> }[ArrayKeys<T, true>]
  | { [K in ArrayKeys<T, false>]: ScalarElementFilter<ElementOfArray<T[K]>> }[ArrayKeys<T, false>];

// ---------------------------------------------------------------------------------------------
// Sort and projection

/** Ascending (1) or descending (-1), as in MongoDB's sort documents. */
export type SortDirection = 1 | -1;

/** Sorting compares stored values, so encrypted fields and documents holding them are refused. */
export type Sort<T> = {
  [X in FieldEntries<T> as X['path']]?: X['kind'] extends 'plain'
    ? ([X['inner']] extends [never] ? SortDirection : EncryptedFieldsCannotBeSorted)
    : EncryptedFieldsCannotBeSorted;
};

/**
 * The order of a keyset pagination: required plain scalar fields (`_id` is added as the
 * tie-break). Encrypted fields stay keys, typed as the refusal, so the error explains itself.
 */
export type KeysetSort<T> = {
  [X in FieldEntries<T> as X['kind'] extends 'plain'
    ? (undefined extends X['value'] ? never : null extends X['value'] ? never : NonNullable<X['value']> extends Leaf ? X['path'] : never)
    : X['path']]?: X['kind'] extends 'plain' ? SortDirection : EncryptedFieldsCannotBeSorted;
};

/** Encrypted fields can be projected: they come back as ciphertext and are decrypted on read. */
export type Projection<T> = {
  [X in FieldEntries<T> as X['path']]?: 0 | 1 | boolean;
};

type Included = 1 | true;
type Excluded = 0 | false;

/** Any field other than `_id` set to 1 or true makes a projection an inclusion projection, as in MongoDB. */
type IsInclusion<P> = true extends { [K in keyof P]-?: K extends '_id' ? false : P[K] extends Included ? true : false }[keyof P] ? true : false;

/** The part of projection P below `${K}.`, with that prefix removed. */
type SubProjection<P, K extends string> = { [Q in keyof P as Q extends `${K}.${infer R}` ? R : never]: P[Q] };
type HasSubpaths<P, K extends string> = [Extract<keyof P, `${K}.${string}`>] extends [never] ? false : true;

/** Applies a sub-projection through optional values and arrays, down to documents. */
type ProjectInto<V, S, Inclusion extends boolean> = V extends unknown
  ? [KindOf<V>] extends ['plain']
    ? V extends Leaf
      ? V
      : V extends readonly (infer E)[] ? ProjectInto<E, S, Inclusion>[] : ProjectDocument<V, S, Inclusion, false>
    : V
  : never;

type ProjectDocument<T, P, Inclusion extends boolean, Root extends boolean> = {
  [K in keyof T as K extends DataKeys<T> ? (KeepKey<P, K, Inclusion, Root> extends true ? K : never) : never]:
    K extends string ? (HasSubpaths<P, K> extends true ? ProjectInto<T[K], SubProjection<P, K>, Inclusion> : T[K]) : never;
};

/** The root `_id` stays unless excluded by name; MongoDB gives nested `_id` fields no such treatment. */
type KeepKey<P, K extends PropertyKey, Inclusion extends boolean, Root extends boolean> = K extends keyof P
  ? (P[K] extends Excluded ? false : true)
  : [Root, K] extends [true, '_id'] ? true : Inclusion extends true ? (K extends string ? HasSubpaths<P, K> : false) : true;

/**
 * The shape of a document read with projection P (data properties, declared types). P must
 * have literal values (`as const`, or a `const` type parameter): a widened `number` cannot tell
 * inclusion from exclusion.
 */
export type Projected<T, P> = ProjectDocument<T, P, IsInclusion<P>, true>;

/**
 * What a read returns: the model T without a projection; with one, Projected<T, P>. A projected
 * result is still an instance of the model class (so `instanceof` and embedded classes stay as
 * they are), but its type lists only the data properties that were loaded: the model's methods
 * are left out, since they may read a field the projection did not load.
 */
export type ReadResult<T, P> = [P] extends [undefined] ? T : Projected<T, NonNullable<P>>;

// ---------------------------------------------------------------------------------------------
// Documents

/**
 * The `_id` value of model T, as findById takes it: the declared type (plain, brands removed), or
 * an ObjectId when the model leaves `_id` to the driver.
 */
export type IdOf<T> = '_id' extends DataKeys<T> ? NonNullable<Plain<T>['_id' & keyof Plain<T>]> : import('mongodb').ObjectId;

/** What replaceOne takes: the plain data of T without `_id`, which a replacement cannot change. */
export type Replacement<T> = { [K in keyof Plain<T> as K extends '_id' ? never : K]: Plain<T>[K] };

/** What insertOne takes: the plain data of T, with `_id` optional (the driver generates an ObjectId). */
export type InsertDoc<T> = '_id' extends DataKeys<T> ? Replacement<T> & { _id?: Plain<T>['_id' & keyof Plain<T>] } : Plain<T>;

// ---------------------------------------------------------------------------------------------
// distinct

/** Paths distinct answers correctly: plain ones with nothing encrypted below, and Deterministic fields. */
type DistinctEntries<T> = FieldEntries<T> extends infer X
  ? X extends PathEntry
    ? X['kind'] extends 'Deterministic' ? X : X['kind'] extends 'plain' ? ([X['inner']] extends [never] ? X : never) : never
    : never
  : never;

/** A path `distinct` accepts; Random fields and documents holding encrypted fields are not among them. */
export type DistinctPath<T> = DistinctEntries<T>['path'];

/** One value `distinct` returns for path K: the plain value, one element at a time for arrays (the server unwinds them). */
export type DistinctValue<T, K extends string> = DistinctValueOf<DistinctEntries<T>, K>;

type DistinctValueOf<X, K extends string> = X extends PathEntry
  ? K extends X['path'] ? Plain<NonNullable<X['value']> extends readonly (infer E)[] ? NonNullable<E> : NonNullable<X['value']>> : never
  : never;

// ---------------------------------------------------------------------------------------------
// Relations

/** The fields of T declared `Ref<Target>`: what `populate` accepts. */
export type RefKeys<T> = { [K in DataKeys<T>]-?: [RefTarget<NonNullable<T[K]>>] extends [never] ? never : K }[DataKeys<T>];

/**
 * What `populate` accepts: the references of T, and those inside its plain embedded documents and
 * arrays of them, by dotted path (`'address.country'`, `'lines.product'`), up to three levels deep.
 */
export type RefPaths<T> = RefPathsOf<T, []>;

type RefPathsOf<T, D extends unknown[]> = D['length'] extends 3 ? never : {
  [K in DataKeys<T>]-?: [RefTarget<NonNullable<T[K]>>] extends [never]
    ? (EmbeddedIn<NonNullable<T[K]>> extends infer E ? ([E] extends [never] ? never : `${K}.${RefPathsOf<E, [...D, unknown]>}`) : never)
    : K
}[DataKeys<T>];

/** The embedded document a field holds (one element of an array of them); never for values and encrypted documents. */
type EmbeddedIn<V> = KindOf<V> extends 'plain'
  ? (V extends Leaf ? never : V extends readonly (infer E)[] ? (NonNullable<E> extends Leaf ? never : KindOf<NonNullable<E>> extends 'plain' ? NonNullable<E> : never) : V)
  : never;

/**
 * T with the references K loaded: each holds the referenced document, or null when no document
 * has that id; a field that held no id keeps its null or undefined. A reference inside embedded
 * documents (`'lines.product'`) is loaded in each of them, arrays included.
 */
export type Populated<T, K extends string> = {
  [P in keyof T]: P extends K
    ? RefTarget<NonNullable<T[P]>> | null | Extract<T[P], undefined>
    : P extends HeadOf<K> ? PopulatedInside<T[P], TailOf<K, P & string>> : T[P];
};

type HeadOf<K extends string> = K extends `${infer H}.${string}` ? H : never;
type TailOf<K extends string, P extends string> = K extends `${P}.${infer R}` ? R : never;
type PopulatedInside<V, K extends string> = V extends null | undefined ? V : V extends readonly (infer E)[] ? PopulatedInside<E, K>[] : Populated<V, K>;

// ---------------------------------------------------------------------------------------------
// Change streams (MongoDB manual, "Change Events")

/** The resume token of a change event (its `_id`): pass it as `resumeAfter` or `startAfter`. */
export type ResumeToken = Readonly<Record<string, unknown>>;

interface ChangeEventBase {
  _id: ResumeToken;
  clusterTime?: Timestamp;
  wallTime?: Date;
  ns?: { db: string; coll?: string };
}

/** The paths an update set, with their values decrypted; a path the model declares is typed with its declared type. */
export type UpdatedFields<T> = { readonly [P in Paths<T>]?: PathValue<T, P> } & { readonly [path: string]: unknown };

/** What an update changed, as the server describes it (updated values decrypted; removed paths and truncated arrays as sent). */
export interface UpdateDescription<T> {
  updatedFields: UpdatedFields<T>;
  removedFields: string[];
  truncatedArrays?: Array<{ field: string; newSize: number }>;
  disambiguatedPaths?: Readonly<Record<string, unknown>>;
}

/** `fullDocumentBeforeChange`, present when the stream asks for it and the collection keeps pre-images. */
interface PreImage<T> { fullDocumentBeforeChange?: T | null }

/** A document was inserted; `fullDocument` is the new document, decrypted and hydrated. */
export interface InsertEvent<T> extends ChangeEventBase { operationType: 'insert'; documentKey: { _id: IdOf<T> }; fullDocument: T }
/** `fullDocument` is there with the `fullDocument` option (null when the document is gone by then). */
export interface UpdateEvent<T> extends ChangeEventBase, PreImage<T> { operationType: 'update'; documentKey: { _id: IdOf<T> }; updateDescription: UpdateDescription<T>; fullDocument?: T | null }
/** A document was replaced; `fullDocument` is the replacement (null when the document is gone by then). */
export interface ReplaceEvent<T> extends ChangeEventBase, PreImage<T> { operationType: 'replace'; documentKey: { _id: IdOf<T> }; fullDocument: T | null }
/** A document was deleted; only its `_id` (and the pre-image, when asked for) remains. */
export interface DeleteEvent<T> extends ChangeEventBase, PreImage<T> { operationType: 'delete'; documentKey: { _id: IdOf<T> } }
/** Events about the collection itself; `invalidate` ends the stream. */
export interface CollectionEvent extends ChangeEventBase { operationType: 'drop' | 'rename' | 'dropDatabase' | 'invalidate'; to?: { db: string; coll: string } }

/** One change of a model's collection, with `fullDocument` and updated values decrypted and typed. */
export type ChangeEvent<T> = InsertEvent<T> | UpdateEvent<T> | ReplaceEvent<T> | DeleteEvent<T> | CollectionEvent;

/** A change event as a change-stream `$match` sees it: `fullDocument.<path>` (and the pre-image's) is typed and refused like the model's path. */
export interface ChangeEventDocument<T> {
  _id: ResumeToken;
  operationType: ChangeEvent<T>['operationType'];
  ns: { db: string; coll: string };
  documentKey: { _id: IdOf<T> };
  fullDocument: T;
  fullDocumentBeforeChange: T;
  clusterTime: Timestamp;
  wallTime: Date;
}

/** The stages a change-stream pipeline may hold (MongoDB manual, "Modify Change Stream Output"); `$match` is typed. */
export type ChangeStreamStage<T> =
  | { $match: Filter<ChangeEventDocument<T>> }
  | { $project: Readonly<Record<string, unknown>> }
  | { $addFields: Readonly<Record<string, unknown>> }
  | { $set: Readonly<Record<string, unknown>> }
  | { $unset: string | readonly string[] }
  | { $replaceRoot: { newRoot: unknown } }
  | { $replaceWith: unknown }
  | { $redact: unknown };

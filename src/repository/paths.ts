/*
 * Typed dotted paths into a model, the ground the query types stand on.
 *
 * A model is flattened once into a union of `PathEntry`s, one per addressable path, each
 * carrying the declared value type and how that value is stored (plain, Deterministic,
 * Random). Filter, update, sort and projection types are then plain mapped types over that
 * union, so every rule is decided per entry instead of by re-parsing path strings, and the
 * flattening is shared (TypeScript caches the instantiation per model).
 */
import type { BrandCarrier, EncryptionKind } from '../metadata/brands';

/** How the value at a path is stored. */
export type FieldKind = 'plain' | 'Deterministic' | 'Random';

/**
 * What lies strictly below a path: the encryption kinds found there, plus 'unexplored' where
 * the depth cap stopped the walk (an unexplored subtree may hold anything, so it is treated as
 * if it held Random fields).
 */
export type InnerKind = 'Deterministic' | 'Random' | 'unexplored';

export interface PathEntry<P extends string = string, V = unknown, K extends FieldKind = FieldKind, I extends InnerKind = InnerKind> {
  readonly path: P;
  /** The declared type, brands included, `undefined` included for optional fields. */
  readonly value: V;
  readonly kind: K;
  /** never when everything below is plaintext. */
  readonly inner: I;
}

/**
 * How many containers (embedded documents or arrays) a path may enter. `address.city` enters
 * one, `contacts.phone` and `contacts.0.phone` two (the array, then the element document).
 * The cap keeps checking fast on deep or self-referencing models and keeps TypeScript far
 * from "type instantiation is excessively deep"; paths below it are not offered, and a
 * container at the cap counts as possibly holding encrypted fields.
 */
export type MaxPathDepth = 6;

/**
 * A BSON class instance (ObjectId, Binary, UUID, Decimal128, Long, Int32, Double, Timestamp, …).
 * Matched by shape rather than by class so that values from a second copy of the bson package
 * are still recognised.
 */
type BsonValue = { readonly _bsontype: string };

/** Values stored as one BSON value, with nothing inside that a path could address. */
export type Leaf = string | number | bigint | boolean | symbol | null | undefined | Date | RegExp | Uint8Array | BsonValue | Function;

type IsAny<V> = 0 extends 1 & V ? true : false;

/** 'plain' unless V carries an encryption brand. `any` counts as plain: nothing is known about it. */
export type KindOf<V> = IsAny<V> extends true
  ? 'plain'
  : EncryptionKind<V> extends infer K extends FieldKind ? ([K] extends [never] ? 'plain' : K) : 'plain';

/** String keys holding data: methods are not fields, and symbol keys (the brand among them) are never stored. A key typed `null` holds data too. */
type DataKeyOf<T, K extends keyof T> = K extends string ? ([NonNullable<T[K]>] extends [never] ? K : NonNullable<T[K]> extends Function ? never : K) : never;
export type DataKeys<T> = { [K in keyof T]-?: DataKeyOf<T, K> }[keyof T];

/**
 * Removes an encryption brand. Inference from `L & Carrier` strips the carrier while keeping
 * literal types (`Deterministic<'a' | 'b'>` gives `'a' | 'b'`, not string).
 */
type Unbrand<V> = V extends infer L & BrandCarrier<'Deterministic'>
  ? L
  : V extends infer L & BrandCarrier<'Random'> ? L : V;

/**
 * The plain data of a model or value: data properties only (no methods), encryption brands
 * removed at every depth, embedded classes turned into their plain shape. This is what a
 * user writes as an object literal.
 */
export type Plain<T> = T extends unknown
  ? IsAny<T> extends true
    ? T
    : [EncryptionKind<T>] extends [never] ? PlainUnbranded<T> : PlainUnbranded<Unbrand<T>>
  : never;

type PlainUnbranded<T> = T extends Leaf
  ? T
  : T extends readonly (infer E)[] ? Plain<E>[] : { [K in keyof T as DataKeyOf<T, K>]: Plain<T[K]> };

/** Marks a subtree the depth cap stopped at: no path of its own, but it makes its ancestors cautious. */
type Unexplored = PathEntry<never, never, 'plain', 'unexplored'>;

/*
 * The flattening. Parameters:
 * - Idx: what addresses one array element in a path segment (never: elements are not addressable).
 * - Implicit: whether `contacts.phone` reaches the phone of every element, as it does in filters.
 * - D: containers entered so far, as a tuple whose length is compared with MaxPathDepth.
 */
type DocumentEntries<T, Prefix extends string, Idx extends string, Implicit extends boolean, D extends unknown[]> = {
  [K in DataKeys<T>]: ValueEntries<T[K], `${Prefix}${K}`, Idx, Implicit, D>;
}[DataKeys<T>];

/** The entry for the path itself, then the ones below it. An encrypted value is opaque: nothing below it is addressable. */
type ValueEntries<V, P extends string, Idx extends string, Implicit extends boolean, D extends unknown[]> =
  [KindOf<V>] extends ['plain']
    ? Children<NonNullable<V>, P, Idx, Implicit, D> extends infer C extends PathEntry
      ? PathEntry<P, V, 'plain', Exclude<C['kind'], 'plain'> | C['inner']> | C
      : never
    : PathEntry<P, V, KindOf<V>, never>;

type Children<V, P extends string, Idx extends string, Implicit extends boolean, D extends unknown[]> =
  IsAny<V> extends true
    ? PathEntry<`${P}.${string}`, any, 'plain', never>
    : V extends Leaf
      ? never
      : D['length'] extends MaxPathDepth
        ? Unexplored
        : V extends readonly (infer E)[]
          ? ElementEntries<E, P, Idx, Implicit, [...D, unknown]>
          : DocumentEntries<V, `${P}.`, Idx, Implicit, [...D, unknown]>;

/**
 * Elements by position (`contacts.0`), and through the array (`contacts.phone`). Where
 * elements are not addressable, their entries are still made, with path never: no mapped
 * type gives them a key, but what they hold still counts in the array's `inner` (an array of
 * Random values must not sort or rename as plaintext). Implicit traversal already covers
 * that for elements that are plain documents.
 */
type ElementEntries<E, P extends string, Idx extends string, Implicit extends boolean, D extends unknown[]> =
  | ([Idx] extends [never]
      ? [Implicit, IsPlainDocument<NonNullable<E>>] extends [true, true] ? never : ValueEntries<E, never, Idx, Implicit, D>
      : ValueEntries<E, `${P}.${Idx}`, Idx, Implicit, D>)
  | (Implicit extends true ? ImplicitEntries<NonNullable<E>, P, Idx, D> : never);

type IsPlainDocument<E> = [KindOf<E>] extends ['plain']
  ? IsAny<E> extends true ? false : [E] extends [Leaf | readonly unknown[]] ? false : true
  : false;

/** MongoDB looks through one array level, and only into documents: `contacts.phone`, but not `matrix.0` via `matrix`. */
type ImplicitEntries<E, P extends string, Idx extends string, D extends unknown[]> =
  [KindOf<E>] extends ['plain']
    ? IsAny<E> extends true
      ? never
      : E extends Leaf | readonly unknown[]
        ? never
        : D['length'] extends MaxPathDepth ? Unexplored : DocumentEntries<E, `${P}.`, Idx, true, [...D, unknown]>
    : never;

/** Paths as filters see them: numeric element indexes, and implicit traversal of arrays of documents. */
export type FilterEntries<T> = DocumentEntries<T, '', `${number}`, true, []>;

/**
 * Paths as update operators see them: element indexes and the positional operators
 * (`$`, `$[]`, `$[id]`), but no implicit traversal (`$set: { 'contacts.phone': … }` is an
 * error in MongoDB). `_id` is immutable, so it is left out.
 */
export type UpdateEntries<T> = WithoutId<DocumentEntries<T, '', `${number}` | '$' | `$[${string}]`, false, []>>;

/** Paths as sort and projection see them: fields of documents, through arrays implicitly, no element indexes. */
export type FieldEntries<T> = DocumentEntries<T, '', never, true, []>;

/** Paths $rename accepts: MongoDB cannot rename inside arrays. */
export type RenameEntries<T> = WithoutId<DocumentEntries<T, '', never, false, []>>;

type WithoutId<E> = E extends PathEntry<'_id' | `_id.${string}`> ? never : E;

/** Every dotted path of T a filter may name: `address.city`, `contacts.phone`, `contacts.0.phone`. */
export type Paths<T> = FilterEntries<T>['path'];

/** The declared type at path P of T (brands kept, so the encryption kind stays visible). */
export type PathValue<T, P extends Paths<T>> = ValueAt<FilterEntries<T>, P>;

type ValueAt<E, P extends string> = E extends PathEntry ? (P extends E['path'] ? E['value'] : never) : never;

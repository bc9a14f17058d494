/*
 * Phantom brands: they exist only for the type checker, so an encrypted field reads and
 * assigns as its plain type while query and update types can still tell how it is encrypted.
 * The price is that `design:type` of a branded property is Object (an intersection type),
 * which is why @Encrypted sometimes needs an explicit bsonType.
 */
declare const encryptedKind: unique symbol;

/** A property encrypted with the Deterministic algorithm: reads as T; equality queries still work on it. */
export type Deterministic<T> = T & { readonly [encryptedKind]?: 'Deterministic' };
/** A property encrypted with the Random algorithm: reads as T; the server can no longer compare it. */
export type Random<T> = T & { readonly [encryptedKind]?: 'Random' };

/**
 * 'Deterministic' | 'Random' for a branded type, never otherwise.
 * Test "not encrypted" as `[EncryptionKind<V>] extends [never]`: a bare `never` distributes.
 */
export type EncryptionKind<V> = V extends unknown
  ? typeof encryptedKind extends keyof V
    ? NonNullable<V[typeof encryptedKind & keyof V]>
    : never
  : never;

/** What a property must look like for `@Encrypted({ algorithm: A })` to apply to it. */
export type BrandCarrier<A> = { readonly [encryptedKind]?: A };

/**
 * Types the `key` parameter of a decorator so that it refuses properties whose type carries a
 * brand in `Refused`: `K & never` matches no key, so the decorator does not compile there.
 * Private properties are not in `keyof T` and stay accepted (their type cannot be read).
 */
export type KeyWithout<T, K extends string | symbol, Refused> =
  K extends keyof T ? ([Extract<EncryptionKind<T[K]>, Refused>] extends [never] ? unknown : never) : unknown;

/**
 * What a decorated class must be for a key function declared on `(doc: D) => string`: its
 * instances fit D. On a mismatch the decorator's parameter demands a property naming the problem,
 * so the compile error says what is wrong.
 */
export type FitsKeyFunction<T, D> = [T] extends [D] ? unknown : { 'the key function\'s document type does not fit the model': D };

import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { isBsonValue } from '../bson/documents';
import type { BrandCarrier, FitsKeyFunction, KeyWithout } from './brands';
import type {
  ArrayFieldOptions, CompoundIndexOptions, EmbeddedOptions, EncryptedOptions, FieldOptions, IdOptions,
  IndexOptions, ModelOptions,
} from './options';
import { rawClassFor, rawPropertyFor, type RawProperty } from './store';
import type { Algorithm, IndexDirection } from './types';

/**
 * Marks a class as stored in `db.collection`; `keyAltName`/`keyId` set the default data key of
 * its encrypted fields. A key function's document type must fit the class's instances.
 */
export function Model<D = unknown>(options: ModelOptions<D>) {
  return <C extends abstract new (...args: never[]) => D>(target: C): void => {
    rawClassFor(target).model = { ...options } as ModelOptions;
  };
}

/** The document's `_id` (type from the property type, or `bsonType`; objectId when neither tells). */
export function Id(options: IdOptions = {}): PropertyDecorator {
  return (target, key) => {
    record(target, key, 'Id').id = { ...options };
  };
}

/**
 * A plain field, stored under its property name as written. On a property typed
 * `Deterministic<T>` or `Random<T>` it does not compile: the value would be stored in the clear
 * while query types treat it as encrypted (use @Encrypted there).
 */
export function Field(options: FieldOptions = {}) {
  return <T extends object, K extends string | symbol>(target: T, key: K & KeyWithout<T, K, Algorithm>): void => {
    record(target, key, 'Field').field = { ...options };
  };
}

/**
 * An embedded document of class `type()`; the thunk allows classes declared later in the file.
 * Not on a `Deterministic<T>` property (Deterministic cannot encrypt documents); on a
 * `Random<T>` one only together with @Encrypted({ algorithm: 'Random' }), which encrypts it whole.
 */
export function Embedded(type: () => Function, options: EmbeddedOptions = {}) {
  return <T extends object, K extends string | symbol>(target: T, key: K & KeyWithout<T, K, 'Deterministic'>): void => {
    record(target, key, 'Embedded').embedded = { factory: type, isArray: false, options: { ...options } };
  };
}

/**
 * An array of embedded documents of class `type()`.
 * Not on a `Deterministic<T>` property (Deterministic cannot encrypt documents); on a
 * `Random<T>` one only together with @Encrypted({ algorithm: 'Random' }), which encrypts it whole.
 */
export function EmbeddedArray(type: () => Function, options: EmbeddedOptions = {}) {
  return <T extends object, K extends string | symbol>(target: T, key: K & KeyWithout<T, K, 'Deterministic'>): void => {
    record(target, key, 'EmbeddedArray').embedded = { factory: type, isArray: true, options: { ...options } };
  };
}

/**
 * An array of scalars, e.g. `@ArrayField({ of: 'string' }) tags!: string[]`. Not on a
 * `Deterministic<T>` property (Deterministic cannot encrypt arrays); on a `Random<T>` one only
 * together with @Encrypted({ algorithm: 'Random' }).
 */
export function ArrayField(options: ArrayFieldOptions) {
  return <T extends object, K extends string | symbol>(target: T, key: K & KeyWithout<T, K, 'Deterministic'>): void => {
    record(target, key, 'ArrayField').arrayField = { ...options };
  };
}

/**
 * Client-side encryption of the field. The property type must carry the matching brand
 * (`Deterministic<T>` or `Random<T>`), so query types know what the server can still compare;
 * a mismatch is a compile error ("Unable to resolve signature of property decorator").
 */
export function Encrypted<A extends Algorithm, D = unknown>(options: EncryptedOptions<A, D>) {
  return <T extends { readonly [P in K]?: BrandCarrier<A> }, K extends string>(target: T & FitsKeyFunction<T, D>, key: K): void => {
    record(target, key, 'Encrypted').encrypted = { ...options } as EncryptedOptions;
  };
}

/** A single-field index; on a field of an embedded class the key is the full dotted path. */
export function Index(options: IndexOptions = {}): PropertyDecorator {
  return (target, key) => {
    record(target, key, 'Index').indexes.push({ ...options });
  };
}

/** A compound index over dotted paths, e.g. `@CompoundIndex({ lastName: 1, 'address.zip': -1 })`. */
export function CompoundIndex(spec: Record<string, IndexDirection>, options: CompoundIndexOptions = {}): ClassDecorator {
  return (target) => {
    rawClassFor(target).compoundIndexes.push({ spec: { ...spec }, options: { ...options } });
  };
}

/** The raw entry of a decorated property (shared with the entity decorators). */
export function record(target: object, key: string | symbol, decorator: string): RawProperty {
  const prop = rawPropertyFor(target, key, decorator);
  if (prop.decorators.length === 1) {
    // Registered once, whatever the decorator order; both consult `prop` when they run.
    Type((options) => classTransformerType(prop, options?.object[key as string]))(target, key);
    Transform(keepBsonValues, { toClassOnly: true })(target, key);
  }
  return prop;
}

/*
 * Left to guess, class-transformer rebuilds any object it meets as `new value.constructor()`
 * plus a copy of its keys: that throws for Decimal128 (and is how ObjectIds get mangled where
 * a bson version keeps the id out of the copied keys). Naming a type stops the guessing: the
 * embedded class for a plain document, Object for anything else (a BSON value, or a
 * still-encrypted embedded document).
 */
function classTransformerType(prop: RawProperty, value: unknown): Function {
  return prop.embedded && !isBsonValue(value) ? (prop.embedded.factory() as Function) : Object;
}

/** The copy class-transformer made of a BSON value is a husk: hand back the original. */
function keepBsonValues({ value, obj, key }: { value: unknown; obj: Record<string, unknown>; key: string }): unknown {
  const original = obj[key];
  if (isBsonValue(original)) return original;
  if (Array.isArray(original) && original.some(isBsonValue)) return original;
  return value;
}

import { Field } from './decorators';
import type { BsonType } from './types';

declare const refTarget: unique symbol;

/**
 * A reference to a document of model C, stored as its `_id` (an ObjectId unless said otherwise).
 * A phantom brand like Deterministic/Random: it reads and assigns as the id, while
 * `repository.populate` knows which model the id points to.
 */
export type Ref<C, Id = import('mongodb').ObjectId> = Id & { readonly [refTarget]?: C };

/** The model a Ref<C> points to; never for other types. */
export type RefTarget<V> = V extends unknown ? (typeof refTarget extends keyof V ? NonNullable<V[typeof refTarget & keyof V]> : never) : never;

/** Options of @Ref: the referenced `_id` type and whether the reference may be absent. */
export interface RefOptions {
  /** The BSON type of the referenced model's `_id`: objectId unless the target declares another. */
  bsonType?: BsonType;
  optional?: boolean;
}

const targets = new WeakMap<Function, Map<string, () => Function>>();

/**
 * `@Ref(() => Customer) customer!: Ref<Customer>`: a plain field holding the `_id` of a
 * Customer; `repository.populate(items, 'customer')` loads the customers. The thunk allows
 * classes declared later in the file.
 */
export function Ref(target: () => Function, options: RefOptions = {}) {
  return (prototype: object, key: string): void => {
    Field({ bsonType: options.bsonType ?? 'objectId', optional: options.optional })(prototype, key);
    const model = prototype.constructor;
    let refs = targets.get(model);
    if (!refs) targets.set(model, (refs = new Map()));
    refs.set(key, target);
  };
}

/** The model class a field of `model` (or of a class it extends) references, if it is a @Ref. */
export function refTargetOf(model: Function, key: string): Function | undefined {
  for (let c: unknown = model; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const thunk = targets.get(c as Function)?.get(key);
    if (thunk) return thunk();
  }
  return undefined;
}

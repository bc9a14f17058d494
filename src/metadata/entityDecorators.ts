/*
 * Decorators for what an entity is besides its data: the fields writes maintain (timestamps and
 * the version used for optimistic concurrency) and the methods called around writes and reads.
 */
import { record } from './decorators';
import { rawClassFor } from './store';
import type { HookEvent } from './types';

/** The time the document was inserted (a Date, set by every insert and upsert, never changed by updates). */
export function CreatedAt(): PropertyDecorator {
  return (target, key) => {
    const prop = record(target, key, 'CreatedAt');
    prop.field = { bsonType: 'date' };
    prop.stamp = 'createdAt';
  };
}

/** The time of the last write (a Date, set by every insert, update, replacement, upsert and save). */
export function UpdatedAt(): PropertyDecorator {
  return (target, key) => {
    const prop = record(target, key, 'UpdatedAt');
    prop.field = { bsonType: 'date' };
    prop.stamp = 'updatedAt';
  };
}

/**
 * The document's version (an int starting at 1): every update increments it, and save() of a
 * loaded entity only applies when the stored version is still the one it loaded.
 */
export function Version(): PropertyDecorator {
  return (target, key) => {
    const prop = record(target, key, 'Version');
    prop.field = { bsonType: 'int' };
    prop.stamp = 'version';
  };
}

function hook(event: HookEvent): () => MethodDecorator {
  return () => (target, key) => {
    // A static method is recorded too: resolution refuses it, naming the class.
    const ctor = typeof target === 'function' ? target : (target.constructor as Function);
    rawClassFor(ctor).hooks.push({ event, method: key });
  };
}

/** Called on the entity (plaintext) after defaults and timestamps, before validation and encryption of an insert. */
export const BeforeInsert = hook('beforeInsert');
/** Called on the inserted entity after the server acknowledged the insert. */
export const AfterInsert = hook('afterInsert');
/** Called by save() on a loaded entity before its changes are computed, validated and encrypted. */
export const BeforeUpdate = hook('beforeUpdate');
/** Called by save() on the entity after the server applied its changes. */
export const AfterUpdate = hook('afterUpdate');
/** Called by remove() before the delete is sent. */
export const BeforeDelete = hook('beforeDelete');
/** Called by remove() after the server deleted the document. */
export const AfterDelete = hook('afterDelete');
/** Called on every entity a read returns, after decryption. */
export const AfterLoad = hook('afterLoad');

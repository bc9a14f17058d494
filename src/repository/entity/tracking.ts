/*
 * What each entity looked like when Strongbox last read or wrote it, so save() can send only
 * what changed. A read keeps the document's BSON bytes it was read from (no decoding; the cursor
 * copies each document out of the server's reply, so a kept entity keeps its own bytes, not its
 * whole batch). A write keeps the plaintext it wrote as a detached copy: its own arrays, objects,
 * Maps, Dates and BSON values (a large Binary as its digest, see largeBytes), sharing only
 * strings, numbers, booleans and bigints, which cannot change under it, and UndecryptableValue
 * markers left where they were read. Serializing it instead would encode every string of the
 * document a second time after the driver did, which costs as much as the insert's own
 * serialization for a document of long strings. Any other object (a class instance, a typed array)
 * is kept as BSON writes it; a document whose copy BSON would write differently is kept serialized.
 *
 * The snapshot lives on the entity itself, under a symbol of this module's own, not enumerable
 * (Object.keys, spread, JSON, BSON and console.log leave it out), so it dies with the entity in the
 * garbage collector's next young-generation pass. A WeakMap keyed by the entity holds its value until
 * a full collection proves the key dead, so snapshots of dropped entities pile up in the old
 * generation (measured in a loop of 200 inserts of a 2.4 MB binary whose entities are dropped at
 * once: 16 full collections against 1, twice the CPU per insert). Proxies and non-extensible
 * entities, which cannot carry it, are kept in a WeakMap.
 */
import { BSON, type Document } from 'mongodb';
import { types } from 'node:util';
import { AS_THE_DRIVER_WRITES, detachedValue, isBsonValue, NOT_AS_WRITTEN, NOT_DETACHED, readAsBsonWrites } from '../../bson/documents';
import type { ModelShape } from '../../metadata/types';
import { UndecryptableValue } from '../../stored/undecryptable';
import { BytesDigest } from './largeBytes';

type Snapshot = Uint8Array | Document | 'partial';

const SNAPSHOT = Symbol('strongbox snapshot');

/** Reads a holder: the snapshot it holds for `entity`; undefined for anything else (set once, by Held). */
let openHeld: (value: unknown, entity: object) => Snapshot | undefined;
/** Changes the snapshot a holder keeps for `entity`; false when `value` is not that entity's holder. */
let refillHeld: (value: unknown, entity: object, snapshot: Snapshot | undefined) => boolean;

/**
 * What the symbol holds, for the entity's whole life: the snapshot in a private field, for the one
 * entity it was made for. The property is neither writable nor configurable, so nothing replaces
 * or removes the holder (copying another entity's descriptors onto a tracked entity throws there
 * and then); the holder is frozen and its prototype is empty, so code that walks every own key (a deep
 * clone, freeze or sanitizer) finds an empty object, no class to construct one from, nothing to
 * read or change. A copy of the entity that carries the holder over (`Object.getOwnPropertyDescriptors`,
 * every key of `Reflect.ownKeys`) is not its owner: untracked, as it was with a WeakMap, so its
 * save() inserts instead of rewriting the original's document.
 */
class Held {
  readonly #owner: object;
  // Private fields stay writable on a frozen object: freezing only fixes its properties.
  #snapshot: Snapshot | undefined;

  constructor(owner: object, snapshot: Snapshot | undefined) {
    this.#owner = owner;
    this.#snapshot = snapshot;
    Object.freeze(this);
  }

  static {
    const owned = (value: unknown, entity: object): value is Held => typeof value === 'object' && value !== null && #owner in value && value.#owner === entity;
    openHeld = (value, entity) => (owned(value, entity) ? value.#snapshot : undefined);
    refillHeld = (value, entity, snapshot) => {
      if (!owned(value, entity)) return false;
      value.#snapshot = snapshot;
      return true;
    };
  }
}

// The holders' prototype hands out nothing: no constructor to build a holder with, no methods, no
// Object.prototype. (Set once here: setting each holder's prototype to null doubled the cost of tracking a read.)
Object.setPrototypeOf(Held.prototype, null);
delete (Held.prototype as { constructor?: unknown }).constructor;
Object.freeze(Held.prototype);

/**
 * Snapshots of entities that cannot carry a holder of their own: a Proxy (its traps would see the
 * symbol and could answer for it), an object that was not extensible when first tracked, or one
 * that already carries another entity's holder.
 */
const elsewhere = new WeakMap<object, Snapshot | undefined>();

/** Sets the entity's snapshot; undefined forgets it. */
function keep(entity: object, snapshot: Snapshot | undefined): void {
  if (!types.isProxy(entity) && !elsewhere.has(entity)) {
    if (Object.prototype.hasOwnProperty.call(entity, SNAPSHOT)) {
      if (refillHeld((entity as Record<symbol, unknown>)[SNAPSHOT], entity, snapshot)) return;
    } else if (Object.isExtensible(entity)) {
      Object.defineProperty(entity, SNAPSHOT, { value: new Held(entity, snapshot), writable: false, configurable: false, enumerable: false });
      return;
    }
  }
  elsewhere.set(entity, snapshot);
}

/** Only an own property: an object whose prototype is a tracked entity has no snapshot of its own. */
function keptFor(entity: object): Snapshot | undefined {
  if (types.isProxy(entity) || elsewhere.has(entity)) return elsewhere.get(entity);
  return Object.prototype.hasOwnProperty.call(entity, SNAPSHOT) ? openHeld((entity as Record<symbol, unknown>)[SNAPSHOT], entity) : undefined;
}

/** Entities as read, each with the stored bytes it was read from; `partial` when a projection left fields out. */
export function trackRead(entities: readonly object[], stored: readonly Uint8Array[], partial: boolean): void {
  for (let i = 0; i < entities.length; i++) keep(entities[i], partial ? 'partial' : stored[i]);
}

/** What a write keeps of the plaintext it sends, until the write succeeds and an entity takes it. */
export type KeptWrite = Uint8Array | Document;

/**
 * Taken just before the plaintext `written` (a document of `shape`) is handed to the driver: a
 * value the application changes while the write is in flight is then at worst newer in the entity
 * than in the snapshot, which the next save() sends, and never newer in the snapshot than in what
 * was stored. A large byte value of a plain field that save() compares as a whole (a field of the
 * document or of an embedded document stored in the clear) is kept as its digest (see largeBytes).
 */
export function keepWritten(shape: ModelShape, written: Document): KeptWrite {
  const copy = copyValue(written, 0, shape);
  return copy === UNCOPIED ? BSON.serialize(written, AS_THE_DRIVER_WRITES) : copy as Document;
}

/** An entity after a successful write: `kept` is what keepWritten took of the plaintext the server now holds. */
export function trackWritten(entity: object, kept: KeptWrite): void {
  keep(entity, kept);
}

/** The snapshot, decoded (a fresh copy each time): stored form after a read (ciphertext included), plaintext after a write. */
export function snapshotOf(entity: object): Document | 'partial' | undefined {
  const kept = keptFor(entity);
  if (kept === undefined || kept === 'partial') return kept;
  // Deserialized from a copy of the bytes: a Binary read from them is a view into them, which a change through it would rewrite.
  return kept instanceof Uint8Array ? BSON.deserialize(new Uint8Array(kept)) : copyValue(kept, 0) as Document;
}

/** Entities a save() is inserting right now: a second save() of one would insert a second document. */
const inserting = new WeakSet<object>();

/** Marks `entity` as being inserted; false when it already is. */
export function startInsert(entity: object): boolean {
  if (inserting.has(entity)) return false;
  inserting.add(entity);
  return true;
}

export function endInsert(entity: object): void {
  inserting.delete(entity);
}

export function forget(entity: object): void {
  keep(entity, undefined);
}

/** What copyValue returns for a value it leaves to BSON. */
const UNCOPIED = Symbol('uncopied');

/** Deeper than MongoDB accepts (100 levels): left to BSON, which refuses it as it would. */
const MAX_DEPTH = 100;

/**
 * A copy of `value` that nothing done to the original can change, equal to what a BSON round
 * trip gives (undefined becomes null, as the driver writes it); UNCOPIED for any value
 * whose copy only BSON knows, so the caller serializes the whole document instead. `shape`, when
 * `value` is a document of it whose fields save() compares one by one: large byte values of its
 * plain fields are kept as digests.
 */
function copyValue(value: unknown, depth: number, shape?: ModelShape): unknown {
  switch (typeof value) {
    // Immutable, so shared; a bigint is written as a long.
    case 'string': case 'number': case 'boolean': case 'bigint': return value;
    case 'object': break;
    // The driver writes undefined as null, in documents and arrays alike (its default, which createClient keeps).
    case 'undefined': return null;
    // Functions and symbols.
    default: return UNCOPIED;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH) return UNCOPIED;
  // Most objects in a document are object literals (embedded documents): copied key by key, without the tests below.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype && !isBsonValue(value) && typeof (value as { toBSON?: unknown }).toBSON !== 'function') return copyFields(value, depth, shape);
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = copyValue(value[i], depth + 1);
      if (item === UNCOPIED) return UNCOPIED;
      out[i] = item;
    }
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  // Immutable: a snapshot copied again shares it.
  if (value instanceof BytesDigest) return value;
  // A marker left where it was read stands for the stored ciphertext, which the write did not touch;
  // it refuses to be serialized, and save() compares it with the entity's by what it stands for.
  if (value instanceof UndecryptableValue) return value;
  if (isBsonValue(value)) return copyBsonValue(value, depth);
  // A Map is written as a document of its entries, in their order: kept as a Map.
  if (value instanceof Map) {
    const entries: Array<[unknown, unknown]> = [];
    for (const [key, item] of value.entries()) {
      const copied = copyValue(item, depth + 1);
      if (copied === UNCOPIED) return UNCOPIED;
      entries.push([key, copied]);
    }
    return new Map(entries);
  }
  // Any other object (a RegExp, a class instance, one with toBSON, whose own toBSON says what is
  // written): as BSON writes it, or, where no copy is written the same way, the whole document serialized.
  if (prototype !== Object.prototype && prototype !== null || typeof (value as { toBSON?: unknown }).toBSON === 'function') {
    const copy = readAsBsonWrites(value);
    return copy === NOT_AS_WRITTEN ? UNCOPIED : copy;
  }
  return copyFields(value, depth, shape);
}

/** copyValue of an object literal (or a null-prototype object): its own enumerable keys, each value copied. */
function copyFields(value: object, depth: number, shape: ModelShape | undefined): unknown {
  const out: Document = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const item = (value as Record<string, unknown>)[key];
    // Assigned, it would replace the copy's prototype.
    if (key === '__proto__') return UNCOPIED;
    // A string, a number or a boolean is itself its copy (most values of a document).
    const type = typeof item;
    if (type === 'string' || type === 'number' || type === 'boolean') {
      out[key] = item;
      continue;
    }
    const field = shape?.fields.get(key);
    // A method or symbol the application put on an entity is no field of its model: save() never
    // compares it, and keeping it would force the whole snapshot to be serialized.
    if (shape !== undefined && field === undefined && (typeof item === 'function' || typeof item === 'symbol')) continue;
    const plain = field !== undefined && !field.encrypted && !field.isId;
    const digest = plain ? BytesDigest.of(item) : undefined;
    if (digest !== undefined) {
      out[key] = digest;
      continue;
    }
    const copied = copyValue(item, depth + 1, plain && field.embedded && !field.isArray ? field.embedded : undefined);
    if (copied === UNCOPIED) return UNCOPIED;
    out[key] = copied;
  }
  return out;
}

/** A copy of a BSON value with no state shared with it; UNCOPIED when only BSON knows one. */
function copyBsonValue(value: object, depth: number): unknown {
  let inside: unknown;
  const own = detachedValue(value, (item) => {
    const copied = copyValue(item, depth + 1);
    if (copied === UNCOPIED) inside = UNCOPIED;
    return copied;
  });
  return inside === UNCOPIED || own === NOT_DETACHED ? UNCOPIED : own;
}

/**
 * The snapshot a write keeps for save(): whether kept as a detached copy or serialized, it reads
 * back as the BSON round trip of the written document as the driver writes it (undefined as null), and nothing done to the written document
 * afterwards changes it.
 */
import { deepStrictEqual, ok as assert } from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Binary, BSON, Decimal128, Long, ObjectId, type Document } from 'mongodb';
import { inspect } from 'node:util';
import type { ModelShape } from '../../src/metadata/types';
import { forget, keepWritten, snapshotOf, trackWritten } from '../../src/repository/entity/tracking';

/** A shape declaring no fields: every value is copied. */
const UNDECLARED = { fields: new Map() } as unknown as ModelShape;

class Custom { constructor(public note: string) {} }

const key = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !k.startsWith('$') && !k.includes('.') && !k.includes('\0') && k !== '__proto__');
const scalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.double({ noNaN: true }).filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(bytes)),
  fc.tuple(fc.uint8Array({ maxLength: 20 }), fc.constantFrom(0, 4, 5, 128)).map(([bytes, subtype]) => new Binary(bytes, subtype)),
);
/** Values the snapshot copies by type (a Long, a Decimal128) or as BSON writes them (a class instance). */
const rare = fc.oneof(
  fc.constant(Long.fromNumber(5)),
  fc.constant(Decimal128.fromString('1.5')),
  fc.constant(new Custom('c')),
);
const value = (withRare: boolean) => fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, withRare ? fc.oneof(scalar, rare) : scalar, tie('array'), tie('doc')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  doc: fc.dictionary(key, fc.option(tie('value'), { nil: undefined }), { maxKeys: 4 }),
})).doc as fc.Arbitrary<Document>;

const roundTrip = (doc: Document) => BSON.deserialize(BSON.serialize(doc, { ignoreUndefined: false }));

/** Changes every mutable value inside `doc` in place. */
function mutate(doc: unknown): void {
  if (Array.isArray(doc)) { doc.forEach(mutate); doc.push('added'); return; }
  if (doc instanceof Date) { doc.setTime(doc.getTime() + 1); return; }
  if (doc instanceof ObjectId) { doc.id = new Uint8Array(12).fill(9); return; }
  if (doc instanceof Binary) { if (doc.position > 0) doc.buffer[0] ^= 0xff; return; }
  if (doc && typeof doc === 'object' && !('_bsontype' in doc)) {
    for (const k of Object.keys(doc)) mutate((doc as Document)[k]);
    (doc as Document).added = 1;
  }
}

const bytesOf = (doc: Document) => Buffer.from(BSON.serialize(doc, { ignoreUndefined: false }));

for (const withRare of [false, true]) {
  // Plain values read back as their BSON round trip; other values keep their BSON type (a Long stays a
  // Long, so save() compares it with the entity's by bytes): either way BSON writes the snapshot as it wrote the document.
  test(`the snapshot of a written document is written by BSON as the document was and does not follow changes to it (${withRare ? 'with BSON values and class instances' : 'plain values'})`, (t) => {
    fc.assert(fc.property(value(withRare), (doc) => {
      const entity = {};
      const expected = roundTrip(doc);
      const written = bytesOf(doc);
      trackWritten(entity, keepWritten(UNDECLARED, doc));
      mutate(doc);
      const first = snapshotOf(entity) as Document;
      if (withRare) assert(bytesOf(first).equals(written)); else deepStrictEqual(first, expected);
      // A snapshot read and changed leaves the kept one as it was.
      mutate(first);
      if (withRare) assert(bytesOf(snapshotOf(entity) as Document).equals(written)); else deepStrictEqual(snapshotOf(entity), expected);
    }), { numRuns: 300 });
    t.pass();
  });
}

/*
 * Where the snapshot lives: on the entity, under a symbol nothing else knows, so it dies with the
 * entity; elsewhere for objects that cannot carry it.
 */

const written = (name: string) => keepWritten(UNDECLARED, { _id: 1, name });

test('the snapshot rides on the entity without showing in its keys, spread, JSON, BSON, inspection or clones', (t) => {
  const entity: Record<string, unknown> = { _id: 1, name: 'ada' };
  trackWritten(entity, written('ada'));
  t.deepEqual(snapshotOf(entity), { _id: 1, name: 'ada' });
  t.deepEqual(Object.keys(entity), ['_id', 'name']);
  t.deepEqual({ ...entity }, { _id: 1, name: 'ada' });
  t.is(JSON.stringify(entity), '{"_id":1,"name":"ada"}');
  t.deepEqual(BSON.deserialize(BSON.serialize(entity)), { _id: 1, name: 'ada' });
  t.is(inspect(entity), "{ _id: 1, name: 'ada' }");
  // A copy of the entity is not the entity: nothing was read or written as it.
  t.is(snapshotOf(structuredClone(entity)), undefined);
  t.is(snapshotOf({ ...entity }), undefined);
});

test('an object whose prototype is a tracked entity has no snapshot of its own', (t) => {
  const entity = { _id: 1 };
  trackWritten(entity, written('ada'));
  t.is(snapshotOf(Object.create(entity) as object), undefined);
});

test('forget() leaves the entity untracked, and a later write tracks it again', (t) => {
  const entity = { _id: 1 };
  trackWritten(entity, written('ada'));
  forget(entity);
  t.is(snapshotOf(entity), undefined);
  trackWritten(entity, written('bob'));
  t.deepEqual(snapshotOf(entity), { _id: 1, name: 'bob' });
});

test('an entity frozen, sealed or made non-extensible keeps its latest snapshot', (t) => {
  for (const lock of [Object.freeze, Object.seal, Object.preventExtensions]) {
    const before = { _id: 1 };
    trackWritten(before, written('ada'));
    lock(before);
    trackWritten(before, written('bob'));
    t.deepEqual(snapshotOf(before), { _id: 1, name: 'bob' }, lock.name);
    forget(before);
    t.is(snapshotOf(before), undefined, lock.name);
    const from = lock({ _id: 2 });
    trackWritten(from, written('cyd'));
    t.deepEqual(snapshotOf(from), { _id: 1, name: 'cyd' }, lock.name);
  }
});

test('a Proxy entity never sees the snapshot, and its traps cannot answer for it', (t) => {
  const seen: PropertyKey[] = [];
  const liar = { value: keepWritten(UNDECLARED, { _id: 1, name: 'forged' }), writable: true, enumerable: false, configurable: true };
  const entity = new Proxy({ _id: 1 } as Record<PropertyKey, unknown>, {
    get: (target, key) => { seen.push(key); return target[key as string]; },
    has: (target, key) => { seen.push(key); return key in target; },
    defineProperty: (target, key, descriptor) => { seen.push(key); return Reflect.defineProperty(target, key, descriptor); },
    getOwnPropertyDescriptor: (target, key) => { seen.push(key); return typeof key === 'symbol' ? liar : Reflect.getOwnPropertyDescriptor(target, key); },
  });
  trackWritten(entity, written('ada'));
  t.deepEqual(snapshotOf(entity), { _id: 1, name: 'ada' });
  forget(entity);
  t.is(snapshotOf(entity), undefined);
  t.deepEqual(seen.filter((key) => typeof key === 'symbol'), []);
});

test('code that walks every own key of the entity can neither read nor change its snapshot, nor forge one', (t) => {
  const entity: Record<PropertyKey, unknown> = { _id: 1, name: 'ada ' };
  trackWritten(entity, written('ada '));
  const symbols = Object.getOwnPropertySymbols(entity);
  t.is(symbols.length, 1);
  const held = entity[symbols[0]] as object;
  // What a deep clone, freeze or sanitizer finds there: an empty frozen object.
  t.deepEqual(Reflect.ownKeys(held), []);
  t.true(Object.isFrozen(held));
  // A sanitizer trimming every string it reaches changes the entity, and save() must still see the change.
  entity.name = 'ada';
  t.deepEqual(snapshotOf(entity), { _id: 1, name: 'ada ' });
  // Nothing replaces or removes the holder, nor copies another entity's over it.
  t.throws(() => { entity[symbols[0]] = { value: { _id: 1, name: 'ada' } }; }, { instanceOf: TypeError });
  t.throws(() => { delete entity[symbols[0]]; }, { instanceOf: TypeError });
  t.throws(() => Object.defineProperty(entity, symbols[0], { value: {} }), { instanceOf: TypeError });
  t.deepEqual(snapshotOf(entity), { _id: 1, name: 'ada ' });
  // A holder carried over by a full-descriptor clone, or moved onto another entity, is not the copy's: it is untracked.
  const tracked: Record<PropertyKey, unknown> = { _id: 2 };
  trackWritten(tracked, written('bob'));
  t.is(snapshotOf(Object.create(Object.prototype, Object.getOwnPropertyDescriptors(tracked)) as object), undefined);
  const other: Record<PropertyKey, unknown> = { _id: 3 };
  Object.defineProperty(other, symbols[0], { value: tracked[symbols[0]] });
  t.is(snapshotOf(other), undefined);
  // Such a copy is tracked apart once written, and the original keeps its own snapshot.
  trackWritten(other, written('cyd'));
  t.deepEqual(snapshotOf(other), { _id: 1, name: 'cyd' });
  t.deepEqual(snapshotOf(tracked), { _id: 1, name: 'bob' });
  // The holder hands out no class to construct a forged one from.
  const holder = tracked[symbols[0]] as object;
  t.is((holder as { constructor?: unknown }).constructor, undefined);
  const prototype = Object.getPrototypeOf(holder) as object;
  t.deepEqual(Reflect.ownKeys(prototype), []);
  t.is(Object.getPrototypeOf(prototype), null);
});

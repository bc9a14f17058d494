/**
 * Markers and their copies are never written, property-based. An entity read under
 * `onUndecryptable: 'marker'` holds an UndecryptableValue where another field's ciphertext was
 * planted; generated code then copies that marker the ways the language and applications copy
 * objects (spread, Object.assign, a null-prototype copy, a change of prototype, a JSON round trip,
 * structuredClone, a Map of its entries, a Proxy), any number of times, wraps the copy (in an
 * array, an object, a Map, a class instance, a toBSON result) and writes it through a generated
 * write path (save(), updateOne $set / $push, findOneAndUpdate, replaceOne, insertMany, bulkWrite)
 * into a field encrypted whole, a free-form object or an untyped array. For every input, with
 * command monitoring: the marker's description (its path and reason) is never stored, in the
 * clear or encrypted; a write that is refused sends no write command; every refusal is a
 * StrongboxError (INPUT_UNDECRYPTABLE_WRITE_BACK; INPUT_MALFORMED for a Proxy of a Map, which nothing
 * can iterate), or structuredClone's own DataCloneError before any call; and the ciphertext behind the entity's other markers stays byte for byte.
 */
import test from 'ava';
import fc from 'fast-check';
import { BSON, ObjectId, type Document } from 'mongodb';
import { StrongboxError, UndecryptableValue } from '../../src/index';
import { bytesOf, plantMarkers, storedIn, untypedRepository, watchedClient } from '../harness/adversary';
import { defineMarkerModel } from '../harness/markerModel';
import { uniqueDbName } from '../harness/server';

const DB = uniqueDbName(__filename);
const { Doc } = defineMarkerModel(DB, 'marker-copies');


const watched = watchedClient(DB, [Doc]);
const repo = () => untypedRepository(watched.client, Doc);
const lenient = () => watched.client.repository(Doc as never, { onUndecryptable: 'marker' } as never) as any;
const coll = () => watched.raw.db(DB).collection('docs');
const writes = () => watched.sent.filter((c) => ['update', 'insert', 'findAndModify', 'delete'].includes(c.commandName));

class Holder { constructor(public inner: unknown) {} }

type Step = (value: any) => unknown;
/** Ways a value is copied. */
const copies: Record<string, Step> = {
  spread: (v) => ({ ...v }),
  assign: (v) => Object.assign({}, v),
  nullPrototype: (v) => Object.assign(Object.create(null), v),
  prototypeDropped: (v) => { const c = { ...v }; Object.setPrototypeOf(c, Object.prototype); return c; },
  json: (v) => JSON.parse(JSON.stringify(v)),
  structuredClone: (v) => structuredClone(v),
  mapOfEntries: (v) => new Map(Object.entries(v)),
  proxy: (v) => (typeof v === 'object' && v !== null ? new Proxy(v, {}) : v),
};
/** Ways a copy ends up inside another value. */
const wrappers: Record<string, Step> = {
  array: (v) => [1, { k: v }],
  object: (v) => ({ k: v }),
  map: (v) => new Map([['k', v]]),
  instance: (v) => new Holder(v),
  toBSON: (v) => ({ toBSON: () => v }),
};
const ways = ['save', 'updateOne', 'push', 'findOneAndUpdate', 'replaceOne', 'insertMany', 'bulkWrite'] as const;

const input = fc.record({
  steps: fc.array(fc.constantFrom(...Object.keys(copies)), { minLength: 1, maxLength: 3 }),
  wraps: fc.array(fc.constantFrom(...Object.keys(wrappers)), { maxLength: 2 }),
  field: fc.constantFrom('whole', 'extra', 'list'),
  way: fc.constantFrom(...ways),
});

/** Every string inside a stored value, decrypted where Strongbox can decrypt it. */
function textOf(value: unknown): string {
  return BSON.EJSON.stringify({ v: value as Document }, { relaxed: true });
}

test.serial('a copy of a marker, however made and wrapped, is never stored: refused before any write, or written as a value without the marker\'s description', async (t) => {
  const failures: string[] = [];
  await fc.assert(fc.asyncProperty(input, async ({ steps, wraps, field, way }) => {
    const planted = await plantMarkers(repo(), coll(), { name: 'a', ssn: 'x', whole: { w: 1 }, extra: { k: 1 }, list: [1, 2] }, { ssn: 'phone', whole: 'phone' });
    const entity = await lenient().findById(planted.id);
    const marker = entity.ssn as UndecryptableValue;
    if (!(marker instanceof UndecryptableValue)) throw new Error('the planted ciphertext was not read as a marker');
    const label = `${steps.join('>')} in ${wraps.join('>') || 'nothing'} at ${field} by ${way}`;
    let value: unknown = marker;
    try {
      for (const step of steps) value = copies[step](value);
    } catch (err) {
      // structuredClone copies no functions, so it refuses a marker: nothing to write.
      if ((err as Error).name !== 'DataCloneError') failures.push(`${label}: copying threw ${String(err)}`);
      return;
    }
    /** The value as written at `field`: `inner` wrapped, then placed as each write path needs it. */
    const placed = (inner: unknown): unknown => {
      let out = inner;
      for (const wrap of wraps) out = wrappers[wrap](out);
      if (field === 'extra' && !(typeof out === 'object' && out !== null && Object.getPrototypeOf(out) === Object.prototype)) out = { v: out };
      // In a list (and as the element $push appends), under a key: what a toBSON returns may be an array, and FerretDB stores no arrays of arrays.
      if (field === 'list' && way !== 'push') out = [{ v: out }];
      if (way === 'push') out = { v: out };
      return out;
    };
    const write = async (id: ObjectId, written: unknown): Promise<unknown> => {
      try {
        switch (way) {
          case 'save': entity[field] = written; await lenient().save(entity); break;
          case 'updateOne': await lenient().updateOne({ _id: id }, { $set: { [field]: written } }); break;
          case 'push': await lenient().updateOne({ _id: id }, { $push: { list: written } }); break;
          case 'findOneAndUpdate': await lenient().findOneAndUpdate({ _id: id }, { $set: { [field]: written } }); break;
          case 'replaceOne': await lenient().replaceOne({ _id: id }, { name: 'r', [field]: written }); break;
          case 'insertMany': await lenient().insertMany([{ _id: id, name: 'i', [field]: written }]); break;
          case 'bulkWrite': await lenient().bulkWrite([{ updateOne: { filter: { _id: id }, update: { $set: { [field]: written } } } }]); break;
        }
        return undefined;
      } catch (err) {
        return err;
      }
    };
    watched.sent.length = 0;
    const id = way === 'insertMany' ? new ObjectId() : planted.id;
    const error = await write(id, placed(value));
    const sentWrites = writes().length;
    const stored = await storedIn(coll(), id);
    if (error !== undefined) {
      // A refusal for another reason is the wrapping's, not the copy's, when the same wrapping of a
      // plain value is refused with the same code: a copy may have lost every trace of the marker
      // (a spread of a Map of its entries is {}), and then it is an ordinary value.
      const control = error instanceof StrongboxError && error.code !== 'INPUT_UNDECRYPTABLE_WRITE_BACK' ? await write(new ObjectId(), placed({ plain: 1 })) : undefined;
      const wrappingRefused = control instanceof StrongboxError && control.code === (error as StrongboxError).code;
      if (!(error instanceof StrongboxError)) failures.push(`${label}: refused with an untyped ${String(error)}`);
      // A Proxy of a Map cannot be iterated by anyone (Map methods check their receiver): no value BSON can write.
      else if (error.code !== 'INPUT_UNDECRYPTABLE_WRITE_BACK' && !wrappingRefused && !(error.code === 'INPUT_MALFORMED' && steps.join('>').includes('mapOfEntries>proxy'))) failures.push(`${label}: refused with ${error.code}: ${error.message}`);
      if (sentWrites > 0) failures.push(`${label}: refused after ${sentWrites} write command(s)`);
      if (stored && !bytesOf(stored).equals(bytesOf(planted.before))) failures.push(`${label}: refused, but the stored document changed`);
      return;
    }
    // Written: whatever was stored is the application's value, never the marker's description.
    const read = stored && await lenient().findById(id);
    const text = `${textOf(stored)} ${read ? textOf({ whole: read.whole, extra: read.extra, list: read.list }) : ''}`;
    if (text.includes(marker.reason) && text.includes(`"path":"${marker.path}"`)) failures.push(`${label}: the marker's description was stored: ${text.slice(0, 300)}`);
    // (insertMany writes another document; replaceOne replaces the whole document, ssn included.)
    if (stored && way !== 'insertMany' && way !== 'replaceOne' && !bytesOf(stored.ssn).equals(bytesOf(planted.before.ssn))) failures.push(`${label}: the ciphertext behind the marker at ssn changed`);
  }), { numRuns: Number(process.env.STRONGBOX_MARKER_COPY_RUNS ?? 120), seed: process.env.STRONGBOX_MARKER_COPY_SEED ? Number(process.env.STRONGBOX_MARKER_COPY_SEED) : undefined });
  t.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
});

/**
 * Writes read their input once, property-based. Generated documents whose embedded documents come
 * in every form an application hands over — an object literal, a class instance, a null-prototype
 * object, a class instance whose fields are getters answering differently on each read, one with a
 * toBSON that says something else, one whose fields are not enumerable — and values of a field
 * encrypted whole without a declared type, and inside a free-form object, in every form such a
 * value comes (an object literal, a class instance, one with getters, with a toBSON, a Map, a
 * literal holding an instance with getters) — go through insertOne,
 * save() of a new entity and save() of a loaded one, called as plain JavaScript calls them, with
 * command monitoring. For every input: no plaintext of an encrypted field in any command, log line
 * or error; the stored document holds exactly the values Strongbox read last (a second read for the
 * command or for the change-tracking snapshot would store one value and remember another); and a
 * save() of the entity an insert returned sends nothing.
 */
import test from 'ava';
import fc from 'fast-check';
import type { ObjectId } from 'mongodb';
import { Embedded, EmbeddedArray, Encrypted, Field, Id, Model, type Deterministic, type Random } from '../../src/index';
import { uniqueDbName } from '../harness/server';
import { LeakWatch, secretString } from './leakDetector';

const DB = uniqueDbName(__filename);

class Address {
  @Field() city!: string;
  @Encrypted({ algorithm: 'Random', bsonType: 'string' }) zip!: Random<string>;
}

class Contact {
  @Field() label!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) phone!: Deterministic<string>;
}

@Model({ db: DB, collection: 'people', keyAltName: 'read-once' })
class Person {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Deterministic', bsonType: 'string' }) ssn!: Deterministic<string>;
  @Embedded(() => Address) address!: Address;
  @EmbeddedArray(() => Contact) contacts!: Contact[];
  // Encrypted whole, any value: BSON decides what is stored (a class instance's fields, what toBSON returns).
  @Encrypted({ algorithm: 'Random', optional: true }) notes?: any;
  @Field({ bsonType: 'object', optional: true }) extra?: Record<string, unknown>;
}

type Form = 'literal' | 'instance' | 'nullPrototype' | 'getters' | 'toBSON' | 'hidden';
const FORMS: Form[] = ['literal', 'instance', 'nullPrototype', 'getters', 'toBSON', 'hidden'];

/** An embedded document as the application builds it; `current()` is what a read of each field gave last. */
interface Given { value: object; current(): Record<string, unknown> }

let counter = 0;
const plainText = () => `p${counter++}`;
const secret = () => secretString(counter++);

/** Field values by name: plain ones are readable, encrypted ones are secrets the leak watch looks for. */
function embedded(form: Form, cls: new () => object, plainName: string, secretName: string): Given {
  const fresh = () => ({ [plainName]: plainText(), [secretName]: secret() });
  const fixed = fresh();
  switch (form) {
    case 'literal': return { value: { ...fixed }, current: () => fixed };
    case 'instance': return { value: Object.assign(new cls(), fixed), current: () => fixed };
    case 'nullPrototype': return { value: Object.assign(Object.create(null) as object, fixed), current: () => fixed };
    case 'toBSON': {
      // What toBSON says is never what is stored: the fields are.
      const decoy = fresh();
      class Shown extends cls { toBSON() { return decoy; } }
      return { value: Object.assign(new Shown(), fixed), current: () => fixed };
    }
    case 'hidden': {
      const value = new cls();
      for (const [k, v] of Object.entries(fixed)) Object.defineProperty(value, k, { value: v, enumerable: false, writable: true, configurable: true });
      return { value, current: () => fixed };
    }
    case 'getters': {
      const last: Record<string, string> = {};
      const value = new cls();
      for (const name of [plainName, secretName]) {
        Object.defineProperty(value, name, {
          enumerable: true, configurable: true,
          get: () => (last[name] = name === secretName ? secret() : plainText()),
        });
      }
      return { value, current: () => ({ ...last }) };
    }
  }
}

type FreeForm = 'literal' | 'instance' | 'getters' | 'toBSON' | 'map' | 'nestedGetters';
const FREE_FORMS: FreeForm[] = ['literal', 'instance', 'getters', 'toBSON', 'map', 'nestedGetters'];

class Note {}

/** A value of a field the model does not shape; `current()` is what BSON read of it last. */
function freeForm(form: FreeForm, text: () => string): Given {
  const fixed = { a: text(), n: 7 };
  switch (form) {
    case 'literal': return { value: { ...fixed }, current: () => fixed };
    case 'instance': return { value: Object.assign(new Note(), fixed), current: () => fixed };
    case 'map': return { value: new Map(Object.entries(fixed)), current: () => fixed };
    case 'toBSON': {
      const decoy = { a: text(), n: 8 };
      class Shown extends Note { toBSON() { return decoy; } }
      return { value: Object.assign(new Shown(), fixed), current: () => decoy };
    }
    case 'getters': {
      const last: Record<string, unknown> = { a: undefined, n: 7 };
      const value = new Note();
      Object.defineProperty(value, 'a', { enumerable: true, get: () => (last.a = text()) });
      Object.defineProperty(value, 'n', { enumerable: true, value: 7 });
      return { value, current: () => ({ ...last }) };
    }
    case 'nestedGetters': {
      const inner = freeForm('getters', text);
      return { value: { inner: inner.value }, current: () => ({ inner: inner.current() }) };
    }
  }
}

interface Input { doc: Record<string, unknown>; expected(): Record<string, unknown> }

function input(addressForm: Form, contactForms: Form[], notesForm: FreeForm, extraForm: FreeForm): Input {
  const address = embedded(addressForm, Address, 'city', 'zip');
  const contacts = contactForms.map((form) => embedded(form, Contact, 'label', 'phone'));
  const notes = freeForm(notesForm, secret);
  // The free-form object itself must be a plain one: what varies is inside it.
  const extra = freeForm(extraForm, plainText);
  const top = { name: plainText(), ssn: secret() };
  return {
    doc: { ...top, address: address.value, contacts: contacts.map((c) => c.value), notes: notes.value, extra: { x: extra.value } },
    expected: () => ({ ...top, address: address.current(), contacts: contacts.map((c) => c.current()), notes: notes.current(), extra: { x: extra.current() } }),
  };
}

/** The stored document, decrypted, as plain values. */
async function storedValues(watch: LeakWatch, id: unknown): Promise<Record<string, unknown>> {
  const read = (await (watch.client.repository(Person) as any).findById(id)) as Person;
  return {
    name: read.name, ssn: read.ssn,
    address: { city: read.address.city, zip: read.address.zip },
    contacts: read.contacts.map((c) => ({ label: c.label, phone: c.phone })),
    notes: read.notes, extra: read.extra,
  };
}

let watch: LeakWatch;
test.before(async () => { watch = await LeakWatch.open([Person]); });
test.after.always(async () => { await watch?.close(); });

test('generated inputs with embedded documents and free-form values in every form: each write stores what it read, once, and no plaintext leaves', async (t) => {
  t.timeout(180_000);
  const repo = watch.client.repository(Person) as any;
  const form = fc.constantFrom(...FORMS);
  const free = fc.constantFrom(...FREE_FORMS);
  const run = fc.record({ op: fc.constantFrom('insertOne', 'saveNew', 'saveLoaded'), address: form, contacts: fc.array(form, { maxLength: 3 }), notes: free, extra: free });
  let runs = 0;
  await fc.assert(fc.asyncProperty(run, async ({ op, address, contacts, notes, extra }) => {
    runs++;
    const given = input(address, contacts, notes, extra);
    const problems: string[] = [];
    const observe = async (what: string, call: () => Promise<unknown>) => {
      const seen = await watch.observe(call);
      // `{}`: the secrets here are strings, found by their mark; reading the input again would call its getters.
      problems.push(...watch.verdict({}, seen).map((p) => `${what}: ${p}`));
      if (seen.error !== undefined) problems.push(`${what} failed: ${String((seen.error as Error).message).slice(0, 200)}`);
      return seen;
    };
    const sameAsRead = async (what: string, id: unknown) => {
      const stored = JSON.stringify(await storedValues(watch, id));
      const expected = JSON.stringify(given.expected());
      if (stored !== expected) problems.push(`${what}: stored ${stored} but Strongbox last read ${expected}`);
    };
    if (op === 'insertOne') {
      let entity: any;
      await observe('insertOne', async () => { entity = await repo.insertOne(given.doc); });
      if (entity) {
        await sameAsRead('insertOne', entity._id);
        const again = await observe('save() after insertOne', () => repo.save(entity));
        if (again.dataCommands.some((c) => c.commandName === 'update')) problems.push('save() of the entity insertOne returned sent an update');
      }
    } else {
      let entity: any;
      if (op === 'saveNew') {
        entity = Object.assign(new Person(), given.doc);
      } else {
        entity = await repo.findById((await repo.insertOne({ name: 'base', ssn: secret(), address: { city: 'c', zip: secret() }, contacts: [] }))._id);
        Object.assign(entity, given.doc);
      }
      await observe(op, () => repo.save(entity));
      await sameAsRead(op, entity._id);
      // A second save() reads the entity again (getters answer anew): the stored document follows that read.
      await observe(`${op}, second save()`, () => repo.save(entity));
      await sameAsRead(`${op}, second save()`, entity._id);
    }
    if (problems.length) throw new Error(`${op} with address as ${address}, contacts as [${contacts.join(', ')}], notes as ${notes}, extra holding ${extra}:\n${problems.join('\n')}`);
  }), { numRuns: 200 });
  t.log(`${runs} generated writes`);
  t.true(runs >= 200);
});

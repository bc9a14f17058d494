import test from 'ava';
import { ObjectId } from 'mongodb';
import { EncryptedQueryError, InvalidInputError } from '../../src/errors';
import type { InsertDoc } from '../../src/repository/types';
import { uniqueDbName } from '../harness/server';
import { defineModels } from '../repository/models';
import { LeakWatch, secretString } from '../security/leakDetector';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);
type PatientT = InstanceType<typeof Patient>;

let watch: LeakWatch;
test.before(async () => { watch = await LeakWatch.open([Patient]); });
test.after.always(async () => { await watch?.close(); });
const repo = () => watch.client.repository(Patient);

/** 11 documents; ages repeat so the _id tie-break decides inside each age. */
async function seed(marker: string): Promise<PatientT[]> {
  const docs = Array.from({ length: 11 }, (_, n) => ({
    name: `K${String(n).padStart(2, '0')}`, age: 40 + (n % 4), address: { street: 's', city: 'c', zip: secretString(500 + n) },
    contacts: [], tags: [marker], phone: secretString(600 + n), ssn: secretString(700 + n), score: n, medical: { bloodType: 'A', allergies: [] },
  })) as unknown as InsertDoc<PatientT>[];
  return repo().insertMany(docs);
}

const key = (p: PatientT) => `${p.age}/${p._id.toHexString()}`;

test.serial('forward through every page in a stable order, then back, with _id as the tie-break', async (t) => {
  const marker = `pg-${Date.now()}`;
  const saved = await seed(marker);
  const expected = [...saved].sort((a, b) => b.age - a.age || b._id.toHexString().localeCompare(a._id.toHexString())).map(key);
  const forward: string[][] = [];
  const tokens: (string | null)[] = [];
  let page = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4 });
  t.is(page.previous, null, 'the first page has nothing before it');
  for (;;) {
    forward.push(page.items.map(key));
    tokens.push(page.previous);
    t.true(page.items.every((p) => p instanceof Patient && typeof p.phone === 'string' && p.phone.startsWith('«SEKRIT')), 'items are decrypted instances');
    if (!page.next) break;
    page = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, after: page.next });
  }
  t.deepEqual(forward.map((p) => p.length), [4, 4, 3]);
  t.deepEqual(forward.flat(), expected, 'no document skipped or repeated, ties broken by _id in the direction of the last sort key');
  // Backwards from the last page.
  const back = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, before: page.previous! });
  t.deepEqual(back.items.map(key), forward[1]);
  const first = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, before: back.previous! });
  t.deepEqual(first.items.map(key), forward[0]);
  t.is(first.previous, null);
  t.truthy(first.next);
});

test.serial('default order is _id ascending; the filter still goes through the query policy with encrypted equality', async (t) => {
  const marker = `pd-${Date.now()}`;
  const saved = await seed(marker);
  const seen = await watch.observe(async () => {
    const page = await repo().paginate({ tags: marker, phone: { $in: [secretString(601), secretString(603), secretString(604)] } }, { limit: 2 });
    t.deepEqual(page.items.map((p) => p.name), ['K01', 'K03']);
    const rest = await repo().paginate({ tags: marker, phone: { $in: [secretString(601), secretString(603), secretString(604)] } }, { limit: 2, after: page.next! });
    t.deepEqual(rest.items.map((p) => p.name), ['K04']);
    t.is(rest.next, null);
  });
  t.is(seen.error, undefined);
  t.deepEqual(watch.verdict({}, seen), [], 'no plaintext of an encrypted field in any command');
  t.is(seen.dataCommands.filter((c) => c.commandName === 'find').length, 2, 'one query per page');
  t.true(saved.length === 11);
});

test.serial('tokens carry no plaintext of encrypted fields and are validated as values when they come back', async (t) => {
  const marker = `pt-${Date.now()}`;
  await seed(marker);
  const page = await repo().paginate({ tags: marker }, { sort: { name: 1 }, limit: 3 });
  const decoded = Buffer.from(page.next!, 'base64url').toString('utf8');
  t.false(decoded.includes('SEKRIT'), 'only plain sort keys are in the token');
  t.regex(decoded, /K02/);
  const forge = (o: unknown, k: unknown) => Buffer.from(JSON.stringify({ v: 1, o, k }), 'utf8').toString('base64url');
  const cases: Array<[string, RegExp]> = [
    ['not a token', /cannot be read/],
    [forge([['name', 1], ['_id', 1]], [{ $gt: '' }, { $oid: new ObjectId().toHexString() }]), /operator is not allowed/],
    [forge([['name', 1], ['_id', 1]], [7, { $oid: new ObjectId().toHexString() }]), /string/],
    [forge([['age', 1], ['_id', 1]], [{ $numberInt: '1' }, { $oid: new ObjectId().toHexString() }]), /another sort order/],
    [forge([['name', 1], ['_id', 1]], [null, { $oid: new ObjectId().toHexString() }]), /has no value for name/],
  ];
  for (const [token, message] of cases) {
    const seen = await watch.observe(() => repo().paginate({ tags: marker }, { sort: { name: 1 }, limit: 3, after: token }));
    t.true(seen.error instanceof InvalidInputError, String(seen.error));
    t.regex((seen.error as Error).message, message);
    t.is(seen.dataCommands.length, 0);
  }
});

test.serial('ordering by encrypted, optional or multi-valued fields is refused with the reason, before any traffic', async (t) => {
  const refusals: Array<[object, new (...a: never[]) => Error, RegExp]> = [
    [{ phone: 1 }, EncryptedQueryError, /ciphertext order says nothing about plaintext order/],
    [{ 'address.zip': -1 }, EncryptedQueryError, /ciphertext order/],
    [{ ssn: 1 }, EncryptedQueryError, /ciphertext order/],
    [{ tags: 1 }, InvalidInputError, /required, single-valued/],
    [{ 'contacts.kind': 1 }, InvalidInputError, /required, single-valued/],
  ];
  for (const [sort, type, message] of refusals) {
    const seen = await watch.observe(() => repo().paginate({}, { sort: sort as never, limit: 2 }));
    t.true(seen.error instanceof type, `${JSON.stringify(sort)}: ${String(seen.error)}`);
    t.regex((seen.error as Error).message, message);
    t.is(seen.dataCommands.length, 0);
  }
  for (const options of [{ limit: 0 }, { limit: 2, after: 'a', before: 'b' }, { limit: 2, skip: 3 }]) {
    const seen = await watch.observe(() => repo().paginate({}, options as never));
    t.true(seen.error instanceof InvalidInputError, JSON.stringify(options));
    t.is(seen.dataCommands.length, 0);
  }
});

test.serial('a projection loads only what it names, typed like find; the sort keys and _id must be among them', async (t) => {
  const marker = `pp-${Date.now()}`;
  await seed(marker);
  const seen = await watch.observe(async () => {
    let page = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, projection: { age: 1, phone: 1 } });
    const names: string[] = [];
    for (;;) {
      t.true(page.items.every((p) => (p as { name?: unknown }).name === undefined && (p as { ssn?: unknown }).ssn === undefined && p.phone.startsWith('«SEKRIT')), 'only the projected fields, encrypted ones decrypted');
      names.push(...page.items.map((p) => `${p.age}/${p._id.toHexString()}`));
      if (!page.next) break;
      page = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, projection: { age: 1, phone: 1 }, after: page.next });
    }
    t.is(names.length, 11);
    t.is(new Set(names).size, 11, 'no item repeated across pages');
    const back = await repo().paginate({ tags: marker }, { sort: { age: -1 }, limit: 4, projection: { phone: 0, ssn: 0 }, before: page.previous! });
    t.is(back.items.length, 4);
    t.true(back.items.every((p) => typeof p.name === 'string' && (p as { phone?: unknown }).phone === undefined));
  });
  t.is(seen.error, undefined, String(seen.error));
  const finds = seen.dataCommands.filter((c) => c.commandName === 'find');
  t.deepEqual(finds[0].command.projection, { age: 1, phone: 1 }, 'the projection is sent as given');
  t.deepEqual(watch.verdict({}, seen), []);

  const refusals: Array<[object, object, RegExp]> = [
    [{ age: -1 }, { name: 1 }, /leaves out age/],
    [{ age: -1 }, { age: 1, _id: 0 }, /leaves out _id/],
    [{ age: -1, name: 1 }, { age: 0 }, /leaves out age/],
    [{}, { _id: false, name: 1 }, /leaves out _id/],
    [{ name: 1 }, { name: { $toUpper: '$name' } }, /computes name/],
    [{ name: 1 }, { name: 1, _id: '$phone' }, /computes _id/],
  ];
  for (const [sort, projection, message] of refusals) {
    const refused = await watch.observe(() => repo().paginate({ tags: marker }, { sort: sort as never, limit: 2, projection: projection as never }));
    t.true(refused.error instanceof InvalidInputError, `${JSON.stringify(projection)}: ${String(refused.error)}`);
    t.regex((refused.error as Error).message, message);
    t.is(refused.dataCommands.length, 0, 'refused before any traffic');
  }
});

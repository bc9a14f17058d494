/**
 * When libmongocrypt (or BSON serialization before it) refuses a value, the EncryptionError
 * names the field and the real cause — a type the algorithm cannot take, a value too large,
 * a cycle — never "damaged ciphertext", and never the value.
 */
import test from 'ava';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { EncryptionError, InvalidInputError } from '../../src/errors';
import type { Repository } from '../../src/repository/repository';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineTypedModel } from './typeTable';

const DB = uniqueDbName(__filename);
const Typed = defineTypedModel(DB, 'typed');

let client: StrongboxClient;
test.before(async () => { client = await testClient([Typed]); });
test.after.always(async () => { await client?.close(); });
const repo = () => client.repository(Typed) as unknown as Repository<Record<string, unknown>>;

function checkCause(t: import('ava').ExecutionContext, err: EncryptionError | undefined, code: string, cause: RegExp, secret?: string): void {
  t.is<string, string>(err!.code, code);
  t.regex(err!.message, cause);
  t.notRegex(err!.message, /damaged|key vault/i, 'not blamed on stored ciphertext or keys');
  t.regex(err!.message, /Fix: /);
  if (secret) t.false(err!.message.includes(secret) || String(err!.stack).includes(secret));
}

test('a type Deterministic cannot take: ENCRYPT_TYPE_REFUSED naming the field', async (t) => {
  const key = await client.keyVault.ensureDataKey('types');
  for (const value of [true, 1.5, { a: 1 }]) {
    const err = await t.throwsAsync(client.engine.encrypt(value, 'Deterministic', key, 'Doc.flag'), { instanceOf: EncryptionError });
    checkCause(t, err, 'ENCRYPT_TYPE_REFUSED', /Doc\.flag could not be encrypted with Deterministic.*refuses to encrypt a value of this BSON type/);
  }
});

test('a value larger than BSON allows: ENCRYPT_VALUE_TOO_LARGE naming the field', async (t) => {
  const huge = `SECRET-${'x'.repeat(17 * 1024 * 1024)}`;
  const err = await t.throwsAsync(repo().insertOne({ Random_string: huge }), { instanceOf: EncryptionError });
  checkCause(t, err, 'ENCRYPT_VALUE_TOO_LARGE', /Typed\.Random_string could not be encrypted with Random.*larger than BSON allows/, huge.slice(0, 40));
});

test('a cyclic value: INPUT_CYCLIC naming the operation and field, not the value, before any encryption (inserts and updates copy their input first)', async (t) => {
  const cyclic: Record<string, unknown> = { secret: 'CYCLIC-SECRET' };
  cyclic.self = cyclic;
  for (const [call, where] of [
    [() => repo().insertOne({ Random_object: cyclic }), /insert on Typed, in Random_object, refers to itself/],
    [() => repo().updateOne({}, { $set: { Random_object: cyclic } }), /updateOne on Typed, in \$set, refers to itself/],
  ] as Array<[() => Promise<unknown>, RegExp]>) {
    const err = await t.throwsAsync(call(), { instanceOf: InvalidInputError });
    t.is(err!.code, 'INPUT_CYCLIC');
    t.regex(err!.message, where);
    t.false(err!.message.includes('CYCLIC-SECRET'));
  }
});

test('a value nested deeper than MongoDB accepts: INPUT_TOO_DEEP naming the field, not a cycle', async (t) => {
  let deep: Record<string, unknown> = { secret: 'DEEP-SECRET' };
  for (let i = 0; i < 150; i++) deep = { inner: deep };
  const err = await t.throwsAsync(repo().insertOne({ Random_object: deep }), { instanceOf: InvalidInputError });
  t.is(err!.code, 'INPUT_TOO_DEEP');
  t.regex(err!.message, /insert on Typed, in Random_object, is nested more than/);
  t.false(err!.message.includes('DEEP-SECRET'));
});

test('values of the wrong type or out of range are refused before encryption, without the value', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ Deterministic_long: 2n ** 64n + 5n }, 'INPUT_OUT_OF_RANGE', /Typed\.Deterministic_long is declared as long but got a bigint outside the 64-bit range/],
    [{ plain_long: 2n ** 63n }, 'INPUT_OUT_OF_RANGE', /Typed\.plain_long .* outside the 64-bit range/],
    [{ Deterministic_long: 2 ** 60 }, 'INPUT_OUT_OF_RANGE', /beyond Number\.MAX_SAFE_INTEGER/],
    [{ Deterministic_int: 1.5 }, 'INPUT_OUT_OF_RANGE', /declared as int but got a number that is not an integer/],
    [{ plain_int: 2 ** 31 }, 'INPUT_OUT_OF_RANGE', /outside the 32-bit range/],
    [{ Random_date: new Date(Number.NaN) }, 'INPUT_OUT_OF_RANGE', /an Invalid Date/],
    [{ Deterministic_int: '42' }, 'INPUT_WRONG_TYPE', /declared as int but got a string/],
    [{ plain_int: '42' }, 'INPUT_WRONG_TYPE', /Typed\.plain_int is declared as int but got a string/],
    [{ Deterministic_javascript: 'function () {}' }, 'INPUT_WRONG_TYPE', /declared as javascript but got a string/],
    [{ Deterministic_symbol: 'sym' }, 'INPUT_WRONG_TYPE', /declared as symbol but got a string/],
    [{ Random_regex: /x/g }, 'INPUT_OUT_OF_RANGE', /flags other than i and m/],
  ];
  for (const [doc, code, message] of cases) {
    const err = await t.throwsAsync(repo().insertOne(doc as never), { instanceOf: InvalidInputError });
    t.is<string, string>(err!.code, code, JSON.stringify(Object.keys(doc)));
    t.regex(err!.message, message);
  }
  const filter = await t.throwsAsync(repo().findOne({ Deterministic_long: 2n ** 64n }), { instanceOf: InvalidInputError });
  t.is(filter!.code, 'INPUT_OUT_OF_RANGE', 'filter values are checked the same way');
  for (const plainFilter of [{ plain_int: '42' }, { plain_date: { $gt: 'yesterday' } }, { plain_objectId: { $in: ['not-an-id'] } }, { plain_array: 7 }]) {
    const err = await t.throwsAsync(repo().find(plainFilter as never).toArray(), { instanceOf: InvalidInputError });
    t.is(err!.code, 'INPUT_WRONG_TYPE', `plain filter values too: ${JSON.stringify(plainFilter)}`);
  }
  for (const fine of [{ plain_int: null }, { plain_string: /^G/ }, { plain_array: 'a' }, { plain_long: 5 }, { plain_object: { any: 'thing' } }]) {
    await t.notThrowsAsync(repo().find(fine as never).toArray(), `accepted: ${String(Object.values(fine)[0])}`);
  }
  const set = await t.throwsAsync(repo().updateOne({}, { $set: { plain_int: 'x' } }), { instanceOf: InvalidInputError });
  t.is(set!.code, 'INPUT_WRONG_TYPE', '$set values too');
});

test('inside a free-form object any value goes, null included, but never ciphertext', async (t) => {
  const saved = await repo().insertOne({ plain_object: { a: 'x' } } as never);
  await repo().updateOne({ _id: saved._id } as never, { $set: { 'plain_object.gone': null, 'plain_object.n': 1 } } as never);
  const stored = await client.dataClient.db(DB).collection('typed').findOne({ _id: saved._id as never });
  t.deepEqual(stored!.plain_object, { a: 'x', gone: null, n: 1 });
  const key = await client.keyVault.ensureDataKey('types');
  const ciphertext = await client.engine.encrypt('copied', 'Random', key);
  const err = await t.throwsAsync(repo().updateOne({ _id: saved._id } as never, { $set: { 'plain_object.copy': ciphertext } } as never), { instanceOf: InvalidInputError });
  t.is(err!.code, 'INPUT_CIPHERTEXT_GIVEN');
});

import test from 'ava';
import { Binary } from 'mongodb';
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

function patient(n: number, phone: string, marker: string): InsertDoc<PatientT> {
  return {
    name: `D${n}`, age: 30 + (n % 2), address: { street: 's', city: n % 2 ? 'Lyon' : 'Paris', zip: secretString(900 + (n % 2)) },
    contacts: [{ kind: 'home', phone: secretString(800 + (n % 3)), note: 'n' }], tags: [marker, `t${n % 2}`],
    phone, ssn: secretString(700 + n), score: n, medical: { bloodType: 'A', allergies: [] },
  } as InsertDoc<PatientT>;
}

test.serial('distinct on a Deterministic field returns each plaintext once, decrypted, and sends only ciphertext', async (t) => {
  const marker = `d-${Date.now()}`;
  await repo().insertMany([0, 1, 2, 3].map((n) => patient(n, secretString(n % 2), marker)));
  const seen = await watch.observe(async () => {
    const phones = await repo().distinct('phone', { tags: marker });
    t.deepEqual([...phones].sort(), [secretString(0), secretString(1)].sort());
    const filtered = await repo().distinct('phone', { tags: marker, phone: secretString(1) });
    t.deepEqual(filtered, [secretString(1)]);
    t.deepEqual([...await repo().distinct('address.zip', { tags: marker })].sort(), [secretString(900), secretString(901)].sort());
    t.deepEqual([...await repo().distinct('contacts.phone', { tags: marker })].sort(), [800, 801, 802].map(secretString).sort());
  });
  t.is(seen.error, undefined);
  const distinctCommands = seen.dataCommands.filter((c) => c.commandName === 'distinct');
  t.is(distinctCommands.length, 4);
  t.true(distinctCommands[1].command.query.$and === undefined && distinctCommands[1].command.query.phone instanceof Binary, 'the Deterministic operand went out encrypted');
  t.deepEqual(watch.verdict({ secrets: [0, 1, 800, 801, 802, 900, 901].map(secretString) }, seen), []);
});

test.serial('distinct on plain fields keeps the declared types, arrays unwound', async (t) => {
  const marker = `p-${Date.now()}`;
  await repo().insertMany([0, 1, 2].map((n) => patient(n, secretString(10 + n), marker)));
  const ages = await repo().distinct('age', { tags: marker });
  t.deepEqual([...ages].sort(), [30, 31]);
  t.true(ages.every((a) => typeof a === 'number'));
  t.deepEqual([...await repo().distinct('tags', { tags: marker })].sort(), [marker, 't0', 't1'].sort());
  t.deepEqual([...await repo().distinct('address.city', { tags: marker })].sort(), ['Lyon', 'Paris']);
});

test.serial('distinct refuses Random fields, documents holding encrypted fields and paths inside Random objects, before any traffic', async (t) => {
  const refusals: Array<[unknown, new (...a: never[]) => Error, RegExp]> = [
    ['ssn', EncryptedQueryError, /Random ciphertext differs on every write/],
    ['score', EncryptedQueryError, /Random/],
    ['contacts.note', EncryptedQueryError, /Random/],
    ['address', EncryptedQueryError, /holds encrypted fields/],
    ['medical.bloodType', EncryptedQueryError, /encrypted as a whole/],
    ['nope', InvalidInputError, /has no field "nope"/],
    ['$phone', InvalidInputError, /dotted path/],
    [{ phone: secretString(1) }, InvalidInputError, /dotted path/],
  ];
  for (const [key, type, message] of refusals) {
    const seen = await watch.observe(() => (repo().distinct as (k: unknown) => Promise<unknown>)(key));
    t.true(seen.error instanceof type, `${String(key)}: ${String(seen.error)}`);
    t.regex((seen.error as Error).message, message);
    t.is(seen.dataCommands.length, 0, `${String(key)}: nothing was sent`);
  }
  const badOption = await watch.observe(() => repo().distinct('age', {}, { readConcern: { level: 'local' } } as never));
  t.is((badOption.error as InvalidInputError).code, 'INPUT_UNKNOWN_OPTION');
});

test.serial('estimatedCount reads the collection metadata', async (t) => {
  const before = await repo().estimatedCount();
  await repo().insertMany([0, 1].map((n) => patient(n, secretString(20 + n), `e-${Date.now()}`)));
  t.is(await repo().estimatedCount({ maxTimeMS: 5000 }), before + 2);
  await t.throwsAsync(() => repo().estimatedCount({ filter: {} } as never), { instanceOf: InvalidInputError, message: /filter is not an option/ });
});

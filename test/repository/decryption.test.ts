import test from 'ava';
import { randomBytes } from 'node:crypto';
import type { StrongboxClient } from '../../src/client/strongboxClient';
import { DecryptionError } from '../../src/errors';
import { UndecryptableValue } from '../../src/repository/reader';
import { masterKeyFile, testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Customer } = defineModels(DB);
const keyFile = masterKeyFile();
const keyVault = { namespace: `sb_keys_${randomBytes(4).toString('hex')}.__keyVault` };
const open = (file = keyFile) => testClient([Customer], { kms: { local: { keyFile: file } }, keyVault });

let writer: StrongboxClient;
test.before(async () => {
  writer = await open();
  await writer.repository(Customer).insertMany([
    { customerId: 'C-shredded', name: 'Ann', ssn: '111-11-1111' },
    { customerId: 'C-kept', name: 'Bob', ssn: '222-22-2222' },
    { customerId: 'C-kept', name: 'Bea', ssn: '333-33-3333' },
  ] as never[]);
});
test.after.always(async () => { await writer?.close(); });

test.serial('one data key per customer: each customer key exists once in the key vault', async (t) => {
  const names = (await writer.keyVault.collection.find({}, { projection: { keyAltNames: 1 } }).toArray()).flatMap((k) => k.keyAltNames);
  t.deepEqual(names.sort(), ['C-kept', 'C-shredded']);
});

test.serial('crypto-shredding: deleting one customer\'s key makes exactly their encrypted fields unreadable', async (t) => {
  const id = await writer.keyVault.findKeyId('C-shredded');
  t.truthy(id);
  await writer.encryption.deleteKey(id!);
  // A fresh client: libmongocrypt caches data keys for 60 s, so the writer could still decrypt for a while.
  const reader = await open();
  try {
    const strict = reader.repository(Customer);
    const err = await t.throwsAsync(strict.find({}, { sort: { name: 1 } }).toArray(), { instanceOf: DecryptionError });
    t.is(err!.code, 'DECRYPT_MISSING_KEY');
    t.regex(err!.message, /Customer _id [0-9a-f]{24}: the Random value at "ssn" \(data key [0-9a-f-]{36}\) cannot be decrypted/);
    t.regex(err!.message, /not in the key vault/);
    t.false(err!.message.includes('111-11-1111'));

    const lenient = reader.repository(Customer, { onUndecryptable: 'marker' });
    const all = await lenient.find({}, { sort: { name: 1 } }).toArray();
    t.deepEqual(all.map((c) => c.name), ['Ann', 'Bea', 'Bob']);
    t.true(all[0].ssn as unknown instanceof UndecryptableValue, 'the shredded value is a marker, never a string');
    t.is((all[0].ssn as unknown as UndecryptableValue).reason, 'missing-key');
    t.deepEqual([all[1].ssn, all[2].ssn], ['333-33-3333', '222-22-2222'], 'everyone else still reads');
    t.is((await strict.findOne({ customerId: 'C-kept', name: 'Bob' }))!.ssn, '222-22-2222', 'reads that avoid the shredded customer work normally');
  } finally {
    await reader.close();
  }
});

test.serial('a wrong master key: the read fails with a DecryptionError naming the likely cause', async (t) => {
  const reader = await open(masterKeyFile());
  try {
    const err = await t.throwsAsync(reader.repository(Customer).findOne({ customerId: 'C-kept', name: 'Bob' }), { instanceOf: DecryptionError });
    t.is(err!.code, 'DECRYPT_WRONG_MASTER_KEY');
    t.regex(err!.message, /configured master key is not the one that wrapped it/);
    t.false(err!.message.includes('222-22-2222'));
  } finally {
    await reader.close();
  }
});

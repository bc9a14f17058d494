import test from 'ava';
import type { CommandStartedEvent } from 'mongodb';
import { testClient } from '../harness/client';
import { uniqueDbName } from '../harness/server';
import { defineModels } from './models';

const DB = uniqueDbName(__filename);
const { Patient } = defineModels(DB);

/**
 * Key material is read with a filter on `_id`: under `$or` (with alt names) by libmongocrypt's
 * own contexts, with `$in` by the unwrap of the keys Strongbox encrypts with. Lookups of an id
 * by alt name filter on keyAltNames alone.
 */
function isKeyMaterialFetch(event: CommandStartedEvent, keyVaultCollection: string): boolean {
  const filter = event.command.filter ?? {};
  return event.commandName === 'find' && event.command.find === keyVaultCollection && ('$or' in filter || '_id' in filter);
}

test('values encrypted concurrently under a new data key read that key from the key vault once', async (t) => {
  const client = await testClient([Patient], { driverOptions: { monitorCommands: true } });
  try {
    const events: CommandStartedEvent[] = [];
    client.dataClient.on('commandStarted', (event) => events.push(event));
    const keyVaultCollection = client.keyVault.namespace.collection;
    // Seven encrypted values per patient, all under the model's one key, encrypted concurrently.
    const patients = await client.repository(Patient).insertMany([1, 2, 3].map((n) => ({
      name: `P${n}`, age: 30 + n, tags: [],
      address: { street: `${n} Elm St`, city: 'Shelbyville', zip: `9${n}000` },
      contacts: [{ kind: 'home', phone: `555-02${n}`, note: `note ${n}` }],
      phone: `+1-555-200${n}`, ssn: `000-11-200${n}`, score: n,
      medical: { bloodType: 'A-', allergies: [] },
    })));
    t.is(patients.length, 3);
    const fetches = events.filter((e) => isKeyMaterialFetch(e, keyVaultCollection));
    t.is(fetches.length, 1, `the key was fetched ${fetches.length} times for 21 values`);

    // And everything written reads back, so waiting for the first encryption lost nothing.
    const read = await client.repository(Patient).find({}).toArray();
    t.deepEqual(read.map((p) => p.ssn).sort(), ['000-11-2001', '000-11-2002', '000-11-2003']);
  } finally {
    await client.close();
  }
});

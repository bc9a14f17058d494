/**
 * Managing data keys by hand (`node dist/examples/key-management.js`): create a key under an alt
 * name (optionally with your own 96 bytes of key material), give it a second name, look it up by
 * either, and see what refuses a name another key already holds. The same operations exist on the
 * command line: `strongbox keys create | show | add-alt-name | remove-alt-name`.
 */
import { randomBytes } from 'node:crypto';
import { createClient, KeyError } from '../src';
import { addKeyAltName, createKey, getKey, removeKeyAltName } from '../src/entries/keys';
import { exampleConnection } from './support/connection';

async function main(): Promise<void> {
  const connection = await exampleConnection();
  const suffix = randomBytes(3).toString('hex');
  const client = await createClient({ uri: connection.uri, tls: connection.tls, kms: { local: {} }, keyVault: { namespace: 'examples.__keyVault' }, models: [] });
  try {
    // Key material you generate yourself (for example in an HSM ceremony); omit it to let libmongocrypt generate it.
    const billing = await createKey(client, { altNames: `billing-${suffix}`, keyMaterial: randomBytes(96) });
    console.log(`created ${billing.id} as ${billing.altNames.join(', ')}`);

    await addKeyAltName(client, { id: billing.id }, `invoices-${suffix}`);
    const found = await getKey(client, { altName: `invoices-${suffix}` });
    console.log(`found by its second name: ${found.id === billing.id} (names: ${found.altNames.join(', ')})`);

    try {
      await createKey(client, { altNames: `billing-${suffix}` });
    } catch (err) {
      if (!(err instanceof KeyError)) throw err;
      console.log(`a second key under a taken name is refused: ${err.code}`);
    }

    const renamed = await removeKeyAltName(client, { id: billing.id }, `billing-${suffix}`);
    console.log(`names left: ${renamed.altNames.join(', ')}`);
  } finally {
    await client.close();
    await connection.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

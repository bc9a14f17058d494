import { createClient } from '../../client/createClient';
import type { Command } from './command';
import { schemaCommand } from './schema';

export const schemaCliCommand: Command = {
  summary: 'print the CSFLE schema map and the $jsonSchema validators of the configured models (JSON)',
  help: [
    'Usage: strongbox schema [--config PATH]',
    '',
    'Prints { schemaMap, validators } as canonical Extended JSON. Data keys named by the models',
    'are created in the key vault if missing (schemas must name keys by UUID).',
    'Use the schema map with the driver\'s autoEncryption on MongoDB Enterprise/Atlas, and the',
    'validators with createCollection/collMod for server-side enforcement.',
  ].join('\n'),
  async run({ config, out }) {
    const client = await createClient(await config());
    try {
      out(schemaCommand(client.registry, { resolver: await client.ensureDataKeys() }));
      return 0;
    } finally {
      await client.close();
    }
  },
};

/*
 * The example's configuration, as a project would write it. It is a function so that run.ts can
 * switch the model from `before` to `after` between two CLI calls in one process; a real
 * project simply edits its model file.
 */
import type { StrongboxConfig } from '../../src';
import type { MigrationsConfig } from '../../src/migrations';
import { Customer as Before } from './before/customer';
import { Customer as After } from './after/customer';

export default function config(): StrongboxConfig & { migrations: MigrationsConfig } {
  const env = process.env;
  const work = env.EXAMPLE_WORKDIR!;
  return {
    uri: env.EXAMPLE_URI!,
    tls: JSON.parse(env.EXAMPLE_TLS ?? '{}'),
    kms: { local: { keyFile: `${work}/master.key` } },
    keyVault: { namespace: 'example_encryption.__keyVault' },
    models: [env.EXAMPLE_STAGE === 'after' ? After : Before],
    migrations: {
      folder: `${work}/migrations`,
      compiledFolder: `${work}/dist/migrations`,
      database: 'example_strongbox',
    },
    warn: () => undefined,
  };
}

/**
 * Example configuration for the `strongbox` CLI. TypeScript projects compile this file with tsc
 * like the rest of the code (decorator metadata needs it) and point the CLI at the output:
 *   npx tsc -p . && npx strongbox doctor --config dist/strongbox.config.js
 * Secrets come from the environment: STRONGBOX_URI, STRONGBOX_LOCAL_MASTER_KEY (base64, 96 bytes),
 * STRONGBOX_TLS_CERTIFICATE_KEY_FILE_PASSWORD.
 */
import type { StrongboxConfig } from './src';
import { Employee } from './examples/models/employee';
import { Person } from './examples/models/person';

const config: StrongboxConfig = {
  uri: process.env.MONGODB_URI ?? 'mongodb://localhost:27017/?tls=true',
  tls: {
    caFile: process.env.MONGODB_TLS_CA_FILE ?? '.tools/pki/ca.pem',
    certificateKeyFile: process.env.MONGODB_TLS_CERTIFICATE_KEY_FILE ?? '.tools/pki/client.pem',
  },
  kms: { local: { keyFile: process.env.STRONGBOX_LOCAL_MASTER_KEY ? undefined : '.strongbox/master.key' } },
  keyVault: { namespace: 'encryption.__keyVault' },
  models: [Person, Employee],
};

export default config;

/** TLS settings of the test server as plain data (shared by the runner and the ava workers). */
export interface TestTls { enabled?: boolean; caFile?: string; certificateKeyFile?: string; }

/** TLS settings for a user-supplied MONGODB_URI. */
export function tlsFromEnv(): TestTls {
  const env = process.env;
  return {
    ...(env.MONGODB_TLS_CA_FILE ? { enabled: true, caFile: env.MONGODB_TLS_CA_FILE } : {}),
    ...(env.MONGODB_TLS_CERTIFICATE_KEY_FILE ? { certificateKeyFile: env.MONGODB_TLS_CERTIFICATE_KEY_FILE } : {}),
  };
}

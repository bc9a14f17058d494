/**
 * Layer breaches that exist today (see ARCHITECTURE.md, "Known violations"). The import-graph
 * test fails on any breach not listed here AND on any entry here that no longer happens, so
 * fixing a breach means deleting its line: the list only shrinks.
 *
 * An entry is `<rule>: <from> -> <to>` for one import, paths relative to src/.
 */
export const knownUpwardImports: ReadonlyArray<{ violation: string; why: string }> = [
  {
    violation: 'upward-from-infrastructure: crypto/engine.ts -> metadata/types.ts',
    why: 'the engine takes the Algorithm type from the model layer; the algorithm vocabulary belongs in crypto, and metadata should import it',
  },
  {
    violation: 'upward-from-infrastructure: crypto/engine.ts -> schema/encryptSchema.ts',
    why: 'the engine takes the full algorithm names (AEAD_AES_256_CBC_HMAC_SHA_512-…) from the schema layer; same fix as above',
  },
  {
    violation: 'upward-from-model: metadata/hydrate.ts -> repository/encoding/values.ts',
    why: 'hydration converts stored BSON to declared types with the encoding layer\'s converters; they are model-level rules and should sit in metadata (or the foundation)',
  },
  {
    violation: 'upward-from-repository: repository/reader.ts -> audit/storedValues.ts',
    why: 'the reader checks ciphertext provenance with the stored-value classification that audit owns; that classification should move to a lower "stored values" unit shared by repository, audit and migrations',
  },
  {
    violation: 'upward-from-client: client/config.ts -> migrations/index.ts',
    why: 'the client configuration names the MigrationsConfig type; configuration types should live in a layer below both client and migrations',
  },
  {
    violation: 'upward-from-operations: audit/format.ts -> migrations/keySpec.ts',
    why: 'the audit report describes keys with the migrations\' key-spec helpers; key specs are stored-value vocabulary and should move down',
  },
  {
    violation: 'upward-from-operations: audit/repair.ts -> migrations/keySpec.ts',
    why: 'as above: repair plans name keys through the migrations\' key spec',
  },
  {
    violation: 'upward-from-operations: audit/repair.ts -> migrations/differ.ts',
    why: 'a repair is written as a migration plan; the plan types should live with the stored-value unit or the repair belong to migrations',
  },
];

/**
 * Folders that import each other in a circle today, one entry per tangle (a strongly connected
 * set of folders, relative to src/, sorted). Every upward import above closes a circle; removing
 * them one by one splits or shrinks these sets.
 */
export const knownFolderCycles: ReadonlyArray<{ folders: readonly string[]; why: string }> = [
  {
    folders: ['audit', 'client', 'crypto', 'keys', 'metadata', 'migrations', 'repository', 'repository/encoding', 'schema'],
    why: 'closed by the upward imports above; repository/encoding also imports repository/undecryptable.ts while repository imports encoding',
  },
];

/** How backfills write: conditional updates, or batch-wise replacement through a journal. */
export type BackfillWrite = 'auto' | 'update' | 'replace';

/** The `migrations` section of the Strongbox configuration. */
export interface MigrationsConfig {
  /** Where `migration create` writes migrations (.ts) and the model snapshot. Default 'migrations'. */
  folder?: string;
  /**
   * Where the runner loads the compiled migrations (.js) from. Default: `folder` when it holds
   * .js files, otherwise `dist/<folder>` (tsc with outDir 'dist').
   */
  compiledFolder?: string;
  /** Module generated files import the `Migration` type from. Default 'strongbox'. */
  importFrom?: string;
  /** Database holding the changelog, the lock and backfill progress. Default 'strongbox'. */
  database?: string;
  /** Documents per backfill batch. Default 1000. */
  batchSize?: number;
  /** A runner's lock expires this long after its last heartbeat (it renews every third of it). Default 60 s. */
  lockTtlMs?: number;
  /**
   * 'update' (conditional per-document updates; MongoDB), 'replace' (delete and re-insert each
   * batch through a journal; for servers that scan the whole collection per update statement,
   * such as FerretDB v1), or 'auto' (default: 'replace' on FerretDB, 'update' elsewhere).
   */
  backfillWrite?: BackfillWrite;
}

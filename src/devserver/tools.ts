import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../packageRoot';

/** The FerretDB release the development server runs (built from the Go module proxy). */
export const FERRETDB_VERSION = 'v1.24.2';

/** Where a server binary and the development PKI live: `<dir>/bin/ferretdb`, `<dir>/pki/*`. */
export interface DevTools {
  readonly dir: string;
  readonly binary: string;
  readonly pkiDir: string;
}

export function devTools(dir: string): DevTools {
  return { dir, binary: join(dir, 'bin', 'ferretdb'), pkiDir: join(dir, 'pki') };
}

/** `.tools` of a Strongbox checkout, written by scripts/setup.sh (absent in an installed package). */
export const checkoutToolsDir = join(packageRoot(), '.tools');

/** The per-user cache `strongbox server` installs into, following the XDG base directory specification. */
export function userCacheToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'strongbox', `ferretdb-${FERRETDB_VERSION}`);
}

/**
 * The tools to use: $STRONGBOX_TOOLS_DIR when set, else the checkout's `.tools` when it holds a
 * server, else the per-user cache (which may still be empty: see installDevTools).
 */
export function resolveDevTools(env: NodeJS.ProcessEnv = process.env): DevTools {
  if (env.STRONGBOX_TOOLS_DIR) return devTools(env.STRONGBOX_TOOLS_DIR);
  const checkout = devTools(checkoutToolsDir);
  if (existsSync(checkout.binary)) return checkout;
  return devTools(userCacheToolsDir(env));
}

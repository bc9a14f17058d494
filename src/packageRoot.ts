import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The root of the Strongbox package this file belongs to (the checkout, or node_modules/strongbox
 * in an app): the nearest folder above with a package.json. Compiled files sit at different depths
 * (lib/ when published, dist/src/ in the checkout), so the root is found, not assumed.
 */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

// Builds the published library into lib/: tsc with tsconfig.build.json, then one ES module
// entry per CommonJS entry. The ES entries re-export the CommonJS modules instead of being a
// second compiled copy, so an app that mixes `import` and `require` still has one StrongboxError
// class and one registry (the "dual package hazard" described in Node's packages documentation).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const require = createRequire(import.meta.url);
// The package's entry points ("exports" in package.json): the main one, strongbox/testing, and
// the operations tooling's subpaths.
for (const entry of ['index', 'testing', 'entries/migrations', 'entries/keys', 'entries/audit']) {
  // Named re-exports (not `export *`), so the CommonJS marker __esModule is not one of them.
  const names = Object.keys(require(join(lib, `${entry}.js`))).filter((name) => name !== '__esModule');
  const sibling = `./${basename(entry)}.js`;
  writeFileSync(join(lib, `${entry}.mjs`), `export { ${names.join(', ')} } from '${sibling}';\n`);
  writeFileSync(join(lib, `${entry}.d.mts`), `export * from '${sibling}';\n`);
}

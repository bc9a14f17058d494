/**
 * The CLI loads compiled JavaScript (models need tsc's decorator metadata), so it must never act
 * on output older than the TypeScript it came from. These checks compare a compiled file with
 * its source, found through the source map tsc writes (`sourceMap`), else the project's
 * tsconfig.json `rootDir`/`outDir`, else a `.ts` next to the `.js`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { ConfigError, MigrationError } from '../errors';
import { MIGRATION_ID } from '../migrations/loader';

export interface StaleFile { source: string; compiled: string | undefined; }

/** The compilation command to suggest; `build` script when the project has one. */
export function buildCommand(cwd = process.cwd()): string {
  try {
    const scripts = (JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    if (scripts.build) return 'npm run build';
  } catch { /* no package.json: fall through */ }
  return 'npx tsc -p .';
}

function newer(source: string, compiled: string): boolean {
  return statSync(source).mtimeMs > statSync(compiled).mtimeMs;
}

/** tsconfig.json allows comments and trailing commas; strip them before JSON.parse. */
function readTsconfig(cwd: string): { rootDir?: string; outDir?: string } {
  const file = join(cwd, 'tsconfig.json');
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8')
    .replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (match, string: string | undefined) => string ?? '')
    .replace(/,(\s*[}\]])/g, '$1');
  try {
    const options = (JSON.parse(text) as { compilerOptions?: { rootDir?: string; outDir?: string } }).compilerOptions ?? {};
    return { rootDir: options.rootDir && resolve(cwd, options.rootDir), outDir: options.outDir && resolve(cwd, options.outDir) };
  } catch {
    return {};
  }
}

function sourceOf(compiled: string, cwd: string): string | undefined {
  const text = readFileSync(compiled, 'utf8');
  const mapUrl = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
  if (mapUrl && !mapUrl.startsWith('data:')) {
    const mapFile = resolve(dirname(compiled), mapUrl);
    if (existsSync(mapFile)) {
      const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources?: string[]; sourceRoot?: string };
      if (map.sources?.length === 1) return resolve(dirname(mapFile), map.sourceRoot ?? '', map.sources[0]!);
    }
  }
  const { rootDir, outDir } = readTsconfig(cwd);
  if (outDir && compiled.startsWith(outDir + sep)) {
    const candidate = join(rootDir ?? cwd, relative(outDir, compiled)).replace(/\.js$/, '.ts');
    if (existsSync(candidate)) return candidate;
  }
  const sibling = compiled.replace(/\.js$/, '.ts');
  return existsSync(sibling) ? sibling : undefined;
}

/** The project's modules the configuration loaded (not packages), found by walking the module graph from it. */
function projectModules(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (module: NodeJS.Module | undefined) => {
    if (!module || seen.has(module.filename) || module.filename.includes(`${sep}node_modules${sep}`)) return;
    seen.add(module.filename);
    for (const child of module.children) visit(child);
  };
  visit(require.cache[entry]);
  return [...seen].filter((file) => file.endsWith('.js'));
}

/** Refuses when a compiled module the configuration (and so the models) came from is older than its source. */
export function assertModelsCompiled(configFile: string, command: string, cwd = process.cwd()): void {
  const stale: StaleFile[] = [];
  for (const compiled of projectModules(configFile)) {
    const source = sourceOf(compiled, cwd);
    if (source && existsSync(source) && newer(source, compiled)) stale.push({ source, compiled });
  }
  if (stale.length === 0) return;
  throw new ConfigError('MODELS_NOT_COMPILED', `The compiled models are older than their sources, so ${command} would use models as they were at the last build: ${describe(stale, cwd)}.`, {
    fix: `compile the project (${buildCommand(cwd)}), then run ${command} again.`,
  });
}

/** Migration sources (.ts) with no compiled file, or a compiled file older than the source. */
export function uncompiledMigrations(folder: string, compiledFolder: string): StaleFile[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && MIGRATION_ID.test(basename(f, '.ts')))
    .sort()
    .flatMap((f): StaleFile[] => {
      const source = join(folder, f);
      const compiled = join(compiledFolder, `${basename(f, '.ts')}.js`);
      if (!existsSync(compiled)) return [{ source, compiled: undefined }];
      return newer(source, compiled) ? [{ source, compiled }] : [];
    });
}

/** Refuses to run, revert or list migrations while some are not compiled: they would be silently left out. */
export function assertMigrationsCompiled(folder: string, compiledFolder: string, command: string, cwd = process.cwd()): void {
  const stale = uncompiledMigrations(folder, compiledFolder);
  if (stale.length === 0) return;
  throw new MigrationError('MIGRATION_NOT_COMPILED', `${stale.length} migration(s) in ${relative(cwd, folder) || '.'} are not compiled to ${relative(cwd, compiledFolder) || '.'}, or changed since: ${describe(stale, cwd)}; ${command} would leave them out.`, {
    fix: `compile the project (${buildCommand(cwd)}), then run ${command} again.`,
  });
}

function describe(stale: StaleFile[], cwd: string): string {
  const shown = (file: string) => (relative(cwd, file).startsWith('..') ? file : relative(cwd, file));
  return stale.map((s) => (s.compiled && existsSync(s.compiled) ? `${shown(s.source)} (newer than ${shown(s.compiled)})` : `${shown(s.source)} (not compiled)`)).join(', ');
}

/**
 * The public API report: API Extractor's summary of every declaration reachable from the package
 * entry points (src/index.ts, src/testing.ts and the subpaths in src/entries/), checked into api/ so that a change to the
 * public surface shows up in review. It reads the declarations tsc emitted to dist/src/, which
 * leave out members tagged @internal as the published ones do (stripInternal).
 *
 * `npm run api:update` rewrites the reports after an intended change.
 */
import { Extractor, ExtractorConfig, ExtractorLogLevel, type ExtractorResult, type IConfigFile } from '@microsoft/api-extractor';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repoRoot';

export const entryPoints = [
  { entry: 'index', report: 'strongbox' },
  { entry: 'testing', report: 'strongbox-testing' },
  { entry: 'entries/migrations', report: 'strongbox-migrations' },
  { entry: 'entries/keys', report: 'strongbox-keys' },
  { entry: 'entries/audit', report: 'strongbox-audit' },
] as const;

export const reportFolder = join(repoRoot, 'api');
const tempFolder = join(repoRoot, 'dist', 'api-report');

function configFor(entry: string, reportFileName: string): ExtractorConfig {
  const quiet = { logLevel: ExtractorLogLevel.None };
  const configObject: IConfigFile = {
    projectFolder: repoRoot,
    mainEntryPointFilePath: join(repoRoot, 'dist', 'src', `${entry}.d.ts`),
    // Only the emitted declarations are analysed; the project's own tsconfig would load every source and test.
    compiler: {
      overrideTsconfig: {
        compilerOptions: { target: 'ES2022', module: 'commonjs', lib: ['ES2022'], types: ['node'], strict: true, skipLibCheck: true, esModuleInterop: true },
        files: [join(repoRoot, 'dist', 'src', `${entry}.d.ts`)],
      },
    },
    apiReport: { enabled: true, reportFolder, reportTempFolder: tempFolder, reportFileName },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: quiet },
      extractorMessageReporting: {
        // Kept in the report: an internal type a public signature leaks (ae-forgotten-export) is worth seeing in review.
        default: { ...quiet, addToApiReportFile: true },
        // Release tags (@public, @beta) are a convention this project does not use.
        'ae-missing-release-tag': { ...quiet, addToApiReportFile: false },
      },
      tsdocMessageReporting: { default: quiet },
    },
  };
  return ExtractorConfig.prepare({ configObject, configObjectFullPath: undefined, packageJsonFullPath: join(repoRoot, 'package.json') });
}

/** Runs API Extractor on one entry point; `update` rewrites the checked-in report. */
export function runApiExtractor(entry: string, report: string, update: boolean): ExtractorResult {
  return Extractor.invoke(configFor(entry, report), { localBuild: update, showVerboseMessages: false, messageCallback: (m) => { m.handled = true; } });
}

export function reportPath(report: string): string {
  return join(reportFolder, `${report}.api.md`);
}

export function actualReportPath(report: string): string {
  return join(tempFolder, `${report}.api.md`);
}

/** Exported names the report says have no documentation (API Extractor's ae-undocumented). */
export function undocumentedExports(report: string): string[] {
  const names = new Set(exportedNames(report));
  const text = readFileSync(reportPath(report), 'utf8');
  const missing = [...text.matchAll(/^\/\/ \S+ - \(ae-undocumented\) Missing documentation for "([^"]+)"/gm)].map((m) => m[1]!);
  return [...new Set(missing.filter((name) => names.has(name)))].sort();
}

/** The names an entry point exports, read from its report. */
export function exportedNames(report: string): string[] {
  const text = readFileSync(reportPath(report), 'utf8');
  const declared = [...text.matchAll(/^export (?:declare )?(?:abstract )?(?:class|function|const|let|type|interface|enum|namespace) (\w+)/gm)].map((m) => m[1]);
  const reexported = [...text.matchAll(/^export \{ ([^}]+) \}/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop()!));
  return [...new Set([...declared, ...reexported])].sort();
}

if (require.main === module) {
  for (const { entry, report } of entryPoints) {
    const result = runApiExtractor(entry, report, true);
    console.log(`${reportPath(report)}: ${result.apiReportChanged ? 'updated' : 'unchanged'}; ${exportedNames(report).length} exported names`);
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SetupError } from '../errors';

/**
 * The versions Strongbox is built and tested against (package.json peerDependencies say the same).
 * The driver's client-side encryption state machine is used directly, so the driver line is narrow;
 * BSON values cross between the app, the driver and Strongbox, so there must be one BSON major.
 */
export const SUPPORTED_VERSIONS = {
  mongodb: { range: '>=6.22.0 <7', min: [6, 22, 0], belowMajor: 7 },
  'mongodb-client-encryption': { range: '>=6.0.0 <7', min: [6, 0, 0], belowMajor: 7 },
  bson: { range: '>=6.10.0 <7', min: [6, 10, 0], belowMajor: 7 },
} as const;
export type CheckedPackage = keyof typeof SUPPORTED_VERSIONS;

/** What is installed, as the app's `require` sees it (undefined: not installed). */
export type InstalledVersions = Record<CheckedPackage, string | undefined>;

function parse(version: string): number[] {
  return version.split(/[.+-]/).slice(0, 3).map(Number);
}

function supported(name: CheckedPackage, version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = parse(version);
  const { min: [minMajor, minMinor, minPatch], belowMajor } = SUPPORTED_VERSIONS[name];
  if (major >= belowMajor) return false;
  if (major !== minMajor) return major > minMajor;
  if (minor !== minMinor) return minor > minMinor;
  return patch >= minPatch;
}

/** One sentence per package that is missing or outside the supported range; empty when all fit. */
export function compatibilityProblems(installed: InstalledVersions): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(SUPPORTED_VERSIONS) as CheckedPackage[]) {
    const version = installed[name];
    const range = SUPPORTED_VERSIONS[name].range;
    if (version === undefined) problems.push(`${name} is not installed (Strongbox needs ${range})`);
    else if (!supported(name, version)) problems.push(`${name} ${version} is installed, Strongbox needs ${range}`);
  }
  return problems;
}

/** The package.json version of `name` as resolved from `from` (a module path), or undefined. */
function versionOf(name: string, from: string): string | undefined {
  let entry: string;
  try { entry = require.resolve(name, { paths: [from] }); } catch { return undefined; }
  // Walk up from the entry point: some packages do not export their package.json.
  for (let dir = dirname(entry); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (json.name === name) return json.version;
    }
  }
  return undefined;
}

/** The versions the running process actually loads: the driver Strongbox uses, and the BSON library that driver uses. */
export function installedVersions(): InstalledVersions {
  const driverEntry = (() => { try { return require.resolve('mongodb'); } catch { return undefined; } })();
  return {
    mongodb: versionOf('mongodb', __dirname),
    'mongodb-client-encryption': driverEntry ? versionOf('mongodb-client-encryption', driverEntry) : undefined,
    bson: driverEntry ? versionOf('bson', driverEntry) : undefined,
  };
}

/** Start-up check: one SetupError naming every version that does not fit, and the command that fixes it. */
export function assertDriverCompatible(installed: InstalledVersions = installedVersions()): void {
  const problems = compatibilityProblems(installed);
  if (problems.length === 0) return;
  throw new SetupError('SETUP_DRIVER_VERSION', `Incompatible MongoDB packages: ${problems.join('; ')}.`, {
    fix: "install the supported versions next to Strongbox in your app, e.g. 'npm install mongodb@6.22.0 mongodb-client-encryption@6.0.0' (see docs/install.md), and make sure only one copy of mongodb is installed ('npm ls mongodb bson').",
  });
}

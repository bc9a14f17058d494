import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { StrongboxConfig } from '../config/strongboxConfig';
import { ConfigError } from '../errors';

const CONFIG_ENV = 'STRONGBOX_CONFIG';

/**
 * Candidate files, in order. TypeScript projects compile their strongbox.config.ts with tsc
 * (decorator metadata needs it) and the CLI loads the emitted JavaScript.
 */
const DEFAULT_CANDIDATES = ['strongbox.config.js', 'strongbox.config.cjs', 'dist/strongbox.config.js', 'build/strongbox.config.js'];

/** The configuration file the CLI loads (it may not exist; loadConfig says so). */
export function configPath(explicitPath?: string, cwd = process.cwd()): string | undefined {
  const given = explicitPath ?? process.env[CONFIG_ENV];
  return given ? (isAbsolute(given) ? given : resolve(cwd, given)) : DEFAULT_CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c));
}

/**
 * Loads the project's configuration: `--config PATH`, else $STRONGBOX_CONFIG, else the first
 * default candidate in the working directory. Secrets and per-environment values can be
 * overridden by environment variables so they need not be written in the file:
 * STRONGBOX_URI, STRONGBOX_TLS_CERTIFICATE_KEY_FILE_PASSWORD (and STRONGBOX_LOCAL_MASTER_KEY,
 * read where the key is loaded), NODE_ENV=production for the production rules.
 */
export async function loadConfig(explicitPath?: string, cwd = process.cwd()): Promise<StrongboxConfig> {
  const given = explicitPath ?? process.env[CONFIG_ENV];
  const path = configPath(explicitPath, cwd);
  if (!path || !existsSync(path)) {
    throw new ConfigError('CONFIG_NOT_FOUND', given ? `The configuration file ${path} does not exist.` : `No Strongbox configuration found in ${cwd} (looked for ${DEFAULT_CANDIDATES.join(', ')}).`, {
      fix: 'create strongbox.config.ts exporting your StrongboxConfig as default, compile it with tsc, and pass --config dist/strongbox.config.js (or set STRONGBOX_CONFIG).',
    });
  }
  if (path.endsWith('.ts')) {
    throw new ConfigError('CONFIG_TYPESCRIPT_SOURCE', `${path} is TypeScript source; the CLI loads compiled JavaScript because model decorators need tsc's metadata.`, {
      fix: `compile it with tsc and point --config at the emitted .js file (for example dist/${path.split('/').pop()!.replace(/\.ts$/, '.js')}).`,
    });
  }
  let loaded: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(path);
  } catch (err) {
    throw new ConfigError('CONFIG_LOAD_FAILED', `Loading ${path} failed: ${(err as Error).message}`, { fix: 'run the file with node to see the full error.', cause: err });
  }
  const module = loaded as { default?: unknown; config?: unknown };
  const exported = (module.default ?? module.config ?? loaded) as StrongboxConfig | (() => StrongboxConfig | Promise<StrongboxConfig>);
  const config = typeof exported === 'function' ? await exported() : exported;
  if (!config || typeof config !== 'object' || !('uri' in config)) {
    throw new ConfigError('CONFIG_SHAPE', `${path} does not export a Strongbox configuration (an object with uri, kms, models).`, {
      fix: 'export default { uri, tls, kms, models } (or a function returning it).',
    });
  }
  return applyEnvironmentOverrides(config);
}

function applyEnvironmentOverrides(config: StrongboxConfig, env: NodeJS.ProcessEnv = process.env): StrongboxConfig {
  const out: StrongboxConfig = { ...config };
  if (env.STRONGBOX_URI) out.uri = env.STRONGBOX_URI;
  if (env.STRONGBOX_TLS_CERTIFICATE_KEY_FILE_PASSWORD) out.tls = { ...out.tls, certificateKeyFilePassword: env.STRONGBOX_TLS_CERTIFICATE_KEY_FILE_PASSWORD };
  return out;
}

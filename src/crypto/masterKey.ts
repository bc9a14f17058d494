import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { inspect } from 'node:util';
import { KeyError } from '../errors';
import { ownCopy, wipe } from '../bson/memory';

/** libmongocrypt's local KMS provider wants exactly 96 bytes of key material. */
export const LOCAL_MASTER_KEY_BYTES = 96;
export const MASTER_KEY_ENV = 'STRONGBOX_LOCAL_MASTER_KEY';
const DEFAULT_DEV_KEY_FILE = '.strongbox/master.key';

/** Where the local KMS provider's 96-byte master key comes from (development and tests; production uses a cloud KMS). */
export interface LocalKmsOptions {
  /** Path to a file holding the 96-byte key, raw or base64. */
  keyFile?: string;
  /** The key itself (96 raw bytes, or base64 text). Prefer keyFile or the environment variable. */
  key?: Uint8Array | string;
}

export interface MasterKeyContext {
  environment: 'development' | 'production';
  /** Where development mode creates a key when none is configured. */
  devKeyFile?: string;
  warn?: (message: string) => void;
}

function decode(material: Uint8Array | string, origin: string): Buffer {
  if (typeof material !== 'string') return ownCopy(material);
  const text = material.trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const decoded = Buffer.from(text, 'base64');
    const bytes = ownCopy(decoded);
    wipe(decoded);
    // Node's decoder skips characters it cannot use (a stray one at the end): only the exact encoding is the key.
    if (bytes.length === LOCAL_MASTER_KEY_BYTES && bytes.toString('base64') === text.replace(/\s+/g, '')) return bytes;
  }
  throw new KeyError('KEY_MASTER_WRONG_LENGTH', `The local master key from ${origin} is not ${LOCAL_MASTER_KEY_BYTES} bytes of base64.`, {
    fix: `generate one with: node -e "console.log(require('crypto').randomBytes(${LOCAL_MASTER_KEY_BYTES}).toString('base64'))"`,
  });
}

function checkLength(key: Buffer, origin: string): Buffer {
  if (key.length !== LOCAL_MASTER_KEY_BYTES) {
    throw new KeyError('KEY_MASTER_WRONG_LENGTH', `The local master key from ${origin} is ${key.length} bytes; the local KMS provider needs exactly ${LOCAL_MASTER_KEY_BYTES}.`, {
      fix: `use a ${LOCAL_MASTER_KEY_BYTES}-byte key (raw, or base64 text). Do not shorten or pad an existing key: data keys wrapped by it would become unreadable.`,
    });
  }
  return key;
}

function readKeyFile(path: string, warn: (message: string) => void): Buffer {
  warnIfWorldReadable(path, warn);
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyError('KEY_MASTER_UNREADABLE', `The local master key file ${path} cannot be read (${code ?? 'error'}).`, {
      fix: code === 'ENOENT' ? `create it, point kms.local.keyFile at the right file, or set ${MASTER_KEY_ENV}.` : 'check the file permissions for the user running the application.',
      cause: err,
    });
  }
  // The file's bytes may come from Node's shared pool: the key is kept in a copy of its own.
  try {
    if (raw.length === LOCAL_MASTER_KEY_BYTES) return ownCopy(raw);
    return checkLength(decode(raw.toString('latin1'), `file ${path}`), `file ${path}`);
  } finally {
    wipe(raw);
  }
}

/**
 * Resolves the local master key: explicit key, then key file, then the environment variable.
 * In development, when nothing is configured, a key is generated once (with a warning); in
 * production a missing key is an error, because a fresh key would silently orphan every data key.
 */
export function loadLocalMasterKey(options: LocalKmsOptions, context: MasterKeyContext): Buffer {
  if (options.key !== undefined) return checkLength(decode(options.key, 'kms.local.key'), 'kms.local.key');
  const warn = context.warn ?? console.warn;
  if (options.keyFile) return readKeyFile(resolve(options.keyFile), warn);
  const fromEnv = process.env[MASTER_KEY_ENV];
  if (fromEnv) return checkLength(decode(fromEnv, `$${MASTER_KEY_ENV}`), `$${MASTER_KEY_ENV}`);

  if (context.environment === 'production') {
    throw new KeyError('KEY_MASTER_MISSING', 'No local master key is configured, and production mode never generates one.', {
      fix: `set kms.local.keyFile or the ${MASTER_KEY_ENV} environment variable (base64 of ${LOCAL_MASTER_KEY_BYTES} bytes).`,
    });
  }
  const devFile = resolve(context.devKeyFile ?? DEFAULT_DEV_KEY_FILE);
  if (existsSync(devFile)) return readKeyFile(devFile, warn);
  mkdirSync(dirname(devFile), { recursive: true, mode: 0o700 });
  const key = randomBytes(LOCAL_MASTER_KEY_BYTES);
  // 'wx' fails if another process created it meanwhile; then use theirs.
  try {
    const fd = openSync(devFile, 'wx', 0o600);
    try { writeSync(fd, key.toString('base64') + '\n'); } finally { closeSync(fd); }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(devFile, warn);
    throw new KeyError('KEY_MASTER_UNWRITABLE', `Cannot create the development master key file ${devFile}.`, { fix: 'make the folder writable or configure kms.local.keyFile.', cause: err });
  }
  warn(
    `strongbox: WARNING: generated a development master key in ${devFile}. Anyone with this file can decrypt the data; ` +
      `keep it out of version control, and configure a real key (kms.local.keyFile, ${MASTER_KEY_ENV} or a cloud KMS) for production.`,
  );
  return key;
}

/**
 * Marks key material so that util.inspect, console.log and JSON.stringify show a placeholder
 * wherever the Buffer ends up: the driver keeps it in its KMS options, so logging a client, a
 * repository or `client.encryption` would otherwise print the key. Its bytes are unchanged.
 */
export function concealKey(key: Buffer, what = 'local master key'): Buffer {
  const placeholder = `<${what}: ${key.length} bytes, not shown>`;
  Object.defineProperty(key, inspect.custom, { value: () => placeholder });
  Object.defineProperty(key, 'toJSON', { value: () => placeholder });
  return key;
}

/** Warns when a key file can be read by other users of the machine. */
function warnIfWorldReadable(path: string, warn: (message: string) => void): void {
  try {
    if (statSync(path).mode & 0o004) warn(`strongbox: WARNING: ${path} holds key material and is readable by every user on this machine. Fix: chmod 600 ${path}`);
  } catch { /* missing files are reported elsewhere */ }
}

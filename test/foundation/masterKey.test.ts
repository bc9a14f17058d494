import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyError } from '../../src/errors';
import { loadLocalMasterKey, MASTER_KEY_ENV } from '../../src/crypto/masterKey';

const dir = () => mkdtempSync(join(tmpdir(), 'sb-mk-'));
const dev = { environment: 'development' as const, warn: () => undefined };

test('a 96-byte key is read from a file, raw or base64', (t) => {
  const key = randomBytes(96);
  const raw = join(dir(), 'raw.key');
  const b64 = join(dir(), 'b64.key');
  writeFileSync(raw, key, { mode: 0o600 });
  writeFileSync(b64, key.toString('base64') + '\n', { mode: 0o600 });
  t.deepEqual(loadLocalMasterKey({ keyFile: raw }, dev), key);
  t.deepEqual(loadLocalMasterKey({ keyFile: b64 }, dev), key);
});

test('a key of the wrong length is refused with the length and how to make one', (t) => {
  const file = join(dir(), 'short.key');
  writeFileSync(file, randomBytes(32).toString('base64'));
  const err = t.throws(() => loadLocalMasterKey({ keyFile: file }, dev), { instanceOf: KeyError });
  t.is(err!.code, 'KEY_MASTER_WRONG_LENGTH');
  t.regex(err!.message, /96 bytes/);
  t.regex(err!.message, /Fix: generate one/);
});

test('a missing key file names the file and the fix', (t) => {
  const err = t.throws(() => loadLocalMasterKey({ keyFile: '/nonexistent/master.key' }, dev), { instanceOf: KeyError });
  t.is(err!.code, 'KEY_MASTER_UNREADABLE');
  t.regex(err!.message, /\/nonexistent\/master\.key/);
});

test('an unreadable key file is reported as such', (t) => {
  if (process.getuid?.() === 0) {
    // root reads any file regardless of mode; a directory in place of the file is unreadable for everyone.
    const err = t.throws(() => loadLocalMasterKey({ keyFile: dir() }, dev), { instanceOf: KeyError });
    t.is(err!.code, 'KEY_MASTER_UNREADABLE');
    return;
  }
  const file = join(dir(), 'locked.key');
  writeFileSync(file, randomBytes(96));
  chmodSync(file, 0o000);
  t.is(t.throws(() => loadLocalMasterKey({ keyFile: file }, dev), { instanceOf: KeyError })!.code, 'KEY_MASTER_UNREADABLE');
});

test('the environment variable is used when no file is configured', (t) => {
  const key = randomBytes(96);
  process.env[MASTER_KEY_ENV] = key.toString('base64');
  try {
    t.deepEqual(loadLocalMasterKey({}, { environment: 'production' }), key);
  } finally {
    delete process.env[MASTER_KEY_ENV];
  }
});

test('production refuses to run without a configured key', (t) => {
  const err = t.throws(() => loadLocalMasterKey({}, { environment: 'production', devKeyFile: join(dir(), 'k') }), { instanceOf: KeyError });
  t.is(err!.code, 'KEY_MASTER_MISSING');
});

test('development generates a key once, with a warning, and reuses it', (t) => {
  const file = join(dir(), 'dev', 'master.key');
  const warnings: string[] = [];
  const first = loadLocalMasterKey({}, { environment: 'development', devKeyFile: file, warn: (m) => warnings.push(m) });
  t.true(existsSync(file));
  t.is(first.length, 96);
  t.is(warnings.length, 1);
  t.regex(warnings[0], /generated a development master key/);
  t.false(warnings[0].includes(first.toString('base64')), 'the warning does not print the key');
  const second = loadLocalMasterKey({}, { environment: 'development', devKeyFile: file, warn: (m) => warnings.push(m) });
  t.deepEqual(second, first);
  t.is(readFileSync(file, 'utf8').trim(), first.toString('base64'));
});

test('a world-readable key file gets a warning', (t) => {
  const file = join(dir(), 'open.key');
  writeFileSync(file, randomBytes(96));
  chmodSync(file, 0o644);
  const warnings: string[] = [];
  loadLocalMasterKey({ keyFile: file }, { environment: 'development', warn: (m) => warnings.push(m) });
  t.true(warnings.some((w) => /readable by every user/.test(w)));
});

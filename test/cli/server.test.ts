/**
 * `strongbox server` as a user runs it: a process that prints how to connect, serves TLS with the
 * printed files, and stops on Ctrl-C; and a clear error when what it needs to install is missing.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { resolveDevTools } from '../../src/devserver/tools';

const cli = resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

function start(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [cli, 'server'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<number | null>((res) => child.on('close', res));
  const ready = async () => {
    const deadline = Date.now() + 60_000;
    while (!out.includes('Press Ctrl-C') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return out;
  };
  return { child, exited, ready, output: () => ({ out, err }) };
}

const tools = resolveDevTools();
const installed = existsSync(tools.binary);
const skipReason = `no development server is installed at ${tools.binary}; 'bash scripts/setup.sh' (without MONGODB_URI) builds it`;
const serverTest = installed ? test : test.skip;
if (!installed) console.log(`SKIP strongbox server: ${skipReason}`);

serverTest(`strongbox server prints a TLS connection that works, and stops cleanly on Ctrl-C${installed ? '' : ` [skipped: ${skipReason}]`}`, async (t) => {
  const server = start(process.env);
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const out = await server.ready();
  t.regex(out, /is running on 127\.0\.0\.1/, server.output().err);
  const uri = /TLS \(use this\):\s+(\S+)/.exec(out)?.[1];
  const caFile = /CA file:\s+(\S+)/.exec(out)?.[1];
  const certificateKeyFile = /client cert\+key:\s+(\S+)/.exec(out)?.[1];
  t.truthy(uri && caFile && certificateKeyFile, out);
  const client = new MongoClient(uri!, { tlsCAFile: caFile, tlsCertificateKeyFile: certificateKeyFile, serverSelectionTimeoutMS: 5000 });
  try {
    t.is((await client.db('admin').command({ ping: 1 })).ok, 1);
  } finally {
    await client.close();
  }
  const data = /data:\s+(\S+)/.exec(out)?.[1];
  server.child.kill('SIGINT');
  t.is(await server.exited, 0, server.output().err);
  t.regex(server.output().out, /Stopped \(SIGINT\)\./);
  t.false(existsSync(data!), 'the temporary data folder is removed on stop');
});

test('strongbox server names the missing program (Go) when it has to install the server', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'strongbox-tools-'));
  const server = start({ ...process.env, STRONGBOX_TOOLS_DIR: empty, PATH: join(empty, 'no-bin') });
  t.is(await server.exited, 1);
  const { err } = server.output();
  t.regex(err, /go is not installed; it is needed once, to build the development server/);
  t.regex(err, /Fix: install Go/);
  t.regex(err, /\[SETUP_MISSING_PROGRAM\]/);
});

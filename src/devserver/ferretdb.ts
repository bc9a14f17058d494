import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { SetupError } from '../errors';
import { checkoutToolsDir, resolveDevTools, type DevTools } from './tools';

/** Where scripts/setup.sh puts the server binary and the test PKI in a Strongbox checkout. */
export const toolsDir = checkoutToolsDir;
export const pkiDir = join(toolsDir, 'pki');

export interface LocalServer {
  /** Plain TCP, for tools and the plain-client checks. */
  readonly uri: string;
  /** TLS listener that requires a client certificate signed by the test CA. */
  readonly tlsUri: string;
  readonly caFile: string;
  readonly clientCertificateKeyFile: string;
  /** e.g. "FerretDB v1.24.2 (MongoDB 7.0.77 wire compatible)". */
  readonly description: string;
  readonly logFile: string;
  readonly port: number;
  readonly tlsPort: number;
  /** SQLite files; removed by stop() unless the caller passed it in. */
  readonly dataDir: string;
  stop(): Promise<void>;
  /** Ends the server abruptly (SIGKILL), as a crash would, leaving its data directory in place. */
  kill(): Promise<void>;
}

export interface LocalServerOptions {
  startTimeoutMs?: number;
  /**
   * Restarting a killed server with its data (fault tests): the same ports and an existing
   * data directory, which then belongs to the caller. Default: free ports, a fresh directory.
   */
  port?: number;
  tlsPort?: number;
  dataDir?: string;
  /** Server binary and certificates; default: resolveDevTools(). */
  tools?: DevTools;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/**
 * Starts a private FerretDB (SQLite backend in a temporary directory) on 127.0.0.1 with a
 * plain port and a TLS port that demands a client certificate. Telemetry is disabled: it
 * would otherwise try to reach the internet.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const tools = options.tools ?? resolveDevTools();
  const { binary, pkiDir: certificates } = tools;
  const caFile = join(certificates, 'ca.pem');
  for (const [file, what] of [[binary, 'FerretDB binary'], [caFile, 'development PKI']] as const) {
    if (!existsSync(file)) {
      throw new SetupError('SETUP_MISSING_TOOL', `The ${what} is missing (${file}).`, {
        fix: "run 'npx strongbox server' once, which installs it into your user cache (in a Strongbox checkout: 'bash scripts/setup.sh'), or set MONGODB_URI to an existing server.",
      });
    }
  }
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'strongbox-ferretdb-'));
  const [port, tlsPort] = [options.port ?? await freePort(), options.tlsPort ?? await freePort()];
  const logFile = join(dataDir, 'ferretdb.log');
  const logFd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, [
    '--handler=sqlite', `--sqlite-url=file:${dataDir}/`, `--state-dir=${dataDir}`,
    `--listen-addr=127.0.0.1:${port}`, `--listen-tls=127.0.0.1:${tlsPort}`,
    `--listen-tls-cert-file=${join(certificates, 'server.crt')}`, `--listen-tls-key-file=${join(certificates, 'server.key')}`,
    `--listen-tls-ca-file=${caFile}`,
    '--telemetry=disable', '--debug-addr=-', '--log-level=warn',
  ], { stdio: ['ignore', logFd, logFd], detached: false });
  closeSync(logFd);
  // The server must not keep this process alive; the exit hook below stops it.
  child.unref();

  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async () => {
    if (!exited) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    }
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const kill = async () => {
    if (exited) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await done;
  };
  // Never leave a server behind, whatever way this process ends.
  process.once('exit', () => { if (!exited) child.kill('SIGKILL'); });

  const uri = `mongodb://127.0.0.1:${port}/`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  let description = '';
  for (;;) {
    if (exited) {
      const log = readFileSync(logFile, 'utf8').slice(-2000);
      await stop();
      throw new SetupError('SETUP_SERVER_EXITED', `FerretDB exited during start-up. Its log ends with:\n${log}`, {
        fix: "re-run 'bash scripts/setup.sh' to rebuild it, or set MONGODB_URI to an existing server.",
      });
    }
    const wait = Math.max(1, Math.min(500, deadline - Date.now()));
    const probe = new MongoClient(uri, { serverSelectionTimeoutMS: wait, connectTimeoutMS: wait });
    try {
      const info = await probe.db('admin').command({ buildInfo: 1 });
      description = `FerretDB ${info.ferretdbVersion ?? info.ferretdb?.version ?? '?'} (MongoDB ${info.version} wire compatible)`;
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new SetupError('SETUP_SERVER_TIMEOUT', `FerretDB did not answer on 127.0.0.1:${port} within ${options.startTimeoutMs ?? 20_000} ms.`, {
          fix: `look at its log (${logFile}); check that nothing else holds the port and that the machine is not overloaded.`,
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await probe.close();
    }
  }
  return {
    uri,
    tlsUri: `mongodb://localhost:${tlsPort}/?tls=true`,
    caFile,
    clientCertificateKeyFile: join(certificates, 'client.pem'),
    description,
    logFile,
    port,
    tlsPort,
    dataDir,
    stop,
    kill,
  };
}

/**
 * A real KMIP key server (PyKMIP, installed by scripts/kmip.sh) on 127.0.0.1, speaking TLS with
 * the test PKI's server certificate and requiring client certificates signed by the test CA.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pkiDir, toolsDir } from '../../src/devserver/ferretdb';
import { SetupError } from '../../src/errors';

export interface KmipServer {
  /** For kmsProviders.kmip.endpoint; `localhost` because the certificate names it. */
  readonly endpoint: string;
  readonly port: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

const repoRoot = resolve(toolsDir, '..');
const python = join(toolsDir, 'kmip-venv', 'bin', 'python');

// Port 0 lets the OS choose, so parallel test files never race for one; the launcher prints the
// port it got (PyKMIP ignores a falsy port argument, hence the setting is overwritten).
// When its stdin closes (the test process ended, however) it kills its process group, which
// includes the helper process PyKMIP forks and which would otherwise outlive it. That watch
// starts only after start(): forking while a thread blocks reading stdin deadlocks the child.
const LAUNCHER = `
import os, signal, sys, threading, traceback
from kmip.services.server import KmipServer
cert, key, ca, work = sys.argv[1:5]
def end_group():
    sys.stderr.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)
def end_with_parent():
    sys.stdin.read()
    end_group()
try:
    server = KmipServer(hostname='127.0.0.1', certificate_path=cert, key_path=key, ca_path=ca,
        auth_suite='TLS1.2', enable_tls_client_auth=True, config_path=None, policy_path=work,
        log_path=os.path.join(work, 'server.log'), database_path=os.path.join(work, 'kmip.db'))
    server.config.settings['port'] = 0
    server.start()
    threading.Thread(target=end_with_parent, daemon=True).start()
    print('LISTENING', server._socket.getsockname()[1], flush=True)
    server.serve()
except BaseException:
    traceback.print_exc()
    end_group()
`;

export async function startKmipServer(options: { startTimeoutMs?: number } = {}): Promise<KmipServer> {
  ensureInstalled();
  const work = mkdtempSync(join(tmpdir(), 'strongbox-kmip-'));
  const logFile = join(work, 'server.log');
  // Own process group, so that stop() can end PyKMIP's helper processes with it.
  const child = spawn(python, ['-W', 'ignore', '-c', LAUNCHER, join(pkiDir, 'server.crt'), join(pkiDir, 'server.key'), join(pkiDir, 'ca.pem'), work], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  // The whole group: PyKMIP's helper process outlives the launcher otherwise.
  const killGroup = () => {
    if (child.pid === undefined) return;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  process.once('exit', killGroup);
  const stop = async () => {
    const gone = exited ? Promise.resolve() : new Promise((r) => child.once('exit', r));
    killGroup();
    await gone;
    process.removeListener('exit', killGroup);
    rmSync(work, { recursive: true, force: true });
  };

  const timeoutMs = options.startTimeoutMs ?? 15_000;
  try {
    const port = await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /LISTENING (\d+)/.exec(stdout);
        if (m) { clearTimeout(timer); res(Number(m[1])); }
      });
      child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`exited with code ${code}`)); });
    });
    return { endpoint: `localhost:${port}`, port, logFile, stop };
  } catch (err) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-1500) : '';
    await stop();
    throw new SetupError('SETUP_KMIP_START_FAILED', `PyKMIP did not start (${(err as Error).message}). stderr: ${stderr.trim()} ${log}`, {
      fix: "re-run 'bash scripts/kmip.sh'; delete .tools/kmip-venv first if it was installed by another Python.",
    });
  }
}

function ensureInstalled(): void {
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'kmip.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new SetupError('SETUP_KMIP_INSTALL_FAILED', `scripts/kmip.sh failed: ${r.stderr.trim().slice(-1500)}`, {
      fix: 'install python3 with venv support (Debian: apt-get install -y python3-venv) and make PyPI reachable, then re-run it.',
    });
  }
}

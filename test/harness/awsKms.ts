/**
 * An AWS KMS emulator (moto's server, installed by scripts/aws-kms.sh) on 127.0.0.1, behind a TLS
 * front that presents the test PKI's `localhost` certificate: libmongocrypt always speaks TLS to a
 * KMS, and moto's server speaks plain HTTP. The launcher creates one symmetric KMS key and prints
 * its ARN; the AWS master key of a data key points at the front through its `endpoint` option.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { toolsDir } from '../../src/devserver/ferretdb';
import { SetupError } from '../../src/errors';
import { startTlsFront, type Front } from './tlsFront';

export interface AwsKmsEmulator {
  /**
   * For the AWS master key's `endpoint`: the TLS front. An IP address, because libmongocrypt
   * refuses an AWS endpoint without a dot in its host ("expected dot separator in host"), so
   * `localhost` cannot be used; the test server certificate names 127.0.0.1 too.
   */
  readonly endpoint: string;
  /** ARN of the symmetric key created in the emulator (account 123456789012, moto's default). */
  readonly keyArn: string;
  readonly region: string;
  /** Credentials for kms.aws; moto accepts any (it does not verify request signatures). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  /**
   * Another TLS front on the same emulator, presenting a certificate of the test PKI ('server',
   * or 'server-otherca' from a CA the client does not trust); closing it makes its endpoint
   * refuse connections, as a KMS that is down does.
   */
  front(certificate?: string): Promise<Front>;
  stop(): Promise<void>;
}

const repoRoot = resolve(toolsDir, '..');
const python = join(toolsDir, 'aws-kms-venv', 'bin', 'python');
const REGION = 'us-east-1';

// Port 0 lets the OS choose, so parallel test files never race for one. The emulator ends when
// its stdin closes, i.e. when the test process ends, however it ends.
const LAUNCHER = `
import sys
import boto3
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
port = server._server.server_port
kms = boto3.client('kms', region_name=sys.argv[1], endpoint_url='http://127.0.0.1:%d' % port,
    aws_access_key_id='setup', aws_secret_access_key='setup')
arn = kms.create_key(Description='strongbox test master key')['KeyMetadata']['Arn']
print('LISTENING', port, arn, flush=True)
sys.stdin.read()
server.stop()
`;

export async function startAwsKmsEmulator(options: { startTimeoutMs?: number } = {}): Promise<AwsKmsEmulator> {
  ensureInstalled();
  const child = spawn(python, ['-W', 'ignore', '-c', LAUNCHER, REGION], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const kill = () => { if (!exited) child.kill('SIGKILL'); };
  process.once('exit', kill);

  const timeoutMs = options.startTimeoutMs ?? 20_000;
  let started: { port: number; keyArn: string };
  try {
    started = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /LISTENING (\d+) (\S+)/.exec(stdout);
        if (m) { clearTimeout(timer); res({ port: Number(m[1]), keyArn: m[2]! }); }
      });
      child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`exited with code ${code}`)); });
    });
  } catch (err) {
    kill();
    throw new SetupError('SETUP_AWS_KMS_START_FAILED', `The AWS KMS emulator (moto) did not start (${(err as Error).message}). stderr: ${stderr.trim()}`, {
      fix: "re-run 'bash scripts/aws-kms.sh'; delete .tools/aws-kms-venv first if it was installed by another Python.",
    });
  }
  const fronts: Front[] = [];
  const openFront = async (certificate = 'server') => {
    const front = await startTlsFront({ certificate, upstreamPort: started.port });
    fronts.push(front);
    return front;
  };
  const main = await openFront();
  return {
    endpoint: `127.0.0.1:${main.port}`,
    keyArn: started.keyArn,
    region: REGION,
    credentials: { accessKeyId: 'AKIAEMULATOR0000TEST', secretAccessKey: 'emulator-secret-not-checked', sessionToken: 'emulator-session-token' },
    front: openFront,
    async stop() {
      // Closing a front twice is harmless: its server is simply already closed.
      await Promise.all(fronts.map((f) => f.close()));
      const gone = exited ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      child.stdin.end();
      const timer = setTimeout(kill, 3000);
      await gone;
      clearTimeout(timer);
      process.removeListener('exit', kill);
    },
  };
}

function ensureInstalled(): void {
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'aws-kms.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new SetupError('SETUP_AWS_KMS_INSTALL_FAILED', `scripts/aws-kms.sh failed: ${r.stderr.trim().slice(-1500)}`, {
      fix: 'install python3 with venv support (Debian: apt-get install -y python3-venv) and make PyPI reachable, then re-run it.',
    });
  }
}

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SetupError } from '../errors';
import { FERRETDB_VERSION, type DevTools } from './tools';

/**
 * Makes `tools` complete: builds FerretDB from the Go module proxy and writes a development PKI
 * (a CA, a server certificate for localhost and 127.0.0.1, a client certificate and key in one
 * PEM). Idempotent; each missing program is one SetupError naming it and how to get it.
 */
export function installDevTools(tools: DevTools, log: (line: string) => void): void {
  if (!hasServer(tools)) buildFerretDb(tools, log);
  if (!PKI_FILES.every((file) => existsSync(join(tools.pkiDir, file)))) writePki(tools.pkiDir, log);
}

/** What the server and its clients use; client.pem is written last, so its presence means complete. */
const PKI_FILES = ['ca.pem', 'server.crt', 'server.key', 'client.pem'];

function hasServer(tools: DevTools): boolean {
  if (!existsSync(tools.binary)) return false;
  const version = spawnSync(tools.binary, ['--version'], { encoding: 'utf8' });
  return version.status === 0 && version.stdout.includes(`version: ${FERRETDB_VERSION}`);
}

function need(program: string, why: string, fix: string): void {
  const found = spawnSync(program, ['version'], { stdio: 'ignore' });
  if (found.error) throw new SetupError('SETUP_MISSING_PROGRAM', `${program} is not installed; it is needed ${why}.`, { fix });
}

function buildFerretDb(tools: DevTools, log: (line: string) => void): void {
  need('go', 'once, to build the development server (FerretDB)', 'install Go >= 1.24 (https://go.dev/doc/install, or your package manager), or set MONGODB_URI to an existing MongoDB.');
  log(`building FerretDB ${FERRETDB_VERSION} into ${tools.dir} (once, about a minute)`);
  const download = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`], { cwd: tmpdir(), encoding: 'utf8' })) as { Dir?: string };
  if (!download.Dir) throw new SetupError('SETUP_FERRETDB_DOWNLOAD', `Could not download FerretDB ${FERRETDB_VERSION} from the Go module proxy.`, { fix: 'check GOPROXY and the network, then retry.' });
  // The module cache is read-only and the build needs build/version/version.txt, which a git
  // checkout would write: build from a writable copy.
  const work = mkdtempSync(join(tmpdir(), 'strongbox-ferretdb-src-'));
  try {
    cpSync(download.Dir, work, { recursive: true });
    chmodRecursive(work);
    writeFileSync(join(work, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    mkdirSync(join(tools.dir, 'bin'), { recursive: true });
    const build = (extra: string[]) => spawnSync('go', ['build', ...extra, '-o', tools.binary, './cmd/ferretdb'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    // Go 1.23+ restricts go:linkname, which older dependencies use; the linker flag lifts it.
    let result = build([]);
    if (result.status !== 0) result = build(['-ldflags=-checklinkname=0']);
    if (result.status !== 0) throw new SetupError('SETUP_FERRETDB_BUILD', `Building FerretDB failed: ${result.stderr.slice(-1500)}`, { fix: 'check the Go installation (go version >= 1.24), then retry.' });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function chmodRecursive(dir: string): void {
  execFileSync('chmod', ['-R', 'u+w', dir]);
}

function writePki(dir: string, log: (line: string) => void): void {
  need('openssl', 'to create the development certificates', 'install OpenSSL (apt-get install openssl).');
  log(`writing development certificates into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
    '-subj', '/O=Strongbox Development/CN=Strongbox Development CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const issue = (name: string, cn: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Strongbox Development/CN=${cn}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '3650', '-extfile', `${name}.ext`);
    rmSync(join(dir, `${name}.csr`));
    rmSync(join(dir, `${name}.ext`));
    // The client certificate and its key in one PEM, as tlsCertificateKeyFile expects.
    writeFileSync(join(dir, `${name}.pem`), readFileSync(join(dir, `${name}.crt`), 'utf8') + readFileSync(join(dir, `${name}.key`), 'utf8'));
    chmodSync(join(dir, `${name}.key`), 0o600);
  };
  // The client last: see PKI_FILES.
  issue('server', 'localhost', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  issue('client', 'strongbox-client', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  chmodSync(join(dir, 'ca.key'), 0o600);
}

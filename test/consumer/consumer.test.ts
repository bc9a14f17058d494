/**
 * The path a user takes, end to end: pack the library (prepack builds it), install the tarball
 * into a fresh app outside the repository, compile a TypeScript app as CommonJS and as an ES
 * module against the installed package (its main entry and every subpath), and run both against
 * the test server over TLS.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { testServer, uniqueDbName } from '../harness/server';

const run = promisify(execFile);
const repo = resolve(__dirname, '..', '..', '..');
const appSource = join(repo, 'test', 'consumer', 'app', 'main.ts');
const installedVersion = (name: string) => (JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

interface PackResult { filename: string; size: number; entryCount: number; files: { path: string }[] }

/** What the published package may hold: the compiled library, its declarations, and the documents. */
const ALLOWED = [/^lib\/.+\.(js|mjs|d\.ts|d\.mts)$/, /^docs\/[^/]+\.(md|svg)$/, /^(README\.md|LICENSE|SECURITY\.md|package\.json)$/];
const ENTRIES = ['index', 'testing', 'entries/migrations', 'entries/keys', 'entries/audit'];
const REQUIRED = ['package.json', 'README.md', 'LICENSE', 'lib/cli/main.js', 'docs/install.md',
  ...ENTRIES.flatMap((entry) => ['js', 'd.ts', 'mjs', 'd.mts'].map((ext) => `lib/${entry}.${ext}`))];

test('the packed library installs into a fresh app, compiles as CommonJS and ESM, and round-trips an encrypted document over TLS', async (t) => {
  t.timeout(15 * 60_000);
  const timings: string[] = [];
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try { return await work(); } finally { timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`); }
  };
  const work = mkdtempSync(join(tmpdir(), 'strongbox-consumer-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  t.true(relative(repo, work).startsWith('..'), 'the app lives outside the repository');

  // 1. Pack, and check what the tarball holds.
  const packed = await timed('npm pack', async () => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work, '--loglevel=error'], { cwd: repo, maxBuffer: 32 * 1024 * 1024 });
    return (JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[])[0]!;
  });
  const paths = packed.files.map((f) => f.path);
  t.deepEqual(paths.filter((p) => !ALLOWED.some((re) => re.test(p))), [], 'nothing but the library, its types and the documents');
  t.deepEqual(REQUIRED.filter((p) => !paths.includes(p)), [], 'every entry point and document is in the tarball');
  t.log(`tarball: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB`);

  // 2. A fresh app that depends on the tarball and on the supported driver and binding.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'consumer-app', version: '1.0.0', private: true,
    dependencies: {
      strongbox: `file:${join(work, packed.filename)}`,
      mongodb: installedVersion('mongodb'),
      'mongodb-client-encryption': installedVersion('mongodb-client-encryption'),
    },
    devDependencies: { typescript: installedVersion('typescript'), '@types/node': installedVersion('@types/node') },
    allowScripts: { 'mongodb-client-encryption': true },
  }, null, 2));
  await timed('npm install', () => run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app, env: { ...process.env, BUILD_TYPE: 'dynamic', CXXFLAGS: '-fpermissive' }, maxBuffer: 32 * 1024 * 1024,
  }));
  const { stdout: tree } = await run('npm', ['ls', 'mongodb', '--all', '--parseable'], { cwd: app });
  t.is(tree.trim().split('\n').filter((line) => line.endsWith('/mongodb')).length, 1, 'one copy of the driver, shared by the app and Strongbox');

  // 3. The same source as CommonJS and as an ES module, type-checked against the installed declarations.
  for (const [format, type] of [['cjs', 'commonjs'], ['esm', 'module']] as const) {
    for (const dir of [join(app, format), join(app, 'out', format)]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
    }
    copyFileSync(appSource, join(app, format, 'main.ts'));
  }
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, types: ['node'],
      experimentalDecorators: true, emitDecoratorMetadata: true, rootDir: '.', outDir: 'out', skipLibCheck: false,
    },
    include: ['cjs/main.ts', 'esm/main.ts'],
  }));
  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  await timed('tsc', () => run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((err: Error & { stdout?: string }) => {
    throw new Error(`the app does not compile against the installed package:\n${err.stdout ?? err.message}`);
  }));
  const compiledEsm = readFileSync(join(app, 'out', 'esm', 'main.js'), 'utf8');
  const compiledCjs = readFileSync(join(app, 'out', 'cjs', 'main.js'), 'utf8');
  for (const entry of ['strongbox', 'strongbox/migrations', 'strongbox/keys', 'strongbox/audit', 'strongbox/testing']) {
    t.true(compiledEsm.includes(`from '${entry}';`), `the ESM build imports ${entry} as an ES module`);
    t.true(compiledCjs.includes(`require("${entry}")`), `the CommonJS build requires ${entry}`);
  }

  // 4. Run both against the test server, through strongbox/testing (MONGODB_URI and the TLS files).
  const server = await testServer();
  for (const format of ['cjs', 'esm']) {
    const db = uniqueDbName(__filename, format);
    const { stdout } = await timed(`run ${format}`, () => run(process.execPath, [join(app, 'out', format, 'main.js')], {
      cwd: app,
      env: {
        ...process.env,
        APP_DB: db,
        MONGODB_URI: server.uri,
        MONGODB_TLS_CA_FILE: server.tls.caFile ?? '',
        MONGODB_TLS_CERTIFICATE_KEY_FILE: server.tls.certificateKeyFile ?? '',
      },
    }));
    t.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), {
      name: 'Ada', ssn: '123-45-6789', diagnosis: 'healthy', isPatient: true, idIsAppObjectId: true,
      storedSsn: 6, storedDiagnosis: 6, randomQuery: 'QUERY_RANDOM_FIELD',
      audit: { documents: 1, consistent: true },
      keyUsedBy: [`${db}.patients.ssn`, `${db}.patients.diagnosis`],
      migrations: ['applied'],
      nameIndex: true,
    }, `${format} app`);
  }

  // 5. The command-line tool is installed as a bin of the app.
  const version = await run(join(app, 'node_modules', '.bin', 'strongbox'), ['--version'], { cwd: app });
  t.is(version.stdout.trim(), (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version);
  t.log(`consumer test: ${timings.join(', ')}`);
});

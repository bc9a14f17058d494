/**
 * The migration loop from TypeScript sources, run as a user runs it (the CLI as a process in the
 * project folder): the CLI never acts on compiled models older than their sources, never leaves
 * out a migration that is not compiled, and `migration check` fails CI when the models changed
 * without a migration.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { masterKeyFile } from '../harness/client';
import { testServer, uniqueDbName } from '../harness/server';

const REPO = resolve(__dirname, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const LIBRARY = join(REPO, 'dist', 'src', 'index');

async function cli(project: string, ...argv: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...argv], { cwd: project });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

function compile(project: string): void {
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' });
}

function writeModel(project: string, withPhone: boolean): void {
  const file = join(project, 'src', 'models.ts');
  writeFileSync(file, `import { Model, Id, Field, Encrypted, type Random } from ${JSON.stringify(LIBRARY)};
import type { ObjectId } from 'mongodb';
@Model({ db: process.env.APP_DB!, collection: 'customers' })
export class Customer {
  @Id() _id!: ObjectId;
  @Field() name!: string;
  @Encrypted({ algorithm: 'Random', keyAltName: 'customers' }) ssn!: Random<string>;
${withPhone ? "  @Encrypted({ algorithm: 'Random', keyAltName: 'customers' }) phone!: Random<string>;\n" : ''}}
`);
}

/** Moves the last build back in time, so an edit made now is later whatever the file system's timestamp resolution. */
function backdateBuild(dir: string): void {
  const earlier = new Date(Date.now() - 10_000);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) backdateBuild(path);
    else utimesSync(path, earlier, earlier);
  }
}

test('migration create, check, up and status refuse stale compiled files and name them; check fails on unmigrated model changes', async (t) => {
  const server = await testServer();
  const project = mkdtempSync(join(tmpdir(), 'strongbox-project-'));
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'project', private: true, scripts: { build: 'tsc -p .' } }));
  // The project resolves the driver and Node's types from the repository's node_modules.
  symlinkSync(join(REPO, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(join(project, 'tsconfig.json'), `{
  // as an app writes it: comments allowed
  "compilerOptions": { "target": "ES2022", "module": "commonjs", "strict": true, "rootDir": ".", "outDir": "dist",
    "experimentalDecorators": true, "emitDecoratorMetadata": true, "skipLibCheck": true, "types": ["node"], },
  "include": ["src/**/*.ts", "migrations/**/*.ts"],
}`);
  process.env.APP_DB = uniqueDbName(__filename);
  writeFileSync(join(project, 'src', 'strongbox.config.ts'), `import { Customer } from './models';
export default {
  uri: ${JSON.stringify(server.uri)}, tls: ${JSON.stringify(server.tls)},
  kms: { local: { keyFile: ${JSON.stringify(masterKeyFile())} } },
  keyVault: { namespace: '${process.env.APP_DB}.__keyVault' },
  models: [Customer],
  migrations: { folder: 'migrations', compiledFolder: 'dist/migrations', database: '${process.env.APP_DB}_sb', importFrom: ${JSON.stringify(join(REPO, 'dist', 'src', 'migrations'))} },
  warn: () => undefined,
};
`);
  writeModel(project, false);
  const config = ['--config', 'dist/src/strongbox.config.js'];

  compile(project);
  const init = await cli(project, 'migration', 'create', 'init', ...config);
  t.is(init.code, 0, init.out);
  t.regex(init.out, /Wrote .*_init\.ts/);
  const up = await cli(project, 'migration', 'up', ...config);
  t.is(up.code, 1, 'the new migration is not compiled: refused, not "nothing to apply"');
  t.regex(up.out, /migrations\/\d{8}T\d{6}_init\.ts \(not compiled\).*strongbox migration up would leave them out.*Fix: compile the project \(npm run build\)/s);
  t.regex(up.out, /\[MIGRATION_NOT_COMPILED\]/);
  compile(project);
  t.is((await cli(project, 'migration', 'check', ...config)).code, 0);

  // The model changes; the project is not rebuilt.
  backdateBuild(join(project, 'dist'));
  writeModel(project, true);
  for (const sub of ['create', 'check']) {
    const stale = await cli(project, 'migration', sub, ...(sub === 'create' ? ['add_phone'] : []), ...config);
    t.is(stale.code, 1, `${sub}: ${stale.out}`);
    t.regex(stale.out, /compiled models are older than their sources.*src\/models\.ts \(newer than dist\/src\/models\.js\).*\[MODELS_NOT_COMPILED\]/s, sub);
  }
  t.is(readdirSync(join(project, 'migrations')).filter((f) => f.endsWith('.ts')).length, 1, 'nothing written from stale models');

  compile(project);
  const check = await cli(project, 'migration', 'check', ...config);
  t.is(check.code, 1, check.out);
  t.regex(check.out, /The models changed since the last migration/);
  t.regex(check.out, /phone/);
  const created = await cli(project, 'migration', 'create', 'add_phone', ...config);
  t.is(created.code, 0, created.out);
  t.regex(created.out, /Wrote .*_add_phone\.ts/);
  t.is((await cli(project, 'migration', 'check', ...config)).code, 0, 'the snapshot now matches');

  const status = await cli(project, 'migration', 'status', '--json', ...config);
  t.is(status.code, 1, status.out);
  t.regex(status.out, /_add_phone\.ts \(not compiled\)/);
  compile(project);
  const listed = await cli(project, 'migration', 'status', '--json', ...config);
  t.is(listed.code, 0, listed.out);
  t.deepEqual((JSON.parse(listed.out) as Array<{ id: string; state: string }>).map((m) => [m.id.replace(/^\d{8}T\d{6}_/, ''), m.state]), [['init', 'pending'], ['add_phone', 'pending']]);
});

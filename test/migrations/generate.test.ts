/*
 * `migration create` for each kind of model change, checked against golden files (set
 * UPDATE_GOLDEN=1 to rewrite them after an intended change), plus: the generated files compile
 * with tsc against the published types, and the compiled output is exactly the planned data.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MetadataRegistry } from '../../src/metadata';
import { diffSnapshots } from '../../src/migrations/differ';
import { createMigration } from '../../src/migrations/generator';
import { loadMigrations } from '../../src/migrations/loader';
import { renderMigration } from '../../src/migrations/render';
import { emptySnapshot, readSnapshot, SNAPSHOT_FILE, takeSnapshot } from '../../src/migrations/snapshot';
import {
  DeterministicNotes, EncryptedPhone, IbanUnderNewKey, IndexesAfter, IndexesBefore, MedicalByField, MedicalWhole, NewAccount,
  PlainNotes, PlainPhone, RandomNotes, ScoreAsInt, ScoreAsLong,
} from './generateModels';
import { DefaultsAfter, DefaultsBefore, RenameAfter, RenameBefore, RenameUndeclared, TypesAfter, TypesBefore } from './fieldChangeModels';
import { declaredRenames } from '../../src/migrations/fieldTypes';

const GOLDEN = resolve(__dirname, '..', '..', '..', 'test', 'migrations', 'golden');
const REPO = resolve(__dirname, '..', '..', '..');

const snapshot = (model?: Function) => {
  const taken = model ? takeSnapshot(new MetadataRegistry([model])) : emptySnapshot();
  // Required fields and defaults as the entities' snapshot records them (@Field({ default }) comes with that work).
  if (model === DefaultsAfter) Object.assign(taken.collections['golden.people'], { required: ['name', 'status', 'tier'], defaults: ['status', 'tier', 'nickname'] });
  return taken;
};

const CASES: Record<string, [Function | undefined, Function | undefined]> = {
  'new-collection': [undefined, NewAccount],
  'indexes-added-dropped-changed': [IndexesBefore, IndexesAfter],
  'field-becomes-encrypted': [PlainPhone, EncryptedPhone],
  'algorithm-changes': [RandomNotes, DeterministicNotes],
  'key-changes': [RandomNotes, IbanUnderNewKey],
  'field-stops-being-encrypted': [RandomNotes, PlainNotes],
  'validator-changes': [ScoreAsInt, ScoreAsLong],
  'model-removed': [PlainPhone, undefined],
  'whole-document-to-one-field': [MedicalWhole, MedicalByField],
  'renames-declared': [RenameBefore, RenameAfter],
  'renames-undeclared-and-removals': [RenameBefore, RenameUndeclared],
  'type-conversions': [TypesBefore, TypesAfter],
  'required-fields-with-defaults': [DefaultsBefore, DefaultsAfter],
};

/** As `migration create` plans it: with the renames the after model declares. */
function planned(before: Function | undefined, after: Function | undefined) {
  return diffSnapshots(snapshot(before), snapshot(after), after && before ? declaredRenames(new MetadataRegistry([after])) : []);
}

function rendered(name: string): string {
  const [before, after] = CASES[name];
  return renderMigration(planned(before, after), { id: `20250101T000000_${name.replace(/-/g, '_')}`, command: `strongbox migration create ${name.replace(/-/g, '_')}`, importFrom: 'strongbox' });
}

for (const name of Object.keys(CASES)) {
  test(`golden: ${name}`, (t) => {
    const file = join(GOLDEN, `${name}.ts.golden`);
    const text = rendered(name);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    t.true(existsSync(file), `missing golden file ${file} (run with UPDATE_GOLDEN=1)`);
    t.is(text, readFileSync(file, 'utf8'));
  });
}

test('generated files compile with tsc, and their compiled form is exactly the planned operations', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strongbox-golden-'));
  const sources = join(dir, 'migrations');
  const expected = new Map<string, unknown>();
  for (const name of Object.keys(CASES)) {
    const [before, after] = CASES[name];
    const id = `20250101T000000_${name.replace(/-/g, '_')}`;
    const plan = planned(before, after);
    expected.set(id, { up: plan.up.filter((s) => !s.disabled).map((s) => s.operation), down: plan.down.filter((s) => !s.disabled).map((s) => s.operation) });
    writeFileSync(join(dir, `${id}.ts`), rendered(name));
  }
  // As a user's project sees it: 'strongbox' resolves to the package's type declarations.
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, target: 'ES2022', module: 'commonjs', outDir: sources, rootDir: dir, skipLibCheck: true, types: [],
      paths: { strongbox: [join(REPO, 'dist', 'src', 'index.d.ts')] },
    },
    include: ['*.ts'],
  }));
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  const compiled = loadMigrations(sources);
  t.is(compiled.length, Object.keys(CASES).length);
  for (const m of compiled) {
    t.deepEqual(JSON.parse(JSON.stringify(m.migration)), expected.get(m.id), m.id);
    t.false(readFileSync(m.file!, 'utf8').includes('require('), 'the compiled file needs no runtime package');
  }
});

test('migration create writes the migration and the snapshot, then finds nothing more to do', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-create-'));
  const first = createMigration({ registry: new MetadataRegistry([PlainPhone]), folder, name: 'accounts', now: new Date('2025-01-01T00:00:00Z') });
  t.truthy(first);
  t.is(first!.id, '20250101T000000_accounts');
  const second = createMigration({ registry: new MetadataRegistry([EncryptedPhone]), folder, name: 'encrypt phone!', now: new Date('2025-01-02T00:00:00Z') });
  t.is(second!.id, '20250102T000000_encrypt_phone');
  t.deepEqual(readSnapshot(join(folder, SNAPSHOT_FILE)), takeSnapshot(new MetadataRegistry([EncryptedPhone])));
  t.is(createMigration({ registry: new MetadataRegistry([EncryptedPhone]), folder, name: 'again', now: new Date('2025-01-03T00:00:00Z') }), undefined, 'no change, no file');
  t.deepEqual(readdirSync(folder).sort(), ['20250101T000000_accounts.ts', '20250102T000000_encrypt_phone.ts', SNAPSHOT_FILE]);
  const late = createMigration({ registry: new MetadataRegistry([PlainPhone]), folder, name: 'late', now: new Date('2024-12-31T00:00:00Z') });
  t.is(late!.id, '20250102T000001_late', 'a clock behind the last migration still yields an id that sorts after it');
});

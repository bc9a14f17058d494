/*
 * Rename hints that do not fit are refused before anything is written, each naming the rename
 * and the fix; fitting ones reach the generated file. `migration check` takes the same hints.
 */
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { MetadataRegistry } from '../../src/metadata';
import { diffSnapshots } from '../../src/migrations/differ';
import { createMigration } from '../../src/migrations/generator';
import { parseRenameFlag, resolveRenames } from '../../src/migrations/renameHints';
import { takeSnapshot } from '../../src/migrations/snapshot';
import { RenameBefore, RenameUndeclared } from './fieldChangeModels';

const before = takeSnapshot(new MetadataRegistry([RenameBefore]));
const after = takeSnapshot(new MetadataRegistry([RenameUndeclared]));

test('--rename parses old=new, nested paths and a collection prefix', (t) => {
  t.deepEqual(parseRenameFlag('fullName=name, address.zip=address.postcode,hr.staff:ssn=taxId'), [
    { from: 'fullName', to: 'name' }, { from: 'address.zip', to: 'address.postcode' }, { namespace: 'hr.staff', from: 'ssn', to: 'taxId' },
  ]);
  const error = t.throws(() => parseRenameFlag('fullName'), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(error!.message, /--rename fullName is not old=new/);
});

test('a hint naming a field that does not exist is refused with the fix', (t) => {
  const error = t.throws(() => resolveRenames([{ from: 'nickname', to: 'name' }], before, after), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(error!.message, /Rename nickname → name: no model had a field nickname in the previous snapshot/);
  const direct = t.throws(() => diffSnapshots(before, after, [{ namespace: 'golden.people', from: 'nickname', to: 'name' }]), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(direct!.message, /the previous snapshot declares no field nickname/);
});

test('hints that conflict with the diff are refused', (t) => {
  const still = t.throws(() => diffSnapshots(before, after, [{ namespace: 'golden.people', from: 'employeeNo', to: 'name' }]), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(still!.message, /the models still declare employeeNo, so it was not renamed/);
  const old = t.throws(() => diffSnapshots(before, after, [{ namespace: 'golden.people', from: 'fullName', to: 'employeeNo' }]), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(old!.message, /the models still declare|employeeNo was already declared before/);
  const moved = structuredClone(after);
  moved.collections['golden.people'].fields.push('address.fullName');
  const parent = t.throws(() => diffSnapshots(before, moved, [{ namespace: 'golden.people', from: 'fullName', to: 'address.fullName' }]), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(parent!.message, /a rename keeps the field under the same parent/);
  const unknown = t.throws(() => diffSnapshots(before, after, [{ namespace: 'golden.nowhere', from: 'a', to: 'b' }]), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.regex(unknown!.message, /golden.nowhere is not a collection of both/);
});

test('migration create with --rename hints writes renameField steps and no possible-rename note for them', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'strongbox-rename-'));
  createMigration({ registry: new MetadataRegistry([RenameBefore]), folder, name: 'people', now: new Date('2025-01-01T00:00:00Z') });
  const created = createMigration({ registry: new MetadataRegistry([RenameUndeclared]), folder, name: 'renames', renames: parseRenameFlag('fullName=name,ssn=taxId'), now: new Date('2025-01-02T00:00:00Z') });
  const text = readFileSync(created!.file, 'utf8');
  t.regex(text, /\{ op: 'renameField', namespace: 'golden.people', from: 'fullName', to: 'name' \}/);
  t.regex(text, /\{ op: 'renameField', namespace: 'golden.people', from: 'ssn', to: 'taxId' \}/);
  t.notRegex(text, /possible rename|fullName was removed/);
  t.notRegex(text, /encryptField/, 'the renamed encrypted field is not re-encrypted');
  t.is(readdirSync(folder).filter((f) => f.endsWith('.ts')).length, 2);
  t.throws(() => createMigration({ registry: new MetadataRegistry([RenameUndeclared]), folder, name: 'again', renames: parseRenameFlag('fullName=name'), now: new Date('2025-01-03T00:00:00Z') }), { code: 'MIGRATION_RENAME_HINT' } as never);
  t.is(readdirSync(folder).filter((f) => f.endsWith('.ts')).length, 2, 'a refused hint writes nothing');
});

/** A compiled configuration (as a project's tsc emits it) whose models are the named fixtures; check and create never connect. */
function configFor(work: string, folder: string, model: 'RenameBefore' | 'RenameAfter' | 'RenameUndeclared'): string {
  const file = join(work, `${model}.config.js`);
  writeFileSync(file, `const models = require(${JSON.stringify(join(__dirname, 'fieldChangeModels.js'))});
module.exports = { default: { uri: 'mongodb://127.0.0.1:1', kms: { local: { keyFile: 'unused.key' } }, keyVault: { namespace: 'keys.__keyVault' },
  models: [models.${model}], migrations: { folder: ${JSON.stringify(folder)} } } };\n`);
  return file;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out: out.join('\n') };
}

test('migration check takes --rename as create does: the renames it lists, the same refusals, nothing written', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'strongbox-check-rename-'));
  const folder = join(work, 'migrations');
  t.is((await cli('migration', 'create', 'people', '--config', configFor(work, folder, 'RenameBefore'))).code, 0);
  const config = configFor(work, folder, 'RenameUndeclared');
  const files = () => readdirSync(folder).sort();
  const before = files();
  const snapshot = readFileSync(join(folder, 'strongbox-snapshot.json'), 'utf8');

  const plain = await cli('migration', 'check', '--config', config);
  t.is(plain.code, 1, plain.out);
  t.regex(plain.out, /fullName was removed and name added with the same type/, 'without the hint: a removal, an addition and a note');

  const hinted = await cli('migration', 'check', '--rename', 'fullName=name,ssn=taxId', '--config', config);
  t.is(hinted.code, 1, 'a rename is still a change that needs a migration');
  t.regex(hinted.out, /fullName is renamed to name, in place in every document/);
  t.regex(hinted.out, /ssn is renamed to taxId, in place in every document \(the ciphertext moves as stored\)/);
  t.notRegex(hinted.out, /was removed and .* added|(fullName|ssn) is no longer declared/);
  t.regex(hinted.out, /Fix: run `strongbox migration create <name> --rename fullName=name,ssn=taxId`/);

  // The refusals are create's, word for word.
  for (const [hint, expected] of [['nickname=name', /Rename nickname → name: no model had a field nickname in the previous snapshot.*\[MIGRATION_RENAME_HINT\]/s], ['fullName', /--rename fullName is not old=new.*\[MIGRATION_RENAME_HINT\]/s], ['golden.people:employeeNo=name', /the models still declare employeeNo, so it was not renamed.*\[MIGRATION_RENAME_HINT\]/s]] as const) {
    const checked = await cli('migration', 'check', '--rename', hint, '--config', config);
    const created = await cli('migration', 'create', 'renames', '--rename', hint, '--config', config);
    t.is(checked.code, 1, checked.out);
    t.regex(checked.out, expected);
    t.is(checked.out.replace('strongbox migration: ', ''), created.out.replace('strongbox migration: ', ''), `check and create refuse ${hint} alike`);
  }
  const bare = await cli('migration', 'check', '--config', config, '--rename');
  t.is(bare.code, 2);
  t.regex(bare.out, /--rename needs a value.*\[CLI_FLAG_VALUE\]/s);

  // Renames the models declare (@RenamedFrom) count for check as for create.
  const declared = await cli('migration', 'check', '--config', configFor(work, folder, 'RenameAfter'));
  t.regex(declared.out, /fullName is renamed to name, in place in every document/);

  t.deepEqual(files(), before, 'check writes no migration');
  t.is(readFileSync(join(folder, 'strongbox-snapshot.json'), 'utf8'), snapshot, 'check leaves the snapshot as it was');
});

/*
 * Rename hints that do not fit are refused before anything is written, each naming the rename
 * and the fix; fitting ones reach the generated file.
 */
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

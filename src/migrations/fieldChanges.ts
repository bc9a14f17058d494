import { MigrationError } from '../errors';
import type { RenameHint } from './fieldTypes';
import type { PlannedStep } from './plan';
import type { ConversionTarget } from './reshape/conversions';
import type { CollectionSnapshot, EncryptedFieldSnapshot } from './snapshot';
import type { KeySpec } from './types';

export interface FieldChanges {
  /** The previous snapshot with the renames applied: what the rest of the diff compares with. */
  renamed: CollectionSnapshot;
  /** Renames and conversions, first in up. */
  up: PlannedStep[];
  /** Their inverses, last in down. */
  down: PlannedStep[];
  /** Removals (written commented out), last in up. */
  removals: PlannedStep[];
  /** Paths whose stored values the conversions rewrite: validator rules on them are lifted meanwhile. */
  converted: string[];
  notes: string[];
}

/**
 * Field-level changes of one collection: renames (from hints), removals, type conversions, and
 * removal + addition pairs that look like renames. Renames are applied to the previous snapshot
 * first, so the encryption, index and validator diff that follows sees the field under its new
 * name (a renamed encrypted field then needs no re-encryption, and a per-document key pointer
 * naming the renamed field follows it).
 */
export function fieldChanges(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot, hints: RenameHint[]): FieldChanges {
  const up: PlannedStep[] = [];
  const down: PlannedStep[] = [];
  let renamed = old;
  for (const hint of hints) {
    checkHint(namespace, renamed, next, hint);
    up.push({ operation: { op: 'renameField', namespace, from: hint.from, to: hint.to }, comment: `${hint.from} is renamed to ${hint.to}, in place in every document${isEncrypted(renamed, hint.from) ? ' (the ciphertext moves as stored)' : ''}.` });
    down.unshift({ operation: { op: 'renameField', namespace, from: hint.to, to: hint.from }, comment: `Back to the name ${hint.from}.` });
    renamed = applyRename(renamed, hint);
  }
  const notes: string[] = [];
  const converted: string[] = [];
  for (const conversion of conversions(namespace, renamed, next, notes)) {
    up.push(conversion.up);
    if (conversion.down) down.unshift(conversion.down);
    converted.push((conversion.up.operation as { path: string }).path);
  }
  up.push(...defaultBackfills(namespace, renamed, next));
  // A path under a document encrypted whole is not listed, but its values are still there, inside the ciphertext.
  const insideWhole = (snapshot: CollectionSnapshot, path: string) => snapshot.encrypted.some((f) => path.startsWith(`${f.path}.`));
  const removed = topMost(renamed.fields.filter((path) => !next.fields.includes(path) && !insideWhole(next, path)));
  const added = topMost(next.fields.filter((path) => !renamed.fields.includes(path) && !insideWhole(renamed, path)));
  const removals = removed.map((path): PlannedStep => ({
    operation: { op: 'unsetField', namespace, path },
    comment: `${path} is no longer declared. Its values stay in the documents unless this step is uncommented (destructive: it deletes them; \`migration up --dry-run\` shows how many documents hold it).`,
    disabled: true,
  }));
  for (const path of removed) {
    const twin = added.find((other) => parentOf(other) === parentOf(path) && typeOf(renamed, path) === typeOf(next, other) && isEncrypted(renamed, path) === isEncrypted(next, other));
    if (twin) notes.push(`${namespace}: ${path} was removed and ${twin} added with the same type. If it is a rename, create the migration again with --rename ${path}=${twin} (or declare @RenamedFrom('${lastOf(path)}') on ${twin}): the values are then moved instead of left behind.`);
  }
  return { renamed, up, down, removals, converted, notes };
}

/** What the snapshot records of required fields and defaults (by the entities' part of Strongbox). */
interface ModelFacts { required?: string[]; defaults?: string[] }

/** A new field that is required and has a default: documents stored before it get the default. */
function defaultBackfills(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot): PlannedStep[] {
  const facts = next as CollectionSnapshot & ModelFacts;
  if (!facts.required || !facts.defaults) return [];
  // Under a new embedded document, the default of that document (if any) is what fills it.
  const parentsExisted = (path: string) => path.split('.').slice(0, -1).every((_, i, parts) => old.fields.includes(parts.slice(0, i + 1).join('.')));
  return facts.defaults.filter((path) => facts.required!.includes(path) && !old.fields.includes(path) && parentsExisted(path))
    .map((path) => ({
      operation: { op: 'backfillDefault', namespace, path },
      comment: `${path} is new and required, with a default: documents stored before get the model's default (computed per document${isEncrypted(next, path) ? ', encrypted' : ''}), in batches; values written meanwhile are kept.`,
    }));
}

function checkHint(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot, hint: RenameHint): void {
  const problem = !old.fields.includes(hint.from) ? `the previous snapshot declares no field ${hint.from}`
    : next.fields.includes(hint.from) ? `the models still declare ${hint.from}, so it was not renamed`
    : !next.fields.includes(hint.to) ? `the models declare no field ${hint.to}`
    : old.fields.includes(hint.to) ? `${hint.to} was already declared before, so it is not new`
    : parentOf(hint.from) !== parentOf(hint.to) ? 'a rename keeps the field under the same parent'
    : undefined;
  if (problem) {
    throw new MigrationError('MIGRATION_RENAME_HINT', `Rename ${hint.from} → ${hint.to} in ${namespace}: ${problem}.`, {
      fix: `check the names against the model and the snapshot (a nested field is written parent.field), or drop the hint; \`strongbox migration check\` lists what changed.`,
    });
  }
}

/** The snapshot as if the field had always had its new name. */
function applyRename(snapshot: CollectionSnapshot, hint: RenameHint): CollectionSnapshot {
  const move = (path: string) => (path === hint.from ? hint.to : path.startsWith(`${hint.from}.`) ? hint.to + path.slice(hint.from.length) : path);
  const movePointer = (key: KeySpec): KeySpec => ('altNameField' in key ? { altNameField: `/${move(key.altNameField.slice(1).split('/').join('.')).split('.').join('/')}` } : key);
  const facts = snapshot as unknown as Record<string, unknown>;
  return {
    ...snapshot,
    fields: snapshot.fields.map(move),
    encrypted: snapshot.encrypted.map((f): EncryptedFieldSnapshot => ({ ...f, path: move(f.path), key: movePointer(f.key) })),
    ...(snapshot.types ? { types: Object.fromEntries(Object.entries(snapshot.types).map(([path, type]) => [move(path), type])) } : {}),
    // Lists of paths other parts of the snapshot keep (required fields, defaults) follow the rename too.
    ...Object.fromEntries(['required', 'defaults'].filter((k) => Array.isArray(facts[k])).map((k) => [k, (facts[k] as string[]).map(move)])),
  };
}

/** What values of a BSON type convert to, as a conversion target. */
const TARGET: Record<string, ConversionTarget> = { string: 'string', int: 'number', double: 'number', date: 'date', decimal: 'decimal', long: 'long' };

/** Pairs that convert each way without guessing (number → Date, for one, has no single meaning). */
function conversionTarget(from: string, to: string): ConversionTarget | undefined {
  if (to.startsWith('array<') && !from.startsWith('array<') && from !== 'object' && to.slice(6, -1) === from) return 'array';
  const target = TARGET[to];
  const source = TARGET[from];
  if (!target || !source || target === source) return undefined;
  const allowed: Record<ConversionTarget, ConversionTarget[]> = {
    string: ['number', 'date', 'decimal', 'long'], number: ['string', 'decimal', 'long'], date: ['string'], decimal: ['number'], long: ['number'], array: [],
  };
  return allowed[source].includes(target) ? target : undefined;
}

function conversions(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot, notes: string[]): Array<{ up: PlannedStep; down?: PlannedStep }> {
  const steps: Array<{ up: PlannedStep; down?: PlannedStep }> = [];
  for (const path of next.fields.filter((p) => old.fields.includes(p))) {
    const from = typeOf(old, path);
    const to = typeOf(next, path);
    if (from === to || isEncrypted(old, path) !== isEncrypted(next, path)) continue;
    // A snapshot written before plain types were recorded says nothing about them.
    if (!isEncrypted(next, path) && (!old.types || !next.types)) continue;
    const target = from === undefined || to === undefined ? undefined : conversionTarget(from, to);
    if (!target || from === undefined || to === undefined) {
      notes.push(`${namespace}.${path}: the declared type changed from ${from ?? 'unspecified'} to ${to ?? 'unspecified'}, a pair Strongbox does not convert; stored values are left as they are. Convert them with a code step ({ op: 'run', … }).`);
      continue;
    }
    const back = conversionTarget(to, from);
    const encrypted = isEncrypted(next, path);
    steps.push({
      up: { operation: { op: 'convertField', namespace, path, to: target }, comment: `${path} changes type (${from} → ${to})${encrypted ? ': each value is decrypted, converted and encrypted again with its algorithm and key' : ''}. Values that do not convert are left as they are and counted, with their _ids, in the output.` },
      ...(back ? { down: { operation: { op: 'convertField', namespace, path, to: back }, comment: `Back to ${from}.` } } : {}),
    });
    if (!back) notes.push(`${namespace}.${path}: the conversion ${from} → ${to} has no automatic way back; down leaves the values as ${to}.`);
  }
  return steps;
}

function typeOf(snapshot: CollectionSnapshot, path: string): string | undefined {
  const encrypted = snapshot.encrypted.find((f) => f.path === path);
  if (encrypted) return encrypted.bsonType;
  return snapshot.types?.[path];
}

function isEncrypted(snapshot: CollectionSnapshot, path: string): boolean {
  return snapshot.encrypted.some((f) => f.path === path);
}

/** Paths whose parent is not in the list too: removing a parent removes what it holds. */
function topMost(paths: string[]): string[] {
  return paths.filter((path) => !paths.some((other) => path.startsWith(`${other}.`)));
}

function parentOf(path: string): string {
  return path.split('.').slice(0, -1).join('.');
}

function lastOf(path: string): string {
  return path.split('.').pop()!;
}

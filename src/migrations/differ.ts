import { MigrationError } from '../errors';
import { describeKey } from '../stored/keySpec';
import { fieldChanges } from './fieldChanges';
import type { RenameHint } from './fieldTypes';
import type { MigrationPlan, PlannedStep } from './plan';
import type { CollectionSnapshot, EncryptedFieldSnapshot, ModelSnapshot } from './snapshot';
import type { IndexDefinition, ValidatorJson } from './types';
import { pruneValidator } from './validatorJson';

/**
 * What turns the database of `before` into the database of `after`, and back. Per collection
 * the order matters: indexes that go are dropped first; when encrypted paths change, the
 * validator is first reduced to the rules both versions share, the data is rewritten, new
 * indexes are built, and the new validator is set last (a validator demanding the new
 * encryption would otherwise reject the very updates that bring it about).
 */
export function diffSnapshots(before: ModelSnapshot, after: ModelSnapshot, renames: RenameHint[] = []): MigrationPlan {
  const plan: MigrationPlan = { up: [], down: [], notes: [] };
  const unknown = renames.filter((r) => !after.collections[r.namespace] || !before.collections[r.namespace]);
  if (unknown.length) {
    throw new MigrationError('MIGRATION_RENAME_HINT', `Rename ${unknown[0].from} → ${unknown[0].to}: ${unknown[0].namespace} is not a collection of both the previous snapshot and the models.`, {
      fix: 'name a field of a model that existed before (prefix it with "db.collection:" when several models could be meant).',
    });
  }
  const namespaces = [...new Set([...Object.keys(before.collections), ...Object.keys(after.collections)])].sort();
  for (const namespace of namespaces) {
    const old = before.collections[namespace];
    const next = after.collections[namespace];
    if (!next) {
      plan.notes.push(`${namespace} (model ${old!.model}) is no longer among the models; its collection and data are left in place. To drop it, add { op: 'dropCollection', namespace: '${namespace}' } to up.`);
      continue;
    }
    if (!old) {
      const created = newCollection(namespace, next);
      plan.up.push(...created.up);
      plan.down.unshift(...created.down);
      plan.notes.push(...created.notes);
      continue;
    }
    const fields = fieldChanges(namespace, old, next, renames.filter((r) => r.namespace === namespace));
    const changes = changedCollection(namespace, fields.renamed, next, fields.converted);
    // Validator rules on converted paths are lifted first, like those on re-encrypted ones.
    const [liftUp, restUp] = splitLift(changes.up, fields.up);
    const [liftDown, restDown] = splitLift(changes.down, fields.down);
    plan.up.push(...liftUp, ...fields.up, ...restUp, ...fields.removals);
    plan.down.unshift(...liftDown, ...fields.down, ...restDown);
    plan.notes.push(...fields.notes, ...changes.notes);
  }
  return plan;
}

const NONE: CollectionSnapshot = { model: '', fields: [], encrypted: [], indexes: [], validator: null };

function newCollection(namespace: string, next: CollectionSnapshot): MigrationPlan {
  const changes = changedCollection(namespace, NONE, next);
  return {
    up: [
      { operation: { op: 'createCollection', namespace }, comment: `New model ${next.model}: its collection is created unless it already exists (an existing collection keeps its documents, which the steps below bring to the model).` },
      ...changes.up,
    ],
    down: [
      ...changes.down,
      { operation: { op: 'dropCollection', namespace, onlyIfEmpty: true }, comment: 'Dropped only if empty: a collection that held documents before this migration keeps them.' },
    ],
    notes: changes.notes,
  };
}

/** The interim validator step (when there is one) and the rest. */
function splitLift(steps: PlannedStep[], fieldSteps: PlannedStep[]): [PlannedStep[], PlannedStep[]] {
  if (fieldSteps.length === 0) return [[], steps];
  const lift = steps.filter((s) => s.interim);
  return [lift, steps.filter((s) => !s.interim)];
}

function changedCollection(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot, converted: string[] = []): MigrationPlan {
  const notes: string[] = [];
  const oldFields = new Map(old.encrypted.map((f) => [f.path, f]));
  const nextFields = new Map(next.encrypted.map((f) => [f.path, f]));

  /** Each rewrite with its inverse. */
  const rewrites: Array<{ up: PlannedStep; down: PlannedStep }> = [];
  /** Paths whose stored form changes, so validator rules on them must be lifted during the rewrite. */
  const rewritten: string[] = [...converted];

  for (const field of next.encrypted) {
    const previous = oldFields.get(field.path);
    if (!previous) {
      rewrites.push({
        up: encrypt(namespace, field, `${field.path} becomes encrypted (${field.algorithm}, ${describeKey(field.key)}): plaintext already stored is encrypted in place, in batches.`),
        down: decrypt(namespace, field.path, `Undoes the encryption of ${field.path}: values are decrypted in place.`),
      });
      rewritten.push(field.path);
    } else if (previous.algorithm !== field.algorithm || !sameKey(previous, field)) {
      const what = previous.algorithm !== field.algorithm ? `${previous.algorithm} → ${field.algorithm}` : `${describeKey(previous.key)} → ${describeKey(field.key)}`;
      rewrites.push({
        up: encrypt(namespace, field, `${field.path} changes encryption (${what}): values are decrypted and encrypted again; values already in the new form are skipped.`),
        down: encrypt(namespace, previous, `Back to the previous encryption of ${field.path}.`),
      });
      rewritten.push(field.path);
    }
    // A change of declared type alone is a conversion (fieldChanges.ts).
  }
  for (const field of old.encrypted) {
    if (nextFields.has(field.path)) continue;
    if (!next.fields.includes(field.path)) {
      notes.push(`${namespace}.${field.path} is no longer declared; its stored values are left as they are (still encrypted).`);
      continue;
    }
    rewrites.push({
      up: decrypt(namespace, field.path, `${field.path} stops being encrypted: values are decrypted in place, which removes their protection.`),
      down: encrypt(namespace, field, `Encrypts ${field.path} again (${field.algorithm}, ${describeKey(field.key)}).`),
    });
    rewritten.push(field.path);
  }
  notes.push(...modelFactNotes(namespace, old, next));
  // Decryptions first: an embedded document encrypted whole must be plaintext before a field
  // inside it can be encrypted on its own (and the other way round on the way down).
  const ordered = [...rewrites.filter((r) => r.up.operation.op === 'decryptField'), ...rewrites.filter((r) => r.up.operation.op !== 'decryptField')];
  const upBackfills = ordered.map((r) => r.up);
  const downBackfills = ordered.map((r) => r.down).reverse();

  const oldIndexes = new Map(old.indexes.map((i) => [i.name, i]));
  const nextIndexes = new Map(next.indexes.map((i) => [i.name, i]));
  const goneIndexes = old.indexes.filter((i) => !sameIndex(i, nextIndexes.get(i.name)));
  const newIndexes = next.indexes.filter((i) => !sameIndex(i, oldIndexes.get(i.name)));

  const upValidator = validatorSteps(namespace, old.validator, next.validator, rewritten);
  const downValidator = validatorSteps(namespace, next.validator, old.validator, rewritten);
  const up: PlannedStep[] = [
    ...goneIndexes.map((i) => dropIndex(namespace, i, nextIndexes.has(i.name) ? `Index ${i.name} changed: it is dropped and created again below.` : `Index ${i.name} is no longer declared.`)),
    ...upValidator.before,
    ...upBackfills,
    ...newIndexes.map((i) => createIndex(namespace, i, oldIndexes.has(i.name) ? `Index ${i.name} with its new definition.` : undefined)),
    ...upValidator.after,
  ];
  const down: PlannedStep[] = [
    ...newIndexes.map((i) => dropIndex(namespace, i, `Undoes index ${i.name}.`)),
    ...downValidator.before,
    ...downBackfills,
    ...goneIndexes.map((i) => createIndex(namespace, i, `Restores index ${i.name}.`)),
    ...downValidator.after,
  ];
  return { up, down, notes };
}

/**
 * Validator steps around a rewrite of `rewritten` paths: a validator still demanding the old
 * form of a rewritten path would reject the very updates that rewrite it, and one demanding the
 * new form would reject them until the rewrite is done. So before the rewrite the validator is
 * reduced to the rules both versions share, and the new one is set after it. When the new
 * validator has no rules on the rewritten paths it is safe at once, and is set before.
 */
function validatorSteps(namespace: string, from: ValidatorJson | null, to: ValidatorJson | null, rewritten: string[]): { before: PlannedStep[]; after: PlannedStep[] } {
  const same = (a: ValidatorJson | null, b: ValidatorJson | null) => JSON.stringify(a) === JSON.stringify(b);
  if (same(from, to)) return { before: [], after: [] };
  const interim = pruneValidator(from, rewritten);
  if (rewritten.length === 0 || same(interim, from)) return { before: [], after: [finalValidator(namespace, to)] };
  if (same(interim, to)) return { before: [finalValidator(namespace, to)], after: [] };
  return { before: [interimValidator(namespace, interim)], after: [finalValidator(namespace, to)] };
}

function encrypt(namespace: string, field: EncryptedFieldSnapshot, comment: string): PlannedStep {
  return {
    operation: {
      op: 'encryptField', namespace, path: field.path, algorithm: field.algorithm,
      ...(field.bsonType === undefined ? {} : { bsonType: field.bsonType }),
      key: field.key,
    },
    comment,
  };
}

function decrypt(namespace: string, path: string, comment: string): PlannedStep {
  return { operation: { op: 'decryptField', namespace, path }, comment };
}

function createIndex(namespace: string, index: IndexDefinition, comment?: string): PlannedStep {
  return { operation: { op: 'createIndex', namespace, index }, ...(comment ? { comment } : {}) };
}

function dropIndex(namespace: string, index: IndexDefinition, comment: string): PlannedStep {
  return { operation: { op: 'dropIndex', namespace, name: index.name }, comment };
}

function interimValidator(namespace: string, validator: ValidatorJson | null): PlannedStep {
  return {
    interim: true,
    operation: { op: 'setValidator', namespace, validator },
    comment: validator
      ? 'While values are rewritten, the validator keeps only the rules the old and new models share.'
      : 'While values are rewritten, server-side validation is lifted (no rule is shared by the old and new models).',
  };
}

function finalValidator(namespace: string, validator: ValidatorJson | null): PlannedStep {
  return {
    operation: { op: 'setValidator', namespace, validator },
    comment: validator
      ? 'Server-side enforcement (collMod): writes whose encrypted fields are not ciphertext of the declared kind are rejected.'
      : 'No encrypted field is left to enforce: the validator is removed.',
  };
}

/**
 * Facts of the model that need no step: defaults apply to documents inserted from now on, and
 * the server's validator does not enforce required fields (Strongbox does, on writes), so a
 * field that becomes required needs no collMod — but documents stored without it stay so until
 * given a value. Snapshots older than these facts say nothing.
 */
function modelFactNotes(namespace: string, old: CollectionSnapshot, next: CollectionSnapshot): string[] {
  const notes: string[] = [];
  if (old.required && next.required) {
    for (const path of next.required) {
      if (old.fields.includes(path) && !old.required.includes(path)) {
        notes.push(`${namespace}.${path} becomes required: no step is needed (the server's validator does not enforce it), but stored documents without a value read back without it and are refused by save() until given one, e.g. updateMany({ ${path}: { $exists: false } }, { $set: { ${path}: … } }).`);
      }
    }
  }
  if (old.defaults && next.defaults) {
    for (const path of next.defaults) {
      if (old.fields.includes(path) && !old.defaults.includes(path)) {
        notes.push(`${namespace}.${path} has a new default: it applies to documents inserted from now on; stored documents are not changed, and reads never fill it in.`);
      }
    }
  }
  return notes;
}

function sameKey(a: EncryptedFieldSnapshot, b: EncryptedFieldSnapshot): boolean {
  return JSON.stringify(a.key) === JSON.stringify(b.key);
}

function sameIndex(a: IndexDefinition, b: IndexDefinition | undefined): boolean {
  return b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

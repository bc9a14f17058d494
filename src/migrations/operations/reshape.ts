import { UUID, type Document } from 'mongodb';
import { inspectEncryptedBlob, isEncryptedBinary } from '../../crypto/blob';
import { MigrationError, StrongboxError } from '../../errors';
import { BackfillState } from '../backfill/state';
import { operationFingerprint } from '../checksum';
import { convertValue } from '../reshape/conversions';
import { visitPath, type PathVisit } from '../reshape/paths';
import { describeTally, reshapeDocuments, type DocumentReshape, type Tally } from '../reshape/rewrite';
import type { ConvertFieldOperation, Operation, RenameFieldOperation, UnsetFieldOperation } from '../types';
import { collectionOf, commandText, splitNamespace, type OperationHandler, type StepContext } from './context';

function reshapeWith(op: Operation, ctx: StepContext, namespace: string, label: string, reshape: (doc: Document, tally: Tally) => Promise<DocumentReshape | undefined>): Promise<Tally> {
  return reshapeDocuments({
    collection: collectionOf(ctx, namespace), step: ctx.step, fingerprint: operationFingerprint(op),
    state: new BackfillState(ctx.client.dataClient.db(ctx.settings.database)), batchSize: ctx.settings.batchSize,
    progress: ctx.progress, label, out: ctx.out, assertLockHeld: ctx.assertLockHeld, reshape,
  });
}

/**
 * Documents where the path holds something (through arrays of embedded documents, as dot notation
 * does). A path that lies inside a binary value — a document encrypted as a whole is one
 * ciphertext — can hold nothing the server sees, so "nobody holds it" would be a false "done":
 * such a path is refused instead.
 */
async function holding(ctx: StepContext, namespace: string, path: string): Promise<number> {
  const segments = path.split('.');
  const prefixes = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('.'));
  if (prefixes.length > 0) {
    const inside = await collectionOf(ctx, namespace).countDocuments({ $or: prefixes.map((p) => ({ [p]: { $type: 'binData' } })) });
    if (inside > 0) {
      throw new MigrationError('MIGRATION_PATH_INSIDE_ENCRYPTED', `${path} of ${namespace} lies inside a binary value in ${inside} document(s) (a document encrypted as a whole is one ciphertext): the step cannot reach it there.`, {
        fix: 'change the value as a whole with a code step ({ op: \'run\' }) that reads it through the repository, changes it and writes it back.',
      });
    }
  }
  return collectionOf(ctx, namespace).countDocuments({ [path]: { $exists: true } });
}

function scanPreview(namespace: string, what: string, batchSize: number): string {
  const { db, collection } = splitNamespace(namespace);
  return `${what}: reads ${commandText(db, { find: collection, sort: { _id: 1 }, limit: batchSize })} in batches, then per document an update conditioned on the fields it replaces still holding what was read`;
}

export const renameField: OperationHandler<RenameFieldOperation> = {
  describe: (op) => `rename ${op.from} to ${op.to.split('.').pop()} in ${op.namespace}`,

  async check(op, ctx) {
    const left = await holding(ctx, op.namespace, op.from);
    return left === 0 ? { done: true, note: `no document holds ${op.from}` } : { done: false };
  },

  async preview(op, ctx) {
    return [`${await holding(ctx, op.namespace, op.from)} document(s) hold ${op.from}`, scanPreview(op.namespace, 'moves each value as stored (ciphertext included)', ctx.settings.batchSize)];
  },

  async execute(op, ctx) {
    const segments = op.from.split('.');
    const newName = op.to.split('.').pop()!;
    const tally = await reshapeWith(op, ctx, op.namespace, `rename ${op.from}`, async (doc, t) => {
      let clash = false;
      const change: DocumentReshape = { set: {}, unset: [] };
      visitPath(doc, segments, ({ holder, field, at }) => {
        if (!(field in holder)) return false;
        if (newName in holder) { clash = true; return false; }
        change.set[[...at, newName].join('.')] = holder[field];
        change.unset.push([...at, field].join('.'));
        return true;
      });
      if (clash) {
        throw new MigrationError('MIGRATION_RENAME_CONFLICT', `Document _id ${JSON.stringify(doc._id)} of ${op.namespace} holds both ${op.from} and ${op.to}: renaming would overwrite one of them.`, {
          fix: `decide which value stays (unset the other in that document), then run the migration again; documents already renamed are not touched again.`,
        });
      }
      if (change.unset.length === 0) return undefined;
      t.add('renamed', doc._id);
      return change;
    });
    return describeTally(tally, { renamed: 'document(s) renamed' }) || undefined;
  },

  async verify(op, ctx) {
    const left = await holding(ctx, op.namespace, op.from);
    if (left > 0) throw new MigrationError('MIGRATION_POSTCHECK', `${left} document(s) of ${op.namespace} still hold ${op.from} after the rename.`, { fix: 'they were written during the rename: run the migration again.' });
  },
};

export const unsetField: OperationHandler<UnsetFieldOperation> = {
  describe: (op) => `remove ${op.path} from every document of ${op.namespace}`,

  async check(op, ctx) {
    return (await holding(ctx, op.namespace, op.path)) === 0 ? { done: true, note: `no document holds ${op.path}` } : { done: false };
  },

  async preview(op, ctx) {
    return [`${await holding(ctx, op.namespace, op.path)} document(s) hold ${op.path}: their values are deleted`, scanPreview(op.namespace, 'removes the field', ctx.settings.batchSize)];
  },

  async execute(op, ctx) {
    const segments = op.path.split('.');
    ctx.out(`     ${await holding(ctx, op.namespace, op.path)} document(s) hold ${op.path}`);
    const tally = await reshapeWith(op, ctx, op.namespace, `unset ${op.path}`, async (doc, t) => {
      const unset: string[] = [];
      visitPath(doc, segments, ({ holder, field, at }) => { if (field in holder) unset.push([...at, field].join('.')); return false; });
      if (unset.length === 0) return undefined;
      t.add('removed', doc._id);
      return { set: {}, unset };
    });
    return describeTally(tally, { removed: 'document(s) lost the field' }) || undefined;
  },

  async verify(op, ctx) {
    const left = await holding(ctx, op.namespace, op.path);
    if (left > 0) throw new MigrationError('MIGRATION_POSTCHECK', `${left} document(s) of ${op.namespace} still hold ${op.path}.`, { fix: 'they were written during the step: run the migration again.' });
  },
};

export const convertField: OperationHandler<ConvertFieldOperation> = {
  describe: (op) => `convert ${op.path} of ${op.namespace} to ${op.to}`,

  async check() {
    // Whether every value already has the type is known only by reading them all; execute skips those that have.
    return { done: false };
  },

  async preview(op, ctx) {
    return [scanPreview(op.namespace, `converts each value to ${op.to} (encrypted ones are decrypted, converted and encrypted again with their algorithm and key); values that do not convert are left as they are and counted`, ctx.settings.batchSize)];
  },

  async execute(op, ctx) {
    const segments = op.path.split('.');
    const engine = ctx.client.engine;
    const tally = await reshapeWith(op, ctx, op.namespace, `convert ${op.path}`, async (doc, t) => {
      const places: PathVisit[] = [];
      visitPath(doc, segments, (at) => { if (at.field in at.holder) places.push(at); return false; });
      const set: Record<string, unknown> = {};
      try {
        for (const { holder, field, at } of places) {
          const stored = holder[field];
          const header = inspectEncryptedBlob(stored);
          const plaintext = header ? await engine.decryptValue(stored as never, `${op.namespace}.${op.path}`) : stored;
          const result = convertValue(plaintext, op.to);
          if (result.kind === 'unconvertible') { t.add('unconvertible', doc._id); continue; }
          if (result.kind === 'already') { t.add('already', doc._id); continue; }
          set[[...at, field].join('.')] = header && isEncryptedBinary(stored)
            ? await engine.encrypt(result.value, header.algorithm, new UUID(header.keyId), `${op.namespace}.${op.path}`)
            : result.value;
          t.add('converted', doc._id);
        }
      } catch (err) {
        // A value that cannot be decrypted or encrypted again: name the document, so it can be repaired before the run resumes.
        if (!(err instanceof StrongboxError)) throw err;
        throw new MigrationError('MIGRATION_BACKFILL_VALUE', `The conversion of ${op.namespace}.${op.path} stopped at document _id ${JSON.stringify(doc._id)}: ${err.message}`, { cause: err });
      }
      return Object.keys(set).length ? { set, unset: [] } : undefined;
    });
    const unconvertible = tally.get('unconvertible');
    const ids = (tally.examples.get('unconvertible') ?? []).map((id) => JSON.stringify(id)).join(', ');
    return [
      describeTally(tally, { converted: 'value(s) converted', already: `already ${op.to}` }) || 'nothing to convert',
      ...(unconvertible ? [`${unconvertible} value(s) do not convert to ${op.to} and were left as they are (documents ${ids}${unconvertible > 5 ? ', …' : ''}): fix them by hand or with a code step`] : []),
    ].join('; ');
  },

  async verify() {
    // Unconvertible values are left in place by design and reported by execute.
  },
};

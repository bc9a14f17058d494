import { MigrationError } from '../../errors';
import type { CreateCollectionOperation, DropCollectionOperation } from '../types';
import { collectionInfo, collectionOf, commandText, send, splitNamespace, type OperationHandler } from './context';

export const createCollection: OperationHandler<CreateCollectionOperation> = {
  describe: (op) => `create collection ${op.namespace}`,
  async check(op, ctx) {
    return (await collectionInfo(ctx, op.namespace)) ? { done: true, note: 'it exists already; its documents are kept' } : { done: false };
  },
  async preview(op) {
    const { db, collection } = splitNamespace(op.namespace);
    return [commandText(db, { create: collection })];
  },
  async execute(op, ctx) {
    const { db, collection } = splitNamespace(op.namespace);
    try {
      await send(ctx, db, { create: collection });
    } catch (err) {
      // Created meanwhile by the application: the step's effect is there.
      if ((err as { code?: number }).code !== 48) throw err;
    }
  },
  async verify(op, ctx) {
    if (!(await collectionInfo(ctx, op.namespace))) throw notThere(`collection ${op.namespace} does not exist after it was created`);
  },
};

export const dropCollection: OperationHandler<DropCollectionOperation> = {
  describe: (op) => `drop collection ${op.namespace}${op.onlyIfEmpty ? ' if it is empty' : ''}`,
  async check(op, ctx) {
    if (!(await collectionInfo(ctx, op.namespace))) return { done: true, note: 'it does not exist' };
    if (op.onlyIfEmpty && await holdsDocuments(ctx, op.namespace)) return { done: true, note: 'it holds documents, so it is left in place' };
    return { done: false };
  },
  async preview(op) {
    const { db, collection } = splitNamespace(op.namespace);
    return [commandText(db, { drop: collection })];
  },
  async execute(op, ctx) {
    // Checked again right before dropping: documents may have arrived since the check.
    if (op.onlyIfEmpty && await holdsDocuments(ctx, op.namespace)) return 'it holds documents, so it is left in place';
    const { db, collection } = splitNamespace(op.namespace);
    try {
      await send(ctx, db, { drop: collection });
    } catch (err) {
      if ((err as { code?: number }).code !== 26) throw err; // NamespaceNotFound: already gone
    }
  },
  async verify(op, ctx) {
    if ((await collectionInfo(ctx, op.namespace)) && !(op.onlyIfEmpty && await holdsDocuments(ctx, op.namespace))) {
      throw notThere(`collection ${op.namespace} still exists after it was dropped`);
    }
  },
};

async function holdsDocuments(ctx: Parameters<typeof collectionOf>[0], namespace: string): Promise<boolean> {
  return (await collectionOf(ctx, namespace).findOne({}, { projection: { _id: 1 } })) !== null;
}

export function notThere(problem: string): MigrationError {
  return new MigrationError('MIGRATION_POSTCHECK', `Post-check failed: ${problem}.`, {
    fix: 'another process may have changed it meanwhile; run `strongbox migration status` and `migration up` again.',
  });
}

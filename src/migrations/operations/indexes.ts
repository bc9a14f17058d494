import type { Document } from 'mongodb';
import { MigrationError } from '../../errors';
import type { CreateIndexOperation, DropIndexOperation } from '../types';
import { notThere } from './collections';
import { collectionInfo, collectionOf, commandText, send, splitNamespace, type OperationHandler, type StepContext } from './context';

async function indexNamed(ctx: StepContext, namespace: string, name: string): Promise<Document | undefined> {
  if (!(await collectionInfo(ctx, namespace))) return undefined;
  const indexes = await collectionOf(ctx, namespace).listIndexes().toArray();
  return indexes.find((i) => i.name === name);
}

export const createIndex: OperationHandler<CreateIndexOperation> = {
  describe: (op) => `create index ${op.index.name} on ${op.namespace} ${JSON.stringify(op.index.key)}${op.index.unique ? ' (unique)' : ''}`,
  feature: (op) => (op.index.partialFilterExpression ? 'partialIndexes' : undefined),
  async check(op, ctx) {
    const existing = await indexNamed(ctx, op.namespace, op.index.name);
    if (!existing) return { done: false };
    if (JSON.stringify(existing.key) !== JSON.stringify(op.index.key) || Boolean(existing.unique) !== Boolean(op.index.unique)) {
      throw new MigrationError('MIGRATION_INDEX_CONFLICT', `${op.namespace} already has an index named ${op.index.name} with a different definition (${JSON.stringify(existing.key)}${existing.unique ? ', unique' : ''}).`, {
        fix: 'drop or rename that index, or give the model\'s index another name.',
      });
    }
    return { done: true, note: 'it exists already' };
  },
  async preview(op) {
    const { db, collection } = splitNamespace(op.namespace);
    return [commandText(db, { createIndexes: collection, indexes: [op.index] })];
  },
  async execute(op, ctx) {
    const { db, collection } = splitNamespace(op.namespace);
    await send(ctx, db, { createIndexes: collection, indexes: [op.index] }, op.index.partialFilterExpression ? 'partialIndexes' : undefined);
  },
  async verify(op, ctx) {
    if (!(await indexNamed(ctx, op.namespace, op.index.name))) throw notThere(`index ${op.index.name} is missing on ${op.namespace}`);
  },
};

export const dropIndex: OperationHandler<DropIndexOperation> = {
  describe: (op) => `drop index ${op.name} on ${op.namespace}`,
  async check(op, ctx) {
    return (await indexNamed(ctx, op.namespace, op.name)) ? { done: false } : { done: true, note: 'it does not exist' };
  },
  async preview(op) {
    const { db, collection } = splitNamespace(op.namespace);
    return [commandText(db, { dropIndexes: collection, index: op.name })];
  },
  async execute(op, ctx) {
    const { db, collection } = splitNamespace(op.namespace);
    try {
      await send(ctx, db, { dropIndexes: collection, index: op.name });
    } catch (err) {
      if ((err as { code?: number }).code !== 27) throw err; // IndexNotFound: already gone
    }
  },
  async verify(op, ctx) {
    if (await indexNamed(ctx, op.namespace, op.name)) throw notThere(`index ${op.name} still exists on ${op.namespace}`);
  },
};

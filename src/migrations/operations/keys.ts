import { deleteKey as shred, keyDeletionImpact } from '../../keys/delete';
import { describeSelector, findKey } from '../../keys/keys';
import { KeyError } from '../../errors';
import type { DeleteKeyOperation } from '../types';
import { notThere } from './collections';
import type { OperationHandler, StepContext } from './context';

async function exists(op: DeleteKeyOperation, ctx: StepContext): Promise<boolean> {
  try {
    await findKey(ctx.client, op.key);
    return true;
  } catch (err) {
    if (err instanceof KeyError && err.code === 'KEY_NOT_FOUND') return false;
    throw err;
  }
}

/** Crypto-shredding as a migration step; like every destructive step it needs --allow-destructive. */
export const deleteKey: OperationHandler<DeleteKeyOperation> = {
  describe: (op) => `delete the data key ${describeSelector(op.key)} (crypto-shredding)`,
  async check(op, ctx) {
    return (await exists(op, ctx)) ? { done: false } : { done: true, note: 'the key does not exist' };
  },
  async preview(op, ctx) {
    const impact = await keyDeletionImpact(ctx.client, op.key);
    const { db, collection } = ctx.client.keyVault.namespace;
    return [
      `db.getSiblingDB('${db}').runCommand({"delete":"${collection}","deletes":[{"q":{"_id":{"$uuid":"${impact.id}"}},"limit":1}]})`,
      `makes ${impact.documents} document(s) of the configured models unreadable for good (${impact.collections.map((c) => `${c.namespace}: ${c.documents}`).join(', ') || 'no configured models'})`,
    ];
  },
  async execute(op, ctx) {
    const impact = await shred(ctx.client, op.key, { confirm: true });
    return `${impact.documents} document(s) of the configured models are now unreadable`;
  },
  async verify(op, ctx) {
    if (await exists(op, ctx)) throw notThere(`the data key ${describeSelector(op.key)} still exists`);
  },
};

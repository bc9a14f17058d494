import { BSON, UUID, type Document } from 'mongodb';
import { KeyIndex } from '../../stored/keyIndex';
import { MigrationError } from '../../errors';
import type { SetValidatorOperation } from '../types';
import { resolveValidator } from '../validatorJson';
import { notThere } from './collections';
import { collectionInfo, commandText, send, splitNamespace, type OperationHandler, type StepContext } from './context';

/** collMod with the validator; a null validator is sent as {} (no validation). */
function collMod(op: SetValidatorOperation, validator: Document | null): Document {
  const { collection } = splitNamespace(op.namespace);
  return validator ? { collMod: collection, validator, validationLevel: 'strict', validationAction: 'error' } : { collMod: collection, validator: {} };
}

/** The target validator with the ids of keys that exist; undefined when some key does not exist yet. */
async function targetIfKeysExist(op: SetValidatorOperation, ctx: StepContext): Promise<Document | null | undefined> {
  if (!op.validator) return null;
  const keys = await KeyIndex.load(ctx.client.keyVault);
  let missing = false;
  const resolved = await resolveValidator(op.validator, async (altName) => {
    const id = keys.idOf(altName);
    if (!id) missing = true;
    return id ? new UUID(id) : { $keyAltName: altName };
  });
  return missing ? undefined : resolved;
}

async function currentValidator(ctx: StepContext, namespace: string): Promise<Document | null | undefined> {
  const info = await collectionInfo(ctx, namespace);
  if (!info) return undefined;
  const validator = info.options?.validator as Document | undefined;
  return validator && Object.keys(validator).length > 0 ? validator : null;
}

function same(a: Document | null, b: Document | null): boolean {
  return BSON.EJSON.stringify(a, { relaxed: false }) === BSON.EJSON.stringify(b, { relaxed: false });
}

export const setValidator: OperationHandler<SetValidatorOperation> = {
  describe: (op) => (op.validator ? `set the $jsonSchema validator of ${op.namespace} (collMod)` : `remove the validator of ${op.namespace} (collMod)`),
  feature: () => 'collMod',
  async check(op, ctx) {
    const current = await currentValidator(ctx, op.namespace);
    // Possibly created by an earlier step of the same migration (a dry run has not run it).
    if (current === undefined) return { done: false, note: 'the collection does not exist yet' };
    const target = await targetIfKeysExist(op, ctx);
    return target !== undefined && same(current, target) ? { done: true, note: 'the collection has this validator already' } : { done: false };
  },
  async preview(op, ctx) {
    const keys = await KeyIndex.load(ctx.client.keyVault);
    const validator = op.validator && await resolveValidator(op.validator, async (altName) => {
      const id = keys.idOf(altName);
      return id ? new UUID(id) : { $keyAltName: altName };
    });
    const lines = [commandText(splitNamespace(op.namespace).db, collMod(op, validator))];
    if (JSON.stringify(validator).includes('$keyAltName')) lines.push('($keyAltName: that data key does not exist yet; it is created when the step runs, and its id sent instead)');
    return lines;
  },
  async execute(op, ctx) {
    if ((await currentValidator(ctx, op.namespace)) === undefined) {
      throw new MigrationError('MIGRATION_COLLECTION_MISSING', `${op.namespace} does not exist, so its validator cannot be set.`, {
        fix: `create it first (add { op: 'createCollection', namespace: '${op.namespace}' } before this step).`,
      });
    }
    const validator = op.validator && await resolveValidator(op.validator, (altName) => ctx.client.keyVault.ensureDataKey(altName));
    await send(ctx, splitNamespace(op.namespace).db, collMod(op, validator), 'collMod');
  },
  async verify(op, ctx) {
    const target = await targetIfKeysExist(op, ctx);
    const current = await currentValidator(ctx, op.namespace);
    if (target === undefined || current === undefined || !same(current, target)) throw notThere(`the validator of ${op.namespace} is not the one set`);
  },
};

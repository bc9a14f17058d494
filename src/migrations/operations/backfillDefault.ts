import { MigrationError } from '../../errors';
import type { FieldMetadata, ModelMetadata } from '../../metadata/types';
import { FieldEncryptor } from '../../repository/encoding/fieldEncryptor';
import { BackfillState } from '../backfill/state';
import { operationFingerprint } from '../checksum';
import { reshapeDocuments } from '../reshape/rewrite';
import type { BackfillDefaultOperation } from '../types';
import { collectionOf, commandText, splitNamespace, type OperationHandler, type StepContext } from './context';

/** The field's default: the `default` function of its field metadata (`@Field({ default })`). */
type WithDefault = FieldMetadata & { default?: () => unknown };

function declaredField(ctx: StepContext, op: BackfillDefaultOperation): { model: ModelMetadata; field: WithDefault } {
  const model = ctx.client.registry.byNamespace(op.namespace);
  let field: WithDefault | undefined;
  let shape = model as { fields: ReadonlyMap<string, FieldMetadata> } | undefined;
  for (const segment of op.path.split('.')) {
    field = shape?.fields.get(segment);
    shape = field && !field.isArray && !field.encrypted ? field.embedded : undefined;
  }
  if (!model || !field?.default) {
    throw new MigrationError('MIGRATION_DEFAULT_UNKNOWN', `${op.namespace}.${op.path}: ${model ? `model ${model.target.name} declares no default for it` : 'no configured model is stored there'}, so there is no value to fill in.`, {
      fix: `declare it, e.g. @Field({ default: () => … }) on ${op.path}, in a model of the configuration (outside arrays), or set the values with a code step.`,
    });
  }
  return { model, field };
}

const missing = (path: string) => ({ [path]: { $exists: false } });

/**
 * Gives every document without a value at `path` the model's default, computed per document
 * (and encrypted when the field is). Each write is conditioned on the field still missing, so a
 * value written meanwhile by the application is kept, and a re-run fills only what is left.
 */
export const backfillDefault: OperationHandler<BackfillDefaultOperation> = {
  describe: (op) => `fill ${op.path} of ${op.namespace} with the model's default where it is missing`,

  async check(op, ctx) {
    const left = await collectionOf(ctx, op.namespace).countDocuments(missing(op.path));
    return left === 0 ? { done: true, note: `every document holds ${op.path}` } : { done: false };
  },

  async preview(op, ctx) {
    const { field } = declaredField(ctx, op);
    const { db, collection } = splitNamespace(op.namespace);
    return [
      `${await collectionOf(ctx, op.namespace).countDocuments(missing(op.path))} document(s) lack ${op.path}; each gets its own value of the default${field.encrypted ? ', encrypted' : ''}`,
      `reads ${commandText(db, { find: collection, sort: { _id: 1 }, limit: ctx.settings.batchSize })} in batches; writes ${commandText(db, { update: collection, updates: [{ q: { _id: '<id>', ...missing(op.path) }, u: { $set: { [op.path]: field.encrypted ? '<ciphertext>' : '<default>' } } }] })}`,
    ];
  },

  async execute(op, ctx) {
    const { model, field } = declaredField(ctx, op);
    const encryptor = new FieldEncryptor(model, ctx.client.engine, ctx.client.keyVault);
    const segments = op.path.split('.');
    const tally = await reshapeDocuments({
      collection: collectionOf(ctx, op.namespace), step: ctx.step, fingerprint: operationFingerprint(op),
      state: new BackfillState(ctx.client.dataClient.db(ctx.settings.database)), batchSize: ctx.settings.batchSize,
      progress: ctx.progress, label: `default of ${op.path}`, out: ctx.out, assertLockHeld: ctx.assertLockHeld,
      reshape: async (doc, t) => {
        let holder: unknown = doc;
        for (const segment of segments.slice(0, -1)) holder = (holder as Record<string, unknown> | undefined)?.[segment];
        if (holder !== undefined && (holder === null || typeof holder !== 'object' || Array.isArray(holder))) return undefined;
        if (holder && segments[segments.length - 1] in (holder as object)) return undefined;
        const value = field.default!();
        t.add('filled', doc._id);
        return { set: { [op.path]: field.encrypted ? await encryptor.encrypt(field, op.path, value, doc) : value }, unset: [] };
      },
    });
    return `${tally.get('filled')} document(s) given the default`;
  },

  async verify(op, ctx) {
    const left = await collectionOf(ctx, op.namespace).countDocuments(missing(op.path));
    if (left > 0) throw new MigrationError('MIGRATION_POSTCHECK', `${left} document(s) of ${op.namespace} still lack ${op.path}.`, { fix: 'they were inserted during the step without it: run the migration again.' });
  },
};

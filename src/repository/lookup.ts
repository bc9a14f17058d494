import { EncryptedQueryError } from '../errors';
import { walkPath } from '../metadata/paths';
import { resolveModel } from '../metadata/resolve';
import type { LookupSpec, LookupStage } from './aggregateTypes';
import { invalid } from './encoding/guards';
import { hasEncrypted } from './encoding/scope';

/**
 * A `$lookup` stage joining the documents of another model (MongoDB manual, "$lookup", equality
 * match): `from` is that model's collection, and the stage carries the model for the aggregation
 * types, so the joined documents are typed. The pipeline is checked by the repository as any
 * other $lookup: `localField` must be plain.
 *
 * Only models without encrypted fields can be joined: the repository running the pipeline decrypts
 * only its own model's fields, so joined ciphertext could never be read (populate reads related
 * documents through their own repository instead). The model must live in the same database.
 */
export function lookup<Target, const Local extends string, const Foreign extends string, const As extends string>(
  target: abstract new (...args: never[]) => Target,
  spec: LookupSpec<Target, Local, Foreign, As>,
): LookupStage<Target, Local, Foreign, As> {
  const model = resolveModel(target);
  if (hasEncrypted(model)) {
    throw new EncryptedQueryError('QUERY_LOOKUP_ENCRYPTED_TARGET', `lookup(${model.target.name}, …) joins a model with encrypted fields: the repository running the pipeline cannot decrypt ${model.target.name}'s ciphertext.`, {
      fix: `load ${model.target.name} documents with populate (a @Ref field), which decrypts them through their own repository.`,
    });
  }
  const { localField, foreignField, as } = spec as { localField: unknown; foreignField: unknown; as: unknown };
  if (typeof localField !== 'string' || typeof foreignField !== 'string' || typeof as !== 'string') {
    throw invalid('INPUT_PIPELINE_STAGE', `lookup(${model.target.name}, …) needs localField, foreignField and as (strings).`, "write lookup(Model, { localField: 'customerId', foreignField: '_id', as: 'customer' }).");
  }
  if (walkPath(model, foreignField.split('.')).chain.length === 0) {
    throw invalid('INPUT_UNKNOWN_FIELD', `lookup(${model.target.name}, …): foreignField ${foreignField} names no field of ${model.target.name}.`, `name a field ${model.target.name} declares.`);
  }
  return { $lookup: { from: model.collection, localField: localField as Local, foreignField: foreignField as Foreign, as: as as As } };
}

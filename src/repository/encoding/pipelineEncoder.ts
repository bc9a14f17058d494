import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import { walkPath } from '../../metadata/paths';
import type { FieldEncryptor } from './fieldEncryptor';
import { encodeFilter } from './filterEncoder';
import { invalid, safeEntries } from './guards';

/** Stages whose field references only move values around (ciphertext stays ciphertext, decrypted on the way back). */
const MOVING_ACCUMULATORS = new Set(['$push', '$addToSet', '$first', '$last', '$top', '$bottom', '$firstN', '$lastN']);

/**
 * Rewrites an aggregation pipeline: $match stages are encoded like filters; sorting or grouping
 * by an encrypted field, and expressions that compute on encrypted values, are refused. Plain
 * references that only move an encrypted value are allowed: results are decrypted on return.
 */
export async function encodePipeline(encryptor: FieldEncryptor, pipeline: unknown): Promise<Document[]> {
  const model = encryptor.model;
  if (!Array.isArray(pipeline)) throw invalid('INPUT_PIPELINE_NOT_ARRAY', `An aggregation pipeline on ${model.target.name} must be an array of stages.`, 'pass [ { $match: … }, … ].');
  const out: Document[] = [];
  for (const stage of pipeline) {
    const entries = stage && typeof stage === 'object' ? safeEntries(stage, `${model.target.name} pipeline`) : [];
    if (entries.length !== 1) throw invalid('INPUT_PIPELINE_STAGE', `Each stage of a pipeline on ${model.target.name} must be an object with exactly one stage operator.`, 'write stages like { $match: { … } }.');
    const [name, spec] = entries[0];
    out.push({ [name]: await encodeStage(encryptor, name, spec) });
  }
  return out;
}

async function encodeStage(encryptor: FieldEncryptor, name: string, spec: unknown): Promise<unknown> {
  const check = (expression: unknown, role: string) => refuseEncryptedReference(encryptor, expression, `${name} ${role}`);
  switch (name) {
    case '$match':
      return encodeFilter(encryptor, spec);
    case '$sort':
      assertSortable(encryptor, spec);
      return spec;
    case '$group': {
      const group = spec as Document;
      check(group._id, '_id');
      for (const [field, accumulator] of Object.entries(group)) {
        if (field === '_id' || !accumulator || typeof accumulator !== 'object') continue;
        for (const [op, arg] of Object.entries(accumulator as Document)) if (!MOVING_ACCUMULATORS.has(op)) check(arg, `${field}.${op}`);
      }
      return spec;
    }
    case '$sortByCount': case '$bucket': case '$bucketAuto':
      check(name === '$sortByCount' ? spec : (spec as Document).groupBy, 'grouping');
      return spec;
    case '$project': case '$addFields': case '$set': case '$replaceRoot': case '$replaceWith': case '$redact':
      for (const value of Object.values(spec as Document)) if (isExpressionObject(value)) check(value, 'expression');
      return spec;
    case '$lookup': {
      const lookup = spec as Document;
      if (typeof lookup.localField === 'string') check(`$${lookup.localField}`, 'localField');
      if (Array.isArray(lookup.pipeline)) throw invalid('INPUT_PIPELINE_SUBPIPELINE', '$lookup with a sub-pipeline is not supported through Strongbox repositories.', 'use localField/foreignField, or the raw driver collection for unencrypted collections.');
      return spec;
    }
    case '$facet': {
      const facets: Document = {};
      for (const [facet, sub] of safeEntries(spec as object, `${name}`)) facets[facet] = await encodePipeline(encryptor, sub);
      return facets;
    }
    case '$limit': case '$skip': case '$count': case '$sample': case '$unwind': case '$unset':
      return spec;
    default:
      check(spec, 'stage');
      return spec;
  }
}

/** Sorting compares stored values; ciphertext order says nothing about plaintext order. */
export function assertSortable(encryptor: FieldEncryptor, sort: unknown): void {
  if (sort === null || typeof sort !== 'object' || Array.isArray(sort)) {
    throw invalid('INPUT_SORT', `A sort on ${encryptor.model.target.name} must be an object like { field: 1 }.`, 'pass { field: 1 } or { field: -1 }.');
  }
  for (const [path] of safeEntries(sort, 'sort')) refuseEncryptedReference(encryptor, `$${path}`, '$sort key');
}

function isExpressionObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function refuseEncryptedReference(encryptor: FieldEncryptor, expression: unknown, role: string): void {
  const model = encryptor.model;
  const visit = (node: unknown): void => {
    if (typeof node === 'string' && node.startsWith('$') && !node.startsWith('$$')) {
      const segments = node.slice(1).split('.');
      const field = walkPath(model, segments).chain.find((f) => f.encrypted);
      if (field) {
        throw new EncryptedQueryError('QUERY_PIPELINE_ON_ENCRYPTED', `The aggregation ${role} uses ${model.target.name}.${node.slice(1)}, which is ${field.encrypted!.algorithm}-encrypted: the server cannot sort, group or compute on ciphertext.`, {
          fix: 'group or sort by plain fields, or do this step in the application after reading (results are decrypted there).',
        });
      }
    } else if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') Object.values(node).forEach(visit);
  };
  visit(expression);
}

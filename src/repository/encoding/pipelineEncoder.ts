import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import { walkPath } from '../../metadata/paths';
import type { FieldEncryptor } from './fieldEncryptor';
import { encodeFilter, hasEncrypted } from './filterEncoder';
import { invalid, safeEntries } from './guards';

/** Stages whose specification is a document; anything else would only fail further down, untyped. */
const OBJECT_SPEC_STAGES = new Set(['$group', '$project', '$addFields', '$set', '$replaceRoot', '$lookup', '$facet', '$bucket', '$bucketAuto', '$unionWith', '$graphLookup', '$geoNear']);

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
  if (OBJECT_SPEC_STAGES.has(name) && !isPlainObject(spec)) {
    throw invalid('INPUT_PIPELINE_STAGE', `The ${name} stage of a pipeline on ${encryptor.model.target.name} needs a document.`, `write { ${name}: { … } }.`);
  }
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
      if (name === '$project' || name === '$addFields' || name === '$set') checkOutputs(encryptor, spec as Document, name, name === '$project');
      else if (name !== '$redact') {
        const newRoot = name === '$replaceRoot' ? (spec as Document).newRoot : spec;
        if (isOutputDocument(newRoot)) checkOutputs(encryptor, newRoot, name, false);
      }
      return spec;
    case '$out': case '$merge':
      // The server writes what the pipeline produces, bypassing encryption: literals would be stored in the clear.
      throw new EncryptedQueryError('QUERY_PIPELINE_WRITES', `${name} is refused in pipelines on ${encryptor.model.target.name}: the server would write the results without Strongbox encrypting them.`, {
        fix: 'read the results and write them through a repository (insertMany, bulkWrite), which encrypts them.',
      });
    case '$geoNear': {
      const geoNear = spec as Document;
      return geoNear.query === undefined ? spec : { ...geoNear, query: await encodeFilter(encryptor, geoNear.query) };
    }
    case '$unionWith': case '$graphLookup': {
      // Their sub-pipeline or filter runs on another collection, whose model (and keys) this repository does not know.
      const sub = name === '$unionWith' ? (spec as Document).pipeline : (spec as Document).restrictSearchWithMatch;
      if (sub !== undefined) throw invalid('INPUT_PIPELINE_SUBPIPELINE', `${name} with a ${name === '$unionWith' ? 'pipeline' : 'restrictSearchWithMatch filter'} is not supported through Strongbox repositories.`, 'run that part through the other collection\'s repository and combine the results in the application.');
      check(spec, 'stage');
      return spec;
    }
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

/**
 * Output fields of $project, $addFields, $set, $replaceRoot/$replaceWith and find projections:
 * where the model keeps encrypted values, a stored value may be kept or dropped (1/0, projections
 * only) or moved ('$path'), nothing else. A literal or computed value there would be sent in the
 * clear, and a client reading the result could take it for decrypted data.
 */
function checkOutputs(encryptor: FieldEncryptor, spec: Document, role: string, flagsAllowed: boolean, prefix = ''): void {
  const model = encryptor.model;
  for (const [key, value] of safeEntries(spec, `${model.target.name} ${role}`)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isOutputDocument(value)) {
      checkOutputs(encryptor, value, role, flagsAllowed, path);
      continue;
    }
    if (!holdsEncrypted(encryptor, path)) continue;
    const moved = typeof value === 'string' && value.startsWith('$');
    const flag = flagsAllowed && (value === 0 || value === 1 || typeof value === 'boolean');
    if (!moved && !flag) {
      throw new EncryptedQueryError('QUERY_PIPELINE_WRITES_ENCRYPTED', `${role} sets ${model.target.name}.${path}, which holds encrypted values, to a literal or computed value: it would reach the server in plaintext.`, {
        fix: `keep (1), drop (0) or move ('$field') stored values there; compute new values in the application after reading, or write them with updateOne/$set, which encrypts them.`,
      });
    }
  }
}

/**
 * A find projection: an $elemMatch condition is encoded like a filter on the array's elements (its
 * Deterministic operands encrypted, so it can match), $slice is kept, and everything else follows
 * the rules of a $project stage.
 */
export async function encodeProjection(encryptor: FieldEncryptor, projection: unknown): Promise<Document | undefined> {
  const model = encryptor.model;
  if (projection === undefined) return undefined;
  if (!isPlainObject(projection)) throw invalid('INPUT_PROJECTION', `A projection on ${model.target.name} must be an object like { field: 1 }.`, 'pass { field: 1 } to include fields or { field: 0 } to leave them out.');
  const out: Document = {};
  const others: Document = {};
  for (const [path, value] of safeEntries(projection, `${model.target.name} projection`)) {
    const only = isPlainObject(value) && Object.keys(value).length === 1 ? Object.keys(value)[0] : undefined;
    if (only === '$elemMatch') out[path] = { $elemMatch: await encodeFilter(encryptor, (value as Document).$elemMatch, path) };
    else if (only === '$slice') out[path] = value;
    else out[path] = others[path] = value;
  }
  for (const value of Object.values(others)) if (isExpressionObject(value)) refuseEncryptedReference(encryptor, value, 'projection expression');
  checkOutputs(encryptor, others, 'The projection', true);
  return out;
}

/** A path that is, lies inside, or holds an encrypted field. */
function holdsEncrypted(encryptor: FieldEncryptor, path: string): boolean {
  const { chain, unresolved } = walkPath(encryptor.model, path.split('.'));
  if (chain.some((f) => f.encrypted)) return true;
  const last = chain[chain.length - 1];
  return unresolved.length === 0 && last?.embedded !== undefined && hasEncrypted(last.embedded);
}

/** A nested specification of output fields (not an operator expression). */
function isOutputDocument(value: unknown): value is Document {
  return isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => !k.startsWith('$'));
}

function isPlainObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
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

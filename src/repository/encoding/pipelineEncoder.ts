import type { Document } from 'mongodb';
import { EncryptedQueryError } from '../../errors';
import { walkPath } from '../../metadata/paths';
import type { FieldMetadata, ModelMetadata } from '../../metadata/types';
import { MOVING_ACCUMULATORS, PIPELINE_STAGES } from '../policy/table';
import { checkExpression } from './expressions';
import { analyzeFilter, elementCondition, type Analysis } from './filterEncoder';
import { invalid, isPlainObject, safeEntries } from './guards';
import { computedField, DerivedScope, hasEncrypted, isTainted, ModelScope, taintedField, type Scope } from './scope';

const NO_VARIABLES: ReadonlySet<string> = new Set();

/**
 * Analyzes an aggregation pipeline stage by stage, following the shape of the documents: after
 * each stage Strongbox knows which output paths hold ciphertext, of which kind and key (a moved
 * encrypted field keeps both), which hold only plaintext, and which may hold ciphertext it
 * cannot describe. A later $match encrypts a value only where the path provably names an
 * encrypted field; expressions may not reach anything that may hold ciphertext; literals may not
 * be written where the model keeps encrypted values. Stages not in the policy table are refused.
 */
export function analyzePipeline(analysis: Analysis, model: ModelMetadata, pipeline: unknown, start: Scope = new ModelScope(model), variables: ReadonlySet<string> = NO_VARIABLES): Document[] {
  return followPipeline(analysis, model, pipeline, start, variables).stages;
}

/** analyzePipeline, also returning the shape of the documents the pipeline produces (which the reader decrypts along). */
export function followPipeline(analysis: Analysis, model: ModelMetadata, pipeline: unknown, start: Scope, variables: ReadonlySet<string>): { stages: Document[]; result: Scope } {
  if (!Array.isArray(pipeline)) throw invalid('INPUT_PIPELINE_NOT_ARRAY', `An aggregation pipeline on ${model.target.name} must be an array of stages.`, 'pass [ { $match: … }, … ].');
  let scope = start;
  const out: Document[] = [];
  // MongoDB manual, "$text in the Aggregation Pipeline": a $match with $text must be the first stage, and a textScore needs it.
  const first = pipeline[0] as unknown;
  const textSearch = isPlainObject(first) && isTextSearch(first.$match);
  for (const [index, stage] of pipeline.entries()) {
    const entries = isPlainObject(stage) ? safeEntries(stage, `${model.target.name} pipeline`) : [];
    if (entries.length !== 1) throw invalid('INPUT_PIPELINE_STAGE', `Stage ${index} of a pipeline on ${model.target.name} must be an object with exactly one stage operator.`, 'write stages like { $match: { … } }.');
    const [name, spec] = entries[0];
    const where = `${name} (stage ${index})`;
    const policy = PIPELINE_STAGES[name];
    if (policy === undefined) {
      throw invalid('INPUT_UNKNOWN_STAGE', `${name} (${where} of a pipeline on ${model.target.name}) is not a stage Strongbox knows.`, `use one of the stages docs/queries.md lists: ${Object.keys(PIPELINE_STAGES).filter((s) => PIPELINE_STAGES[s] === 'tracked').join(', ')}.`);
    }
    if (policy === 'refuse') {
      throw new EncryptedQueryError('QUERY_PIPELINE_STAGE_REFUSED', `${name} (${where}) is refused in pipelines on ${model.target.name}: ${name === '$out' || name === '$merge' ? 'the server would write the results without Strongbox encrypting them' : 'it reads or writes outside what the repository can check against the model'}.`, {
        fix: name === '$out' || name === '$merge'
          ? 'read the results and write them through a repository (insertMany, bulkWrite), which encrypts them.'
          : 'run it through the raw driver collection (repository.collection) if the data involved holds no encrypted fields.',
      });
    }
    const [encoded, next] = analyzeStage({ analysis, model, scope, where, variables, textSearch }, name, spec);
    out.push({ [name]: encoded });
    scope = next;
  }
  return { stages: out, result: scope };
}

interface StageContext {
  analysis: Analysis;
  model: ModelMetadata;
  scope: Scope;
  where: string;
  /** Variables the `let` option defines. */
  variables: ReadonlySet<string>;
  /** The pipeline starts with a $match on $text, so a { $meta: 'textScore' } means something. */
  textSearch: boolean;
}

type Fields = Map<string, FieldMetadata>;

function analyzeStage(ctx: StageContext, name: string, spec: unknown): [unknown, Scope] {
  const { scope, where } = ctx;
  const derived = (fields: ReadonlyMap<string, FieldMetadata>, openTainted = scope instanceof DerivedScope && scope.openTainted) =>
    new DerivedScope(scope.name, scope.shape.target, fields, openTainted);
  switch (name) {
    case '$match':
      return [analyzeFilter(ctx.analysis, scope, spec), scope];
    case '$sort':
      assertSortable(scope, spec, ctx.textSearch);
      return [spec, scope];
    case '$limit': case '$skip':
      if (typeof spec !== 'number') throw invalid('INPUT_PIPELINE_STAGE', `${where} needs a number.`, `write { ${name}: 10 }.`);
      return [spec, scope];
    case '$sample':
      if (!isPlainObject(spec) || typeof spec.size !== 'number' || Object.keys(spec).length !== 1) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs { size: <number> }.`, 'write { $sample: { size: 10 } }.');
      return [spec, scope];
    case '$count':
      if (typeof spec !== 'string' || spec.length === 0 || spec.startsWith('$') || spec.includes('.')) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs the name of the output field.`, 'write { $count: "total" }.');
      // A count under the name of an encrypted field would make later values meant for that field plain.
      assertWritable(ctx, spec);
      return [spec, derived(new Map([[spec, computedField(spec)]]), false)];
    case '$project': {
      const spec_ = requireDocument(spec, where);
      return [spec_, derived(projectFields(ctx, spec_), scope instanceof DerivedScope && scope.openTainted)];
    }
    case '$addFields': case '$set': {
      const fields = new Map(scope.shape.fields) as Fields;
      for (const [key, value] of safeEntries(requireDocument(spec, where), where)) setOutput(ctx, fields, key, value, false);
      return [spec, derived(fields)];
    }
    case '$unset': {
      const names = typeof spec === 'string' ? [spec] : Array.isArray(spec) && spec.every((s) => typeof s === 'string') ? (spec as string[]) : undefined;
      if (!names) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs a field name or an array of them.`, 'write { $unset: ["a", "b"] }.');
      const fields = new Map(scope.shape.fields) as Fields;
      for (const n of names) if (!n.includes('.')) fields.delete(n);
      return [spec, derived(fields)];
    }
    case '$replaceRoot': case '$replaceWith': {
      const newRoot = name === '$replaceRoot' ? requireDocument(spec, where).newRoot : spec;
      if (name === '$replaceRoot' && Object.keys(spec as Document).length !== 1) throw invalid('INPUT_PIPELINE_STAGE', `${where} takes only newRoot.`, 'write { $replaceRoot: { newRoot: … } }.');
      return [spec, replaceRoot(ctx, newRoot)];
    }
    case '$group': {
      const group = requireDocument(spec, where);
      if (!('_id' in group)) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs an _id (use null to group everything).`, 'write { $group: { _id: "$field", … } }.');
      const fields: Fields = new Map([['_id', groupKey(ctx, group._id, '_id')]]);
      for (const [key, accumulator] of safeEntries(group, where)) if (key !== '_id') fields.set(plainOutputName(key, where), accumulate(ctx, key, accumulator));
      return [spec, derived(fields, false)];
    }
    case '$sortByCount':
      groupKey(ctx, spec, 'grouping');
      return [spec, derived(new Map([['_id', computedField('_id')], ['count', computedField('count')]]), false)];
    case '$bucket': case '$bucketAuto': {
      const bucket = requireDocument(spec, where);
      groupKey(ctx, bucket.groupBy, 'groupBy');
      checkLiterals(bucket, ['boundaries', 'default', 'buckets', 'granularity'], where);
      const fields: Fields = new Map([['_id', computedField('_id')]]);
      if (bucket.output === undefined) fields.set('count', computedField('count'));
      else for (const [key, accumulator] of safeEntries(requireDocument(bucket.output, `${where} output`), where)) fields.set(plainOutputName(key, where), accumulate(ctx, key, accumulator));
      return [spec, derived(fields, false)];
    }
    case '$unwind': {
      const options = typeof spec === 'string' ? { path: spec } : requireDocument(spec, where);
      if (typeof options.path !== 'string' || !options.path.startsWith('$')) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs a path like "$items".`, 'write { $unwind: "$items" }.');
      const path = options.path.slice(1);
      scope.resolve(path, where);
      const fields = new Map(scope.shape.fields) as Fields;
      const top = fields.get(path);
      if (top?.isArray && !top.encrypted) fields.set(path, { ...top, isArray: false });
      if (typeof options.includeArrayIndex === 'string') setComputed(ctx, fields, options.includeArrayIndex);
      return [spec, derived(fields)];
    }
    case '$lookup': {
      const lookup = requireDocument(spec, where);
      const allowed = ['from', 'localField', 'foreignField', 'as'];
      const extra = Object.keys(lookup).filter((k) => !allowed.includes(k));
      if (extra.length) throw invalid('INPUT_PIPELINE_SUBPIPELINE', `${where}: $lookup with ${extra.join(', ')} is not supported through Strongbox repositories (its sub-pipeline runs on a collection whose model this repository does not know).`, 'use from/localField/foreignField/as, or combine results from the other repository in the application.');
      if (typeof lookup.localField !== 'string' || typeof lookup.as !== 'string' || typeof lookup.from !== 'string' || typeof lookup.foreignField !== 'string') throw invalid('INPUT_PIPELINE_STAGE', `${where} needs from, localField, foreignField and as (strings).`, 'write { $lookup: { from, localField, foreignField, as } }.');
      if (scope.holdsEncrypted(lookup.localField)) throw reaches(scope, lookup.localField, `${where} localField`, 'joins compare stored values');
      scope.resolve(lookup.localField, where);
      // Joining the model's own collection on an encrypted field compares stored values with ciphertext: silently empty.
      if (lookup.from === ctx.model.collection && keepsEncrypted(ctx.model, lookup.foreignField)) throw reaches(scope, lookup.foreignField, `${where} foreignField`, 'joins compare stored values');
      // The joined documents come from a collection this repository knows nothing about: they may hold ciphertext anywhere.
      const fields = new Map(scope.shape.fields) as Fields;
      fields.set(lookup.as.split('.')[0], taintedField(lookup.as.split('.')[0]));
      return [spec, derived(fields)];
    }
    case '$unionWith': {
      const union = typeof spec === 'string' ? { coll: spec } : requireDocument(spec, where);
      if (union.pipeline !== undefined) throw invalid('INPUT_PIPELINE_SUBPIPELINE', `${where}: $unionWith with a pipeline is not supported through Strongbox repositories.`, 'run that part through the other collection\'s repository and combine the results in the application.');
      return [spec, new DerivedScope(scope.name, scope.shape.target, scope.shape.fields, true)];
    }
    case '$facet': {
      const facets: Document = {};
      const fields: Fields = new Map();
      for (const [facet, sub] of safeEntries(requireDocument(spec, where), where)) {
        facets[facet] = analyzePipeline(ctx.analysis, ctx.model, sub, scope, ctx.variables);
        // A facet is a new array: under the name of an encrypted field it would make later values meant for that field plain.
        assertWritable(ctx, facet);
        fields.set(facet, scope.mayHoldCiphertext ? taintedField(facet) : computedField(facet));
      }
      return [facets, derived(fields, false)];
    }
    case '$setWindowFields': {
      const windows = requireDocument(spec, where);
      if (windows.partitionBy !== undefined) groupKey(ctx, windows.partitionBy, 'partitionBy');
      if (windows.sortBy !== undefined) assertSortable(scope, windows.sortBy);
      const fields = new Map(scope.shape.fields) as Fields;
      for (const [key, output] of safeEntries(requireDocument(windows.output, `${where} output`), where)) {
        assertWritable(ctx, key);
        const { window, ...accumulator } = requireDocument(output, `${where} output ${key}`);
        checkLiterals({ window }, ['window'], where);
        placeOutput(fields, key, accumulate(ctx, key, accumulator));
      }
      return [spec, derived(fields)];
    }
    case '$fill': {
      const fill = requireDocument(spec, where);
      if (fill.partitionBy !== undefined) groupKey(ctx, fill.partitionBy, 'partitionBy');
      for (const f of asArray(fill.partitionByFields)) refuseEncryptedPath(ctx, f, 'partitionByFields');
      if (fill.sortBy !== undefined) assertSortable(scope, fill.sortBy);
      const fields = new Map(scope.shape.fields) as Fields;
      for (const [key, how] of safeEntries(requireDocument(fill.output, `${where} output`), where)) {
        assertWritable(ctx, key);
        const method = requireDocument(how, `${where} output ${key}`);
        if (method.value !== undefined) checkExpression(scope, method.value, where, ctx.variables);
        setComputed(ctx, fields, key);
      }
      return [spec, derived(fields)];
    }
    case '$densify': {
      const densify = requireDocument(spec, where);
      refuseEncryptedPath(ctx, densify.field, 'field');
      for (const f of asArray(densify.partitionByFields)) refuseEncryptedPath(ctx, f, 'partitionByFields');
      checkLiterals(densify, ['range'], where);
      return [spec, scope];
    }
    case '$redact':
      if (scope.mayHoldCiphertext) {
        throw new EncryptedQueryError('QUERY_PIPELINE_STAGE_REFUSED', `${where} is refused in pipelines on ${scope.name}: $redact evaluates its expression at every level of every document, where encrypted values lie.`, {
          fix: 'filter with $match on plain fields, or redact in the application after reading.',
        });
      }
      checkExpression(scope, spec, where, ctx.variables);
      return [spec, scope];
    case '$geoNear': {
      const geo = requireDocument(spec, where);
      const out: Document = { ...geo };
      if (geo.query !== undefined) out.query = analyzeFilter(ctx.analysis, scope, geo.query);
      if (geo.key !== undefined) refuseEncryptedPath(ctx, geo.key, 'key');
      checkLiterals(geo, ['near', 'maxDistance', 'minDistance', 'distanceMultiplier', 'spherical'], where);
      const fields = new Map(scope.shape.fields) as Fields;
      for (const f of [geo.distanceField, geo.includeLocs]) if (typeof f === 'string') setComputed(ctx, fields, f);
      return [out, derived(fields)];
    }
    default:
      // Listed as tracked in the table but not handled here would be a bug: refuse rather than pass.
      throw invalid('INPUT_UNKNOWN_STAGE', `${name} is not handled.`, 'report this as a Strongbox bug.');
  }
}

/** $project: inclusion keeps the listed fields (and _id), exclusion drops them; computed and moved fields follow their sources. */
function projectFields(ctx: StageContext, spec: Document): Fields {
  const entries = safeEntries(spec, ctx.where);
  const isFlag = (v: unknown) => v === 0 || v === 1 || typeof v === 'boolean';
  // { _id: 1 } alone keeps only _id (an inclusion); beside exclusions it just keeps _id.
  const inclusion = entries.some(([k, v]) => k !== '_id' && !(v === 0 || v === false)) || (entries.length > 0 && entries.every(([k, v]) => k === '_id' && (v === 1 || v === true)));
  const source = ctx.scope.shape.fields;
  if (!inclusion) {
    const fields = new Map(source) as Fields;
    for (const [key, value] of entries) {
      if (!isFlag(value)) throw invalid('INPUT_PROJECTION', `${ctx.where} gives ${key} a value other than 0 or false in an exclusion projection.`, 'drop fields with 0, or keep them with 1, not both.');
      if (ctx.scope instanceof ModelScope) ctx.scope.resolve(key, ctx.where);
      if (!key.includes('.') && (value === 0 || value === false)) fields.delete(key);
    }
    return fields;
  }
  const fields: Fields = new Map();
  const id = source.get('_id');
  if (id && !entries.some(([k, v]) => k === '_id' && (v === 0 || v === false))) fields.set('_id', id);
  for (const [key, value] of entries) {
    if (isFlag(value)) {
      // Checks the path: unknown fields and paths inside a whole-encrypted value are refused.
      if (ctx.scope instanceof ModelScope || source.has(key.split('.')[0])) ctx.scope.resolve(key, ctx.where);
      if (value === 0 || value === false) continue;
      // 'address.city': 1 keeps part of address; keeping all of it describes a superset, which is safe.
      const top = key.split('.')[0];
      const kept = source.get(top);
      if (kept) fields.set(top, kept);
      continue;
    }
    if (typeof value === 'number' || typeof value === 'boolean') throw invalid('INPUT_PROJECTION', `${ctx.where} gives ${key} the number ${String(value)}; a projection keeps (1, true) or drops (0, false) a field.`, 'use 1 or 0.');
    setOutput(ctx, fields, key, value, true);
  }
  return fields;
}

/**
 * One output field of $project / $addFields / $set / a new root: a moved path ('$field') keeps what
 * the source holds; anything else is checked as an expression and must not land where the model
 * keeps encrypted values (a literal there would reach the server in plaintext). Only inside
 * $project do 0/1/true/false keep or drop a field (`flagsKeep`); in $addFields, $set and a new
 * root they are literals the server stores ("$addFields" in the MongoDB manual).
 */
function setOutput(ctx: StageContext, fields: Fields, key: string, value: unknown, flagsKeep: boolean): void {
  const top = key.split('.')[0];
  if (typeof value === 'string' && value.startsWith('$')) {
    const moved = movedField(ctx.scope, value, top, ctx.variables);
    // A plain value moved under a name where the model keeps encrypted values is written like a literal.
    if (!mayHoldCiphertext(moved)) assertWritable(ctx, key);
    placeOutput(fields, key, moved);
    return;
  }
  if (isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => !k.startsWith('$'))) {
    // A nested output document: each of its fields follows the same rules.
    const nested: Fields = new Map();
    for (const [sub, subValue] of safeEntries(value, ctx.where)) setOutput(ctx, nested, `${key}.${sub}`, subValue, flagsKeep);
    const holds = [...nested.values()].some((f) => f.encrypted || isTainted(f) || f.embedded);
    fields.set(top, holds ? taintedField(top) : computedField(top));
    return;
  }
  assertWritable(ctx, key);
  if (flagsKeep && (value === 0 || value === 1 || typeof value === 'boolean')) {
    const kept = ctx.scope.shape.fields.get(top);
    if (kept) fields.set(top, kept);
    return;
  }
  checkExpression(ctx.scope, value, ctx.where, ctx.variables);
  placeOutput(fields, key, computedField(top));
}

/** What a field set to '$path' (or '$$ROOT' / '$$CURRENT') holds. */
function movedField(scope: Scope, reference: string, name: string, variables: ReadonlySet<string>): FieldMetadata {
  if (reference.startsWith('$$')) {
    const [variable, ...rest] = reference.slice(2).split('.');
    if (variable !== 'ROOT' && variable !== 'CURRENT') {
      checkExpression(scope, reference, 'a moved variable', variables);
      return computedField(name);
    }
    if (rest.length === 0) return scope.mayHoldCiphertext ? taintedField(name) : computedField(name);
    return movedField(scope, `$${rest.join('.')}`, name, variables);
  }
  const path = reference.slice(1);
  const resolved = scope.resolve(path, 'a moved field');
  if (resolved.tainted) return taintedField(name);
  const walk = walkPath(scope.shape, path.split('.'));
  // Through an array, a path collects one value per element: an array of ciphertexts is not the field itself.
  const throughArray = walk.chain.slice(0, -1).some((f) => f.isArray);
  const field = resolved.encrypted ?? resolved.field;
  if (!field) return computedField(name);
  const holds = field.encrypted || (field.embedded && hasEncrypted(field.embedded));
  if (!holds) return computedField(name);
  if (throughArray || resolved.names === 'element') return taintedField(name);
  return { ...field, name };
}

/** $group's _id, $bucket's groupBy, partitionBy: the server compares these values, so none may be ciphertext. */
function groupKey(ctx: StageContext, expression: unknown, role: string): FieldMetadata {
  checkExpression(ctx.scope, expression, `${ctx.where} ${role}`, ctx.variables);
  return computedField('_id');
}

/** An accumulator output: moving accumulators keep a moved encrypted value (or a collection of them); others compute and must not see ciphertext. */
function accumulate(ctx: StageContext, key: string, accumulator: unknown): FieldMetadata {
  const where = `${ctx.where} ${key}`;
  const entries = isPlainObject(accumulator) ? safeEntries(accumulator, where) : [];
  if (entries.length !== 1 || !entries[0][0].startsWith('$')) throw invalid('INPUT_PIPELINE_STAGE', `${where} must be an accumulator object like { $sum: 1 }.`, 'write { field: { $first: "$x" } }.');
  const [op, argument] = entries[0];
  const moving = MOVING_ACCUMULATORS[op];
  assertWritable(ctx, key);
  if (moving) {
    const sources = isPlainObject(argument) && !Object.keys(argument).some((k) => k.startsWith('$')) ? argument : { input: argument };
    let holds = false;
    for (const [name, value] of safeEntries(sources, where)) {
      if (name === 'sortBy') { assertSortable(ctx.scope, value); continue; }
      if (typeof value === 'string' && value.startsWith('$')) {
        const moved = movedField(ctx.scope, value, key, ctx.variables);
        if (moved.encrypted || isTainted(moved) || moved.embedded) {
          if (moving === 'same' && name === 'input') return moved;
          holds = true;
        }
        continue;
      }
      checkExpression(ctx.scope, value, where, ctx.variables);
    }
    return holds ? taintedField(key) : computedField(key);
  }
  checkExpression(ctx.scope, accumulator, where, ctx.variables);
  return computedField(key);
}

/** An output that is, or may hold, ciphertext: an encrypted field, a tainted one, or a document with encrypted fields. */
function mayHoldCiphertext(field: FieldMetadata): boolean {
  return field.encrypted !== undefined || isTainted(field) || (field.embedded !== undefined && hasEncrypted(field.embedded));
}

/** $group and $bucket outputs are top-level names: MongoDB refuses a dot in them, and so does Strongbox, before sending. */
function plainOutputName(key: string, where: string): string {
  if (key.includes('.')) throw invalid('INPUT_PIPELINE_STAGE', `${where}: the output name "${key}" contains a dot; MongoDB accepts only top-level names there.`, 'name the output without a dot, and nest it with a later $project if needed.');
  return key;
}

/**
 * Records an output written at `key`: a dotted key ('w.p') writes inside its top-level field, which
 * then may hold what was written there (a paths walk never reads a dotted name as one field).
 */
function placeOutput(fields: Fields, key: string, output: FieldMetadata): void {
  if (!key.includes('.')) {
    fields.set(key, output);
    return;
  }
  const top = key.split('.')[0];
  if (mayHoldCiphertext(output)) fields.set(top, taintedField(top));
  else if (!fields.has(top)) fields.set(top, computedField(top));
}

/** $replaceRoot / $replaceWith: the new documents are what the expression yields. */
function replaceRoot(ctx: StageContext, newRoot: unknown): Scope {
  const { scope } = ctx;
  if (typeof newRoot === 'string' && newRoot.startsWith('$')) {
    if (newRoot === '$$ROOT' || newRoot === '$$CURRENT') return scope;
    const moved = movedField(scope, newRoot, 'root', ctx.variables);
    if (moved.embedded && !moved.isArray && !isTainted(moved)) return new DerivedScope(scope.name, scope.shape.target, moved.embedded.fields);
    // An array of documents (or anything that may hold ciphertext) as the new root: nothing is known of what lies where.
    if (isTainted(moved) || moved.encrypted || moved.embedded) return new DerivedScope(scope.name, scope.shape.target, new Map(), true);
    refuseComputedRoot(ctx);
    return new DerivedScope(scope.name, scope.shape.target, new Map());
  }
  if (isPlainObject(newRoot) && Object.keys(newRoot).length > 0 && Object.keys(newRoot).every((k) => !k.startsWith('$'))) {
    const fields: Fields = new Map();
    for (const [key, value] of safeEntries(newRoot, ctx.where)) setOutput(ctx, fields, key, value, false);
    return new DerivedScope(scope.name, scope.shape.target, fields);
  }
  refuseComputedRoot(ctx);
  checkExpression(scope, newRoot, ctx.where, ctx.variables);
  return new DerivedScope(scope.name, scope.shape.target, new Map());
}

/**
 * A new root computed by an expression ($mergeObjects, $literal, $setField, $arrayToObject, or a
 * computed field such as a $group key) gets names Strongbox cannot see: a literal under the name
 * of an encrypted field would be a plaintext document of the model's shape. Refused for models
 * with encrypted fields; the object form names each field and is checked field by field.
 */
function refuseComputedRoot(ctx: StageContext): void {
  if (!ctx.scope.modelEncrypted) return;
  throw new EncryptedQueryError('QUERY_PIPELINE_WRITES_ENCRYPTED', `${ctx.where} makes a new root from a computed value on ${ctx.scope.name}, which has encrypted fields: the names it yields cannot be checked, and a literal under an encrypted field's name would reach the server in plaintext.`, {
    fix: 'write the new root as an object naming each field ({ newRoot: { a: "$_id.a", b: "$count" } }), or move a stored embedded document ("$address").',
  });
}

/** The path is (or lies under) an encrypted or tainted field of `shape`, or names a document holding encrypted fields. */
function keepsEncrypted(shape: ModelMetadata | Scope['shape'], path: string): boolean {
  const walk = walkPath(shape, path.split('.'));
  const last = walk.chain[walk.chain.length - 1];
  const container = last?.embedded !== undefined && hasEncrypted(last.embedded);
  // An undeclared path inside a document holding encrypted fields is refused too: nothing says what it may hold.
  return walk.chain.some((f) => f.encrypted || isTainted(f)) || container;
}

/** A computed value may not be written where the documents or the model keep encrypted values. */
function assertWritable(ctx: StageContext, path: string): void {
  if (keepsEncrypted(ctx.model, path) || keepsEncrypted(ctx.scope.shape, path) || ctx.scope.holdsEncrypted(path)) {
    throw new EncryptedQueryError('QUERY_PIPELINE_WRITES_ENCRYPTED', `${ctx.where} writes a literal or computed value to ${ctx.scope.name}.${path}, where encrypted values are kept: it would reach the server in plaintext.`, {
      fix: 'keep (1), drop (0) or move (\'$field\') stored values there; compute new values in the application after reading, or write them with updateOne/$set, which encrypts them.',
    });
  }
}

function setComputed(ctx: StageContext, fields: Fields, name: string): void {
  assertWritable(ctx, name);
  const top = name.split('.')[0];
  if (!fields.has(top) || !name.includes('.')) fields.set(top, computedField(top));
}

function refuseEncryptedPath(ctx: StageContext, path: unknown, role: string): void {
  if (typeof path !== 'string') throw invalid('INPUT_PIPELINE_STAGE', `${ctx.where} ${role} must be a field path.`, 'name a plain field.');
  if (ctx.scope.holdsEncrypted(path)) throw reaches(ctx.scope, path, `${ctx.where} ${role}`, 'the server compares these values');
  ctx.scope.resolve(path, ctx.where);
}

/** Whether a filter is a text search: a $text at its top level (or in a top-level $and, as Strongbox's own conditions wrap it). */
export function isTextSearch(filter: unknown): boolean {
  if (!isPlainObject(filter)) return false;
  return Object.prototype.hasOwnProperty.call(filter, '$text') || (Array.isArray(filter.$and) && filter.$and.some(isTextSearch));
}

/**
 * Sorting compares stored values; ciphertext order says nothing about plaintext order. A sort by
 * { $meta: 'textScore' } needs a text search (`textSearch`): without one the server has no score.
 */
export function assertSortable(scope: Scope, sort: unknown, textSearch = false): void {
  if (!isPlainObject(sort)) throw invalid('INPUT_SORT', `A sort on ${scope.name} must be an object like { field: 1 }.`, 'pass { field: 1 } or { field: -1 }.');
  for (const [path, direction] of safeEntries(sort, 'sort')) {
    const metaSort = isPlainObject(direction) && Object.keys(direction).length === 1 && direction.$meta === 'textScore';
    if (!metaSort && direction !== 1 && direction !== -1) throw invalid('INPUT_SORT', `The sort direction of ${scope.name}.${path} must be 1 or -1.`, 'pass { field: 1 } or { field: -1 }.');
    if (metaSort && !textSearch) {
      throw invalid('INPUT_SORT', `The sort of ${scope.name} by { $meta: 'textScore' } (under ${path}) needs a text search: the filter (in a pipeline, its first $match stage) has no $text, so there is no score.`,
        "add { $text: { $search: '…' } } to the filter, or sort by a field.");
    }
    if (metaSort) continue;
    if (path.split('.').some((segment) => /^(\d+|\$.*)$/.test(segment))) throw invalid('INPUT_SORT', `The sort key ${scope.name}.${path} names an array element; sort keys are field paths.`, "sort by the field ('contacts.kind'), which MongoDB compares across the elements.");
    if (scope.holdsEncrypted(path)) {
      throw new EncryptedQueryError('QUERY_SORT_ON_ENCRYPTED', `The $sort key uses ${scope.name}.${path}, which is or holds encrypted values: ciphertext order says nothing about plaintext order.`, {
        fix: 'sort by plain fields, or sort in the application after reading (results are decrypted there).',
      });
    }
    scope.resolve(path, 'sort');
  }
}

function reaches(scope: Scope, path: string, where: string, why: string): EncryptedQueryError {
  return new EncryptedQueryError('QUERY_PIPELINE_ON_ENCRYPTED', `${where} uses ${scope.name}.${path}, which is or may hold encrypted values: ${why}, and the server only has ciphertext there.`, {
    fix: 'use plain fields here, or do this step in the application after reading (results are decrypted there).',
  });
}

function requireDocument(spec: unknown, where: string): Document {
  if (!isPlainObject(spec)) throw invalid('INPUT_PIPELINE_STAGE', `${where} needs a document.`, 'see the MongoDB manual for the stage\'s form.');
  return spec;
}

function asArray(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Options of a stage that are constants: they must not smuggle operators or field references. */
function checkLiterals(spec: Document, keys: string[], where: string): void {
  const visit = (v: unknown): void => {
    if (typeof v === 'string' && v.startsWith('$')) throw invalid('INPUT_PIPELINE_STAGE', `${where}: a constant option holds a field reference or an operator.`, 'pass constants there.');
    if (Array.isArray(v)) v.forEach(visit);
    else if (isPlainObject(v)) for (const [k, inner] of safeEntries(v, where)) { visit(k); visit(inner); }
  };
  for (const key of keys) visit(spec[key]);
}

/**
 * A find projection: $elemMatch conditions are analyzed like filters on the array's elements
 * (Deterministic operands encrypted so they can match), $slice is kept, $meta: 'textScore' too
 * when the filter is a text search (`textSearch`), and everything else follows the rules of a
 * $project stage.
 */
export function analyzeProjection(analysis: Analysis, scope: ModelScope, projection: unknown, textSearch: boolean): Document | undefined {
  if (projection === undefined) return undefined;
  const model = scope.shape;
  const where = `the projection on ${model.target.name}`;
  const spec = requireDocument(projection, where);
  const out: Document = {};
  const others: Document = {};
  for (const [path, value] of safeEntries(spec, where)) {
    const only = isPlainObject(value) && Object.keys(value).length === 1 ? Object.keys(value)[0] : undefined;
    if (only === '$elemMatch') {
      const field = scope.resolve(path, 'projection');
      if (!field.field?.isArray || field.encrypted) throw invalid('INPUT_PROJECTION', `$elemMatch in ${where} needs an array field of the model; ${path} is not one.`, 'use $elemMatch on an array field.');
      out[path] = { $elemMatch: elementCondition(analysis, scope, field.field, path, (value as Document).$elemMatch, '$elemMatch') };
    } else if (only === '$slice') {
      const slice = (value as Document).$slice;
      const numeric = typeof slice === 'number' || (Array.isArray(slice) && slice.length === 2 && slice.every((n) => typeof n === 'number'));
      if (!numeric) throw invalid('INPUT_PROJECTION', `$slice in ${where} takes a number or [skip, limit].`, 'write { field: { $slice: 5 } }.');
      scope.resolve(path, 'projection');
      out[path] = value;
    } else if (only === '$meta' && (value as Document).$meta === 'textScore') {
      if (!textSearch) {
        throw invalid('INPUT_PROJECTION', `${where} projects { $meta: 'textScore' } (under ${path}), which needs a text search: the filter has no $text, so there is no score.`,
          "add { $text: { $search: '…' } } to the filter, or leave the score out.");
      }
      out[path] = value;
    } else out[path] = others[path] = value;
  }
  projectFields({ analysis, model, scope, where, variables: NO_VARIABLES, textSearch: false }, others);
  return out;
}

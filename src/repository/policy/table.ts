/**
 * The query policy: one declarative table of what Strongbox lets reach the server, per operator,
 * stage or option, and per kind of field it touches. Every entry point (filters, updates,
 * arrayFilters, projections, sorts, pipelines, options) consults it; whatever is not listed is
 * refused before any traffic. docs/queries.md carries the same table, checked against this one
 * by a test.
 *
 * Kinds of field, by what the server holds there:
 * - plain:         the value itself;
 * - Deterministic: one ciphertext per value and key, so equality can be decided on it;
 * - Random:        a different ciphertext on every write: nothing can be decided on it;
 * - container:     an embedded document (or array of them) with encrypted fields inside;
 * - keyField:      a plain field whose value names the data key of other fields of the
 *                  same document (`keyAltName: '/field'`).
 */

export type PolicyKind = 'plain' | 'Deterministic' | 'Random' | 'container' | 'keyField';

/**
 * What happens to an operand:
 * - value / values: sent as written, after checking it is a value (an array of values), not an operator;
 * - encrypt / encryptEach: encrypted (each element of the array) with the field's algorithm and key;
 * - document / documents: a whole embedded document (each one) whose encrypted fields are encrypted;
 * - condition: a nested condition on the same field (`$not`);
 * - elementFilter: a filter on the array's elements (`$elemMatch`, `$pull` on documents);
 * - flag: a boolean, a number or a type name, carrying no value of the field;
 * - refuse: refused, with the reason in the row.
 */
export type Treatment = 'value' | 'values' | 'encrypt' | 'encryptEach' | 'document' | 'documents' | 'condition' | 'elementFilter' | 'flag' | 'refuse';

export interface PolicyRow {
  plain: Treatment;
  Deterministic: Treatment;
  Random: Treatment;
  container: Treatment;
  keyField: Treatment;
  /** Why the refusals of this row exist: the sentence the error carries. */
  reason: string;
}

const row = (plain: Treatment, Deterministic: Treatment, Random: Treatment, container: Treatment, reason: string, keyField: Treatment = plain): PolicyRow =>
  ({ plain, Deterministic, Random, container, keyField, reason });

const ORDER = 'ciphertext order says nothing about plaintext order';
const PATTERN = 'a pattern or a computation cannot be evaluated on ciphertext';
const RANDOM = 'Random ciphertext differs on every write, so nothing can be compared with it';

/** Conditions on a field: `{ field: { <operator>: operand } }`. */
export const FILTER_OPERATORS: Readonly<Record<string, PolicyRow>> = {
  $eq: row('value', 'encrypt', 'refuse', 'document', RANDOM),
  $ne: row('value', 'encrypt', 'refuse', 'document', RANDOM),
  $in: row('values', 'encryptEach', 'refuse', 'documents', RANDOM),
  $nin: row('values', 'encryptEach', 'refuse', 'documents', RANDOM),
  $exists: row('flag', 'flag', 'refuse', 'flag', 'Random fields are not queryable in any form'),
  $gt: row('value', 'refuse', 'refuse', 'refuse', ORDER),
  $gte: row('value', 'refuse', 'refuse', 'refuse', ORDER),
  $lt: row('value', 'refuse', 'refuse', 'refuse', ORDER),
  $lte: row('value', 'refuse', 'refuse', 'refuse', ORDER),
  $regex: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $options: row('flag', 'refuse', 'refuse', 'refuse', PATTERN),
  $not: row('condition', 'refuse', 'refuse', 'refuse', '$not of an equality on ciphertext is not offered: use $ne / $nin'),
  $type: row('flag', 'refuse', 'refuse', 'flag', 'the server sees only binary data (BSON binData subtype 6) in an encrypted field'),
  $size: row('flag', 'refuse', 'refuse', 'flag', 'an encrypted array is one ciphertext'),
  $all: row('values', 'refuse', 'refuse', 'documents', 'an encrypted array is one ciphertext'),
  $elemMatch: row('elementFilter', 'refuse', 'refuse', 'elementFilter', 'an encrypted array is one ciphertext'),
  $mod: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $bitsAllSet: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $bitsAnySet: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $bitsAllClear: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $bitsAnyClear: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $geoWithin: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $geoIntersects: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $near: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $nearSphere: row('value', 'refuse', 'refuse', 'refuse', PATTERN),
  $maxDistance: row('flag', 'refuse', 'refuse', 'refuse', PATTERN),
  $minDistance: row('flag', 'refuse', 'refuse', 'refuse', PATTERN),
};

/** Implicit equality `{ field: value }` (a value that is not an operator object). */
export const IMPLICIT_EQUALITY: PolicyRow = row('value', 'encrypt', 'refuse', 'document', RANDOM);

/** Operators at the top of a filter (or of an $elemMatch / $pull condition on documents). */
export const FILTER_TOP_LEVEL: Readonly<Record<string, 'filters' | 'text' | 'comment' | 'expression' | 'refuse'>> = {
  $and: 'filters',
  $or: 'filters',
  $nor: 'filters',
  $text: 'text',
  $comment: 'comment',
  /** Aggregation expressions inside a filter: allowed only on models without encrypted fields. */
  $expr: 'expression',
  $where: 'refuse',
  $jsonSchema: 'refuse',
};

/** Update operators: `{ <operator>: { path: operand } }`. */
export const UPDATE_OPERATORS: Readonly<Record<string, PolicyRow>> = {
  $set: row('value', 'encrypt', 'encrypt', 'document', '', 'refuse'),
  $setOnInsert: row('value', 'encrypt', 'encrypt', 'document', '', 'refuse'),
  $unset: row('flag', 'flag', 'flag', 'flag', '', 'refuse'),
  $inc: row('value', 'refuse', 'refuse', 'refuse', 'the server cannot compute on ciphertext', 'refuse'),
  $mul: row('value', 'refuse', 'refuse', 'refuse', 'the server cannot compute on ciphertext', 'refuse'),
  $min: row('value', 'refuse', 'refuse', 'refuse', 'the server cannot compare ciphertexts by order', 'refuse'),
  $max: row('value', 'refuse', 'refuse', 'refuse', 'the server cannot compare ciphertexts by order', 'refuse'),
  $currentDate: row('flag', 'refuse', 'refuse', 'refuse', 'the server would write a plaintext date', 'refuse'),
  $bit: row('value', 'refuse', 'refuse', 'refuse', 'the server cannot compute on ciphertext', 'refuse'),
  $push: row('values', 'refuse', 'refuse', 'documents', 'an encrypted array is one ciphertext', 'refuse'),
  $addToSet: row('values', 'refuse', 'refuse', 'documents', 'an encrypted array is one ciphertext', 'refuse'),
  $pull: row('condition', 'refuse', 'refuse', 'elementFilter', 'an encrypted array is one ciphertext', 'refuse'),
  $pullAll: row('values', 'refuse', 'refuse', 'refuse', 'whole elements holding encrypted fields cannot be compared', 'refuse'),
  $pop: row('flag', 'refuse', 'refuse', 'flag', 'an encrypted array is one ciphertext', 'refuse'),
  $rename: row('flag', 'refuse', 'refuse', 'refuse', 'encrypted values are bound to their path by the schema and key pointers', 'refuse'),
};

/**
 * Aggregation stages. `tracked` stages are followed through the pipeline: Strongbox knows after
 * them which output paths hold ciphertext, of which kind and key. `refuse` stages write without
 * encryption or reach outside what a repository can check.
 */
export const PIPELINE_STAGES: Readonly<Record<string, 'tracked' | 'refuse'>> = {
  $match: 'tracked', $project: 'tracked', $addFields: 'tracked', $set: 'tracked', $unset: 'tracked',
  $replaceRoot: 'tracked', $replaceWith: 'tracked', $group: 'tracked', $sort: 'tracked', $limit: 'tracked',
  $skip: 'tracked', $count: 'tracked', $unwind: 'tracked', $lookup: 'tracked', $facet: 'tracked',
  $sortByCount: 'tracked', $bucket: 'tracked', $bucketAuto: 'tracked', $sample: 'tracked',
  $setWindowFields: 'tracked', $fill: 'tracked', $densify: 'tracked', $redact: 'tracked', $geoNear: 'tracked',
  $unionWith: 'tracked',
  $out: 'refuse', $merge: 'refuse', $graphLookup: 'refuse', $documents: 'refuse', $collStats: 'refuse',
  $indexStats: 'refuse', $planCacheStats: 'refuse', $currentOp: 'refuse', $listSessions: 'refuse',
  $search: 'refuse', $searchMeta: 'refuse', $vectorSearch: 'refuse', $changeStream: 'refuse',
};

/**
 * Stages a change-stream pipeline may hold (MongoDB manual, "Modify Change Stream Output"); each is
 * then analyzed as in an aggregation, against the shape of a change event. Others are refused.
 */
export const CHANGE_STREAM_STAGES: ReadonlySet<string> = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact']);

/** $group / $bucket / $setWindowFields accumulators that only move a stored value (ciphertext stays ciphertext). */
export const MOVING_ACCUMULATORS: Readonly<Record<string, 'same' | 'collection'>> = {
  $first: 'same', $last: 'same',
  $push: 'collection', $addToSet: 'collection', $top: 'collection', $bottom: 'collection',
  $firstN: 'collection', $lastN: 'collection', $topN: 'collection', $bottomN: 'collection',
};

/**
 * Aggregation expression operators Strongbox knows (MongoDB manual, "Aggregation Operators").
 * Their arguments are checked as expressions: no reference to an encrypted (or possibly
 * encrypted) path may appear inside any of them. Operators not listed are refused.
 */
export const EXPRESSION_OPERATOR_NAMES = [
  // arithmetic
  '$abs', '$add', '$ceil', '$divide', '$exp', '$floor', '$ln', '$log', '$log10', '$mod', '$multiply', '$pow', '$round', '$sqrt', '$subtract', '$trunc',
  // array
  '$arrayElemAt', '$arrayToObject', '$concatArrays', '$filter', '$first', '$firstN', '$in', '$indexOfArray', '$isArray', '$last', '$lastN', '$map',
  '$maxN', '$minN', '$objectToArray', '$range', '$reduce', '$reverseArray', '$size', '$slice', '$sortArray', '$zip',
  // boolean, comparison, conditional
  '$and', '$not', '$or', '$cmp', '$eq', '$gt', '$gte', '$lt', '$lte', '$ne', '$cond', '$ifNull', '$switch',
  // date
  '$dateAdd', '$dateDiff', '$dateFromParts', '$dateFromString', '$dateSubtract', '$dateToParts', '$dateToString', '$dateTrunc', '$dayOfMonth',
  '$dayOfWeek', '$dayOfYear', '$hour', '$isoDayOfWeek', '$isoWeek', '$isoWeekYear', '$millisecond', '$minute', '$month', '$second', '$toDate',
  '$week', '$year',
  // literal, object, set, variables
  '$literal', '$mergeObjects', '$getField', '$setField', '$unsetField', '$let',
  '$allElementsTrue', '$anyElementTrue', '$setDifference', '$setEquals', '$setIntersection', '$setIsSubset', '$setUnion',
  // string
  '$concat', '$indexOfBytes', '$indexOfCP', '$ltrim', '$regexFind', '$regexFindAll', '$regexMatch', '$replaceOne', '$replaceAll', '$rtrim',
  '$split', '$strLenBytes', '$strLenCP', '$strcasecmp', '$substr', '$substrBytes', '$substrCP', '$toLower', '$toString', '$trim', '$toUpper',
  // trigonometry, type
  '$sin', '$cos', '$tan', '$asin', '$acos', '$atan', '$atan2', '$asinh', '$acosh', '$atanh', '$sinh', '$cosh', '$tanh', '$degreesToRadians',
  '$radiansToDegrees', '$convert', '$isNumber', '$toBool', '$toDecimal', '$toDouble', '$toInt', '$toLong', '$toObjectId', '$type',
  // accumulators (in $group, $bucket, $setWindowFields, and as array expressions)
  '$avg', '$max', '$min', '$sum', '$stdDevPop', '$stdDevSamp', '$push', '$addToSet', '$count', '$top', '$bottom', '$topN', '$bottomN',
  '$median', '$percentile', '$mergeObjects',
  // window functions
  '$covariancePop', '$covarianceSamp', '$denseRank', '$derivative', '$documentNumber', '$expMovingAvg', '$integral', '$linearFill', '$locf',
  '$rank', '$shift',
  // misc
  '$meta', '$rand', '$sampleRate', '$tsIncrement', '$tsSecond', '$binarySize', '$bsonSize',
] as const;

/** EXPRESSION_OPERATOR_NAMES as a set; the names stay a literal list so the aggregation types accept exactly these. */
export const EXPRESSION_OPERATORS: ReadonlySet<string> = new Set(EXPRESSION_OPERATOR_NAMES);

/** Expression operators refused on models with encrypted fields: server-side JavaScript sees whatever it is given. */
export const SERVER_JAVASCRIPT: ReadonlySet<string> = new Set(['$function', '$accumulator', '$where']);

/** System variables an expression may name; `$$ROOT` and `$$CURRENT` only while they hold no ciphertext. */
export const SYSTEM_VARIABLES: ReadonlySet<string> = new Set(['NOW', 'CLUSTER_TIME', 'REMOVE', 'ROOT', 'CURRENT', 'DESCEND', 'PRUNE', 'KEEP']);

/**
 * Options each entry point accepts, and what they may carry. Options not listed are refused:
 * `min`/`max` index bounds, for example, would send values in the clear. `let` variables are
 * only offered to aggregations: elsewhere only `$expr`, refused on models with encrypted fields,
 * could use them.
 */
export type OptionTreatment = 'session' | 'number' | 'boolean' | 'comment' | 'collation' | 'hint' | 'let' | 'arrayFilters' | 'typed';

export const OPTIONS: Readonly<Record<string, Readonly<Record<string, OptionTreatment>>>> = {
  find: { session: 'session', projection: 'typed', sort: 'typed', skip: 'number', limit: 'number', batchSize: 'number', comment: 'comment', collation: 'collation', hint: 'hint', maxTimeMS: 'number' },
  count: { session: 'session', limit: 'number', skip: 'number', comment: 'comment', collation: 'collation', hint: 'hint', maxTimeMS: 'number' },
  update: { session: 'session', upsert: 'boolean', arrayFilters: 'arrayFilters', comment: 'comment', collation: 'collation', hint: 'hint' },
  replace: { session: 'session', upsert: 'boolean', comment: 'comment', collation: 'collation', hint: 'hint' },
  delete: { session: 'session', comment: 'comment', collation: 'collation', hint: 'hint' },
  findOneAnd: { session: 'session', upsert: 'boolean', sort: 'typed', projection: 'typed', returnDocument: 'typed', arrayFilters: 'arrayFilters', comment: 'comment', collation: 'collation', hint: 'hint', maxTimeMS: 'number' },
  aggregate: { session: 'session', batchSize: 'number', allowDiskUse: 'boolean', comment: 'comment', collation: 'collation', hint: 'hint', let: 'let', maxTimeMS: 'number' },
  insert: { session: 'session', comment: 'comment' },
  distinct: { session: 'session', comment: 'comment', collation: 'collation', hint: 'hint', maxTimeMS: 'number' },
  estimatedCount: { comment: 'comment', maxTimeMS: 'number' },
  populate: { session: 'session' },
  paginate: { session: 'session', sort: 'typed', limit: 'number', after: 'typed', before: 'typed', projection: 'typed', comment: 'comment', hint: 'hint', maxTimeMS: 'number' },
  watch: { session: 'session', fullDocument: 'typed', fullDocumentBeforeChange: 'typed', resumeAfter: 'typed', startAfter: 'typed', startAtOperationTime: 'typed', batchSize: 'number', maxAwaitTimeMS: 'number' },
  bulkWrite: { session: 'session', ordered: 'boolean', comment: 'comment' },
  save: { session: 'session' },
  remove: { session: 'session' },
};

/**
 * Collation settings (MongoDB manual, "Collation Document"): each a plain setting, none a value of
 * a field, with what it may be. A locale is an ICU locale name, checked by its characters only:
 * the server says which locales it knows.
 */
export const COLLATION_SETTINGS: Readonly<Record<string, { readonly fits: (value: unknown) => boolean; readonly takes: string }>> = {
  locale: { fits: (v) => typeof v === 'string' && /^[A-Za-z0-9_@=-]{1,64}$/.test(v), takes: "an ICU locale name such as 'en', 'fr_CA', 'de@collation=phonebook' or 'simple' (up to 64 characters)" },
  caseLevel: { fits: isBoolean, takes: 'true or false' },
  caseFirst: { fits: (v) => v === 'upper' || v === 'lower' || v === 'off', takes: "'upper', 'lower' or 'off'" },
  strength: { fits: (v) => v === 1 || v === 2 || v === 3 || v === 4 || v === 5, takes: '1, 2, 3, 4 or 5' },
  numericOrdering: { fits: isBoolean, takes: 'true or false' },
  alternate: { fits: (v) => v === 'non-ignorable' || v === 'shifted', takes: "'non-ignorable' or 'shifted'" },
  maxVariable: { fits: (v) => v === 'punct' || v === 'space', takes: "'punct' or 'space'" },
  backwards: { fits: isBoolean, takes: 'true or false' },
  normalization: { fits: isBoolean, takes: 'true or false' },
};

function isBoolean(value: unknown): boolean {
  return typeof value === 'boolean';
}

/**
 * A grammar of hostile repository calls on the fail-closed model (see failClosedModel.ts).
 *
 * An input is drawn as a list of numbers ("picks") and built deterministically from them, so
 * fast-check shrinks the picks toward 0 and a counterexample shrinks toward the first (simplest)
 * alternative of every choice. Secrets (SECRET_MARK strings, SECRET_INT_RANGE integers) are placed
 * only where a value of an encrypted field belongs — compared with, written to or computed from an
 * encrypted path, including paths a pipeline stage renamed or copied it to — and plain values
 * everywhere else, so any secret the server receives is a leak.
 */
import fc from 'fast-check';
import { ENCRYPTED_PATHS, CONTAINER_PATHS, PLAIN_PATHS, type SecretKind } from './failClosedModel';
import { SECRET_INT_RANGE, secretString } from './leakDetector';

type Doc = Record<string, unknown>;
type Kind = SecretKind | 'plain';

export type Entry =
  | 'find' | 'findOne' | 'count' | 'exists' | 'updateOne' | 'updateMany' | 'upsert' | 'replaceOne' | 'deleteOne' | 'deleteMany'
  | 'findOneAndUpdate' | 'findOneAndReplace' | 'findOneAndDelete' | 'bulkWrite' | 'aggregate' | 'insertOne' | 'distinct' | 'paginate' | 'watch';

/** One repository call: the method and its arguments, exactly as passed. */
export interface Call { entry: Entry; args: unknown[] }

/** Deterministic choices from the drawn numbers; exhausted picks choose the first alternative. */
class Chooser {
  private i = 0;
  private secrets = 0;
  constructor(private readonly picks: number[], private readonly base: number, private readonly intBase: number) {}
  next(n: number): number { const p = this.picks[this.i++] ?? 0; return p % n; }
  one<T>(options: readonly T[]): T { return options[this.next(options.length)]; }
  flip(): boolean { return this.next(2) === 1; }
  s(): string { return secretString(this.base + this.secrets++); }
  n(): number { return this.intBase + this.secrets++; }
}

/** A value of the given kind with secrets wherever the model encrypts. */
function secretOf(c: Chooser, kind: Kind): unknown {
  switch (kind) {
    case 'plain': return c.one(['pub', 'home', 7, ['x']]);
    case 'string': return c.s();
    case 'int': return c.n();
    case 'address': return { street: 'Main', city: 'Town', zip: c.s() };
    case 'contact': return { kind: 'home', phone: c.s(), note: c.s() };
    case 'contacts': return [secretOf(c, 'contact')];
    case 'medical': return { bloodType: c.s(), allergies: [c.s()] };
  }
}

/** A secret of the right kind, or of a wrong shape (wrong type, array, object, operator-shaped). */
function hostileSecret(c: Chooser, kind: Kind): unknown {
  if (kind === 'plain') return secretOf(c, kind);
  switch (c.next(8)) {
    case 0: case 1: case 2: return secretOf(c, kind);
    case 3: return c.s();
    case 4: return c.n();
    case 5: return [secretOf(c, kind)];
    case 6: return { x: secretOf(c, kind) };
    default: return { $ne: secretOf(c, kind) };
  }
}

/** The shape of the documents at some point of a pipeline: which paths hold what. */
type Shape = Map<string, Kind>;
const modelShape = (): Shape => new Map<string, Kind>([...ENCRYPTED_PATHS, ...CONTAINER_PATHS, ...PLAIN_PATHS.map((p) => [p, 'plain'] as [string, Kind])]);
const MODEL = modelShape();
/** Filter paths beyond the declared ones: array indexes and positional forms. */
const EXTRA_FILTER_PATHS: Array<[string, Kind]> = [['contacts.0.phone', 'string'], ['contacts.1.note', 'string'], ['medical.allergies.0', 'string'], ['contacts.0', 'contact']];

function pathOf(c: Chooser, shape: Shape, encryptedOnly = false): [string, Kind] {
  const all = [...shape.entries()].filter(([, k]) => !encryptedOnly || k !== 'plain');
  if (all.length === 0) return ['name', 'plain'];
  // Encrypted paths first: shrinking lands on them.
  all.sort(([, a], [, b]) => Number(a === 'plain') - Number(b === 'plain'));
  return c.one(all);
}

// ---------------------------------------------------------------------------------------------
// Expressions

/** Expressions that evaluate to (or reach) an encrypted value of the model. */
const MODEL_REFS: Array<[unknown, Kind]> = [
  ['$phone', 'string'], ['$$ROOT.phone', 'string'], ['$$CURRENT.phone', 'string'], [{ $getField: 'phone' }, 'string'],
  [{ $getField: { field: 'ssn', input: '$$ROOT' } }, 'string'], [{ $getField: { field: 'zip', input: '$address' } }, 'string'],
  [{ $let: { vars: { r: '$$ROOT' }, in: '$$r.phone' } }, 'string'], [{ $let: { vars: { p: '$ssn' }, in: '$$p' } }, 'string'],
  ['$address.zip', 'string'], ['$$ROOT.address.zip', 'string'], ['$contacts.phone', 'string'], ['$ssn', 'string'], ['$vault', 'string'],
  ['$pin', 'int'], ['$$ROOT.pin', 'int'], ['$medical.bloodType', 'string'], ['$medical', 'medical'],
  [{ $arrayElemAt: ['$contacts.phone', 0] }, 'string'], [{ $first: '$contacts.note' }, 'string'], [{ $toString: '$pin' }, 'string'],
  [{ $ifNull: ['$phone', 'none'] }, 'string'], [{ $map: { input: '$contacts', in: '$$this.phone' } }, 'string'],
  [{ $map: { input: '$contacts', as: 'k', in: '$$k.note' } }, 'string'],
  [{ $reduce: { input: '$contacts', initialValue: '', in: { $concat: ['$$value', '$$this.phone'] } } }, 'string'],
  [{ $getField: { field: 'phone', input: { $arrayElemAt: ['$contacts', 0] } } }, 'string'], ['$$ROOT', 'medical'], ['$address', 'address'],
];

/** A reference to an encrypted value in the current shape (model references, or a renamed path). */
function encRef(c: Chooser, shape: Shape): [unknown, Kind] {
  const renamed = [...shape.entries()].filter(([p, k]) => k !== 'plain' && !MODEL.has(p));
  if (renamed.length && c.flip()) { const [p, k] = c.one(renamed); return [c.flip() ? `$${p}` : `$$ROOT.${p}`, k]; }
  // A model reference reaches an encrypted value only while the current documents still hold the field it names.
  const live = MODEL_REFS.filter(([ref]) => referencedFields(ref).some((f) => { const k = shape.get(f); return k !== undefined && k !== 'plain'; }));
  if (live.length) return c.one(live);
  if (renamed.length) { const [p, k] = c.one(renamed); return [`$${p}`, k]; }
  return ['$name', 'plain'];
}

/** The model fields an expression names, directly or through $$ROOT / $getField; '$$ROOT' alone names every field. */
function referencedFields(ref: unknown): string[] {
  const text = JSON.stringify(ref);
  if (/"\$\$(ROOT|CURRENT)"/.test(text)) return [...MODEL.keys()];
  const roots = new Set<string>();
  for (const m of text.matchAll(/"\$(?:\$ROOT\.|\$CURRENT\.)?([A-Za-z]+(?:\.[A-Za-z]+)*)"/g)) roots.add(m[1]);
  for (const m of text.matchAll(/"(?:\$getField|field)":"([A-Za-z]+)"/g)) roots.add(m[1]);
  return [...MODEL.keys()].filter((f) => [...roots].some((r) => r === f || r.startsWith(`${f}.`) || f.startsWith(`${r}.`)));
}

/** An expression in which a secret meets an encrypted value. */
function secretExpr(c: Chooser, shape: Shape): unknown {
  // Once no encrypted value is left in the documents (after $count, say), no literal meets one.
  if (![...shape.values()].some((k) => k !== 'plain')) return { $eq: ['$name', 'pub'] };
  const [ref, kind] = encRef(c, shape);
  const s = () => secretOf(c, kind);
  const holds = (field: string) => { const k = shape.get(field); return k !== undefined && k !== 'plain'; };
  let choice = c.next(18);
  // Forms that name model fields directly fall back to the reference form when those fields are gone.
  if (((choice === 9 || choice === 10) && !holds('contacts')) || ((choice === 5 || choice >= 17) && !(holds('phone') && holds('ssn') && holds('pin')))) choice = 0;
  switch (choice) {
    case 0: return { [c.one(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$cmp'])]: c.flip() ? [ref, s()] : [s(), ref] };
    case 1: return { $in: [s(), ref] };
    case 2: return { $in: [ref, [s(), s()]] };
    case 3: return { $eq: [{ $concat: [ref, s()] }, 'x'] };
    case 4: return { $regexMatch: { input: ref, regex: c.s() } };
    case 5: return { $eq: [{ $setField: { field: 'phone', input: '$$ROOT', value: c.s() } }, '$$ROOT'] };
    case 6: return { $function: { body: 'function(a, b) { return a === b; }', args: [ref, s()], lang: 'js' } };
    case 7: return { $cond: [{ $eq: [ref, s()] }, 1, 0] };
    case 8: return { $switch: { branches: [{ case: { $eq: [ref, s()] }, then: true }], default: false } };
    case 9: return { $gt: [{ $size: { $filter: { input: '$contacts', cond: { $eq: [c.one(['$$this.phone', '$$this.note']), c.s()] } } } }, 0] };
    case 10: return { $anyElementTrue: [{ $map: { input: '$contacts', in: { $eq: ['$$this.note', c.s()] } } }] };
    case 11: return { $strcasecmp: [ref, s()] };
    case 12: return { $eq: [{ $literal: s() }, ref] };
    case 13: return { $zzUnknownOperator: [ref, s()] };
    case 14: return { $let: { vars: { v: s() }, in: { $eq: [ref, '$$v'] } } };
    case 15: return { $and: [{ $eq: ['$name', 'pub'] }, secretExpr(c, shape)] };
    case 16: return { $indexOfBytes: [ref, c.s()] };
    default: return { $eq: [{ $getField: { field: c.one(['phone', 'ssn', 'pin']), input: '$$CURRENT' } }, s()] };
  }
}

// ---------------------------------------------------------------------------------------------
// Filters

function condition(c: Chooser, kind: Kind): unknown {
  const v = () => hostileSecret(c, kind);
  // Secrets go only where an encrypted value lies; on a plain path every form compares plain values.
  const s = () => (kind === 'plain' ? 'pub' : c.s());
  const n = () => (kind === 'plain' ? 7 : c.n());
  switch (c.next(20)) {
    case 0: return v();
    case 1: return { $eq: v() };
    case 2: return { $ne: v() };
    case 3: return { $in: [v(), v()] };
    case 4: return { $nin: [v()] };
    case 5: return { [c.one(['$gt', '$gte', '$lt', '$lte'])]: v() };
    case 6: return { $all: [v()] };
    case 7: return { $not: { $eq: v() } };
    case 8: return { $regex: s() };
    case 9: return { $elemMatch: { $eq: v() } };
    case 10: return { $exists: true };
    case 11: return { $type: 'binData' };
    case 12: return { $mod: [n(), 0] };
    case 13: return { $bitsAllSet: n() };
    case 14: return { $zzUnknown: v() };
    case 15: return { $in: [{ $gt: v() }] };
    case 16: return { $eq: [v()] };
    case 17: return { $not: new RegExp(s().replace(/[^\w]/g, '')) };
    case 18: return { $in: [new RegExp(s().replace(/[^\w]/g, ''))] };
    default: return { $size: 1 };
  }
}

function plainCondition(c: Chooser, path: string): Doc {
  const value = path === 'age' ? c.one([30, { $gte: 1 }, { $in: [1, 2] }]) : c.one(['pub', { $regex: '^p' }, { $gt: 'a' }, { $in: ['x', 'y'] }, { $exists: true }]);
  return { [path]: value };
}

function leafFilter(c: Chooser, shape: Shape): Doc {
  // After a reshaping stage only paths of the current documents are compared with secrets.
  const reshaped = shape !== MODEL && !(shape.has('contacts.phone') && shape.has('address.zip') && shape.has('medical'));
  const pick = c.next(14);
  if (reshaped && ![0, 1, 2, 3, 8, 11, 12].includes(pick)) return plainCondition(c, 'name');
  switch (pick) {
    case 0: case 1: case 2: case 3: { const [path, kind] = pathOf(c, shape, true); return { [path]: condition(c, kind) }; }
    case 4: { const [path, kind] = c.one(EXTRA_FILTER_PATHS); return { [path]: condition(c, kind) }; }
    case 5: return { contacts: { $elemMatch: c.one([{ phone: condition(c, 'string') }, { kind: 'home', note: c.s() }, { $or: [{ phone: c.s() }, { kind: 'x' }] }, { phone: { $in: [c.s()] } }]) } };
    case 6: return { contacts: c.one([{ $all: [{ $elemMatch: { phone: c.s() } }] }, { $all: [secretOf(c, 'contact')] }, secretOf(c, 'contacts'), { $in: [secretOf(c, 'contact')] }]) };
    case 7: return { address: c.one([secretOf(c, 'address'), { $eq: secretOf(c, 'address') }, { $in: [secretOf(c, 'address')] }]) };
    case 8: return { $expr: secretExpr(c, shape) };
    case 9: return { $where: c.one([`this.phone == '${c.s()}'`, `function() { return this.ssn === '${c.s()}'; }`]) };
    // $text is not bound to a field, so its search string is a plain value here.
    case 10: return c.one([{ $jsonSchema: { properties: { phone: { enum: [c.s()] } } } }, { $text: { $search: 'pub' } }, { $zzUnknownTop: { phone: c.s() } }]);
    case 11: { const [path] = pathOf(c, shape); return shape.get(path) === 'plain' ? plainCondition(c, path) : { [path]: condition(c, shape.get(path)!) }; }
    case 12: return plainCondition(c, c.one(['name', 'age', 'customerId', 'tags']));
    default: return { medical: c.one([secretOf(c, 'medical'), { bloodType: c.s(), allergies: [] }]) };
  }
}

function filterOf(c: Chooser, shape: Shape = MODEL, depth = 2): Doc {
  if (depth === 0) return leafFilter(c, shape);
  switch (c.next(6)) {
    case 0: case 1: return leafFilter(c, shape);
    case 2: return { ...leafFilter(c, shape), ...leafFilter(c, shape) };
    case 3: return { [c.one(['$and', '$or', '$nor'])]: [filterOf(c, shape, depth - 1), filterOf(c, shape, depth - 1)] };
    case 4: return { $and: [plainCondition(c, 'name'), filterOf(c, shape, depth - 1)] };
    default: return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Updates and arrayFilters

/** Update targets: [path, the kind of value written there]. */
const SET_TARGETS: Array<[string, Kind]> = [
  ['phone', 'string'], ['pin', 'int'], ['ssn', 'string'], ['vault', 'string'], ['address.zip', 'string'], ['address', 'address'],
  ['contacts', 'contacts'], ['contacts.0.phone', 'string'], ['contacts.$.phone', 'string'], ['contacts.$[].phone', 'string'],
  ['contacts.$[c].phone', 'string'], ['contacts.$[c].note', 'string'], ['contacts.$[c]', 'contact'], ['contacts.$[]', 'contact'],
  ['contacts.1', 'contact'], ['medical', 'medical'], ['medical.bloodType', 'string'], ['medical.allergies', 'contacts'],
  ['medical.allergies.$[a]', 'string'], ['phone.x', 'string'], ['address.zip.deep', 'string'], ['pin.0', 'int'],
];
const PLAIN_TARGETS = ['name', 'age', 'tags', 'contacts.$[c].kind', 'address.city', 'customerId', 'tags.$[c]'];

function updateOperator(c: Chooser): Doc {
  const target = (): [string, unknown] => { const [p, k] = c.one(SET_TARGETS); return [p, hostileSecret(c, k)]; };
  const plain = (): [string, unknown] => { const p = c.one(PLAIN_TARGETS); return [p, p === 'age' ? 5 : 'w']; };
  const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, () => (c.next(4) === 0 ? plain() : target())));
  switch (c.next(16)) {
    case 0: case 1: return { $set: fields(1 + c.next(2)) };
    case 2: return { $setOnInsert: fields(1 + c.next(2)) };
    case 3: return { $unset: { [c.one(SET_TARGETS)[0]]: '' } };
    case 4: return { [c.one(['$inc', '$mul'])]: { [c.one(['pin', 'contacts.$[].phone', 'address.zip', 'medical.allergies'])]: c.n() } };
    case 5: return { [c.one(['$min', '$max'])]: c.one([{ pin: c.n() }, { phone: c.s() }, { address: secretOf(c, 'address') }, { 'contacts.$[c].phone': c.s() }]) };
    case 6: return { $push: c.one([{ contacts: secretOf(c, 'contact') }, { contacts: { $each: [secretOf(c, 'contact')], $slice: 2, $sort: { phone: 1 }, $position: 0 } }, { 'medical.allergies': c.s() }, { contacts: { $each: [secretOf(c, 'contact')], $sort: { kind: 1 } } }]) };
    case 7: return { $addToSet: c.one([{ contacts: secretOf(c, 'contact') }, { contacts: { $each: [secretOf(c, 'contact')] } }, { 'medical.allergies': c.s() }]) };
    case 8: return { $pull: c.one([{ contacts: { phone: c.s() } }, { contacts: { phone: { $in: [c.s()] } } }, { contacts: { note: c.s() } }, { contacts: secretOf(c, 'contact') }, { 'medical.allergies': c.s() }, { contacts: { $or: [{ phone: c.s() }] } }, { contacts: { kind: 'home', phone: { $ne: c.s() } } }]) };
    case 9: return { $pullAll: c.one([{ contacts: [secretOf(c, 'contact')] }, { 'medical.allergies': [c.s()] }]) };
    case 10: return { $rename: c.one([{ customerId: 'cid2' }, { name: 'customerId' }, { phone: 'name' }, { 'address.zip': 'zip2' }, { ssn: 'vault' }]) };
    case 11: return { $currentDate: { [c.one(['phone', 'ssn', 'medical.bloodType'])]: true } };
    case 12: return { $bit: { pin: { [c.one(['and', 'or', 'xor'])]: c.n() } } };
    case 13: return { $zzUnknownUpdate: { phone: c.s() } };
    case 14: return { $set: { name: 'w' }, $setOnInsert: { customerId: c.one(['mallory', 'alice']), vault: c.s() } };
    default: return { $set: { customerId: 'mallory', vault: c.s() } };
  }
}

function updateOf(c: Chooser): unknown {
  switch (c.next(8)) {
    case 0: case 1: case 2: case 3: return updateOperator(c);
    case 4: return { ...updateOperator(c), ...updateOperator(c) };
    case 5: return [pipelineStage(c, modelShape(), 1, true)];
    case 6: return { phone: c.s(), name: 'replaced' };
    default: return [{ $set: { [c.one(['phone', 'address.zip', 'pin'])]: hostileSecret(c, 'string') } }, { $unset: 'ssn' }];
  }
}

function arrayFilter(c: Chooser): Doc {
  switch (c.next(11)) {
    case 0: return { 'c.phone': condition(c, 'string') };
    case 1: return { c: { kind: 'home', phone: c.s() } };
    case 2: return { c: c.one([secretOf(c, 'contact'), { $eq: secretOf(c, 'contact') }, { $in: [secretOf(c, 'contact')] }]) };
    case 3: return { 'c.note': c.s() };
    case 4: return { $or: [{ 'c.phone': c.s() }, { 'c.kind': 'x' }] };
    case 5: return { a: c.one([c.s(), { $in: [c.s()] }, { $eq: c.s() }]) };
    case 6: return { 'c.phone': { $in: [c.s()] }, 'c.kind': 'home' };
    case 7: return { c: { $elemMatch: { phone: c.s() } } };
    case 8: return { c: { phone: { $eq: c.s() } } };
    case 9: return { 'a.x': c.s() };
    default: return { 'c.kind': 'home' };
  }
}

/** Updates built around array identifiers, including one identifier used on two arrays. */
function arrayFilterUpdate(c: Chooser): [unknown, Doc[]] {
  const update = c.one<Doc>([
    { $set: { 'contacts.$[c].kind': 'w' } },
    { $set: { 'contacts.$[c].note': c.s() } },
    { $set: { 'contacts.$[c].kind': 'w', 'tags.$[c]': 'x' } },
    { $set: { 'tags.$[c]': 'x', 'contacts.$[c].phone': c.s() } },
    { $set: { 'medical.allergies.$[a]': c.s() } },
    { $unset: { 'contacts.$[c].note': '' } },
    { $set: { 'contacts.$[c]': secretOf(c, 'contact') } },
    { $pull: { 'contacts.$[c].phone': c.s() } },
  ]);
  return [update, Array.from({ length: 1 + c.next(2) }, () => arrayFilter(c))];
}

// ---------------------------------------------------------------------------------------------
// Projections, sort, options

function projectionOf(c: Chooser): Doc {
  switch (c.next(14)) {
    case 0: return { phone: 1, name: 1 };
    case 1: return { contacts: { $elemMatch: c.one([{ phone: c.s() }, { phone: { $in: [c.s()] }, kind: 'home' }, { note: c.s() }]) } };
    case 2: return { contacts: { $slice: c.one([1, -1, [0, 1]]) } };
    case 3: return { 'contacts.$': 1 };
    case 4: return { x: secretExpr(c, MODEL) };
    case 5: return { y: c.one(['$$ROOT.phone', '$phone', '$$CURRENT.ssn', '$$ROOT', { $getField: 'ssn' }]) };
    case 6: return { [c.one(['phone', 'address.zip', 'pin', 'ssn'])]: c.one([{ $literal: c.s() }, c.s(), { $literal: c.n() }]) };
    case 7: return { name: { $concat: ['$phone', c.s()] } };
    case 8: return { phone: 0, ssn: 0 };
    case 9: return { medical: { $literal: secretOf(c, 'medical') } };
    case 10: return { contacts: { $elemMatch: { $expr: secretExpr(c, MODEL) } } };
    case 11: return { z: { $function: { body: 'function(p) { return p; }', args: ['$phone', c.s()], lang: 'js' } } };
    case 12: return { 'contacts.phone': { $slice: 1 } };
    default: return { name: 1 };
  }
}

const sortOf = (c: Chooser): Doc => c.one<Doc>([{ name: 1 }, { phone: 1 }, { pin: -1 }, { 'contacts.phone': 1 }, { medical: 1 }, { $natural: 1 }, { score: { $meta: 'textScore' } }, { 'address.zip': -1 }]);

/** Options that carry values; `let` variables hold secrets only when an $expr compares them with an encrypted field. */
function valueOptions(c: Chooser, filter: Doc): [Doc, Doc] {
  const options: Doc = {};
  if (c.flip()) {
    const [ref, kind] = encRef(c, MODEL);
    options.let = { sv: secretOf(c, kind) };
    filter = { ...filter, $expr: { $eq: [ref, '$$sv'] } };
  }
  if (c.next(3) === 1) options.hint = c.one([{ phone: 1 }, '_id_', { 'contacts.phone': 1 }]);
  if (c.next(3) === 1) options.comment = c.one(['pub', { tag: 'pub' }]);
  if (c.next(3) === 1) options.collation = { locale: 'en', strength: 2 };
  return [filter, options];
}

// ---------------------------------------------------------------------------------------------
// Pipelines, tracked by shape

/** Stages: each reads the shape before it and returns the shape after it. */
function pipelineStage(c: Chooser, shape: Shape, depth: number, updatePipeline = false): Doc {
  const alias = c.one(['a1', 'a2', 'name', 'phone']);
  const drop = (path: string) => { for (const p of [...shape.keys()]) if (p === path || p.startsWith(`${path}.`)) shape.delete(p); };
  const taint = (path: string, kind: Kind) => { drop(path); shape.set(path, kind); };
  /** Stages that replace the documents: only their outputs remain. */
  /** A literal written to `field`: a secret only while the current shape holds an encrypted value there. */
  const literal = (field: string): unknown => { const kind = shape.get(field); return kind && kind !== 'plain' ? secretOf(c, kind) : 'pub'; };
  const reshape = (outputs: Array<[string, Kind]>) => { shape.clear(); for (const [p, k] of outputs) shape.set(p, k); };
  const choices = updatePipeline ? 8 : 26;
  switch (c.next(choices)) {
    case 0: return { $match: filterOf(c, shape, 1) };
    case 1: { const [ref, kind] = encRef(c, shape); taint(alias, kind); return { $addFields: { [alias]: ref } }; }
    case 2: { const [path, kind] = pathOf(c, shape, true); return { [c.one(['$addFields', '$set'])]: { [path]: hostileSecret(c, kind) } }; }
    case 3: { const [ref, kind] = encRef(c, shape); const to = alias === 'name' ? 'a1' : alias; reshape([['name', 'plain'], [to, kind]]); return { $project: { [to]: ref, name: 1 } }; }
    case 4: return { $set: { x: secretExpr(c, shape) } };
    case 5: return c.one([
      { $replaceWith: { $mergeObjects: ['$$ROOT', { ssn: literal('ssn') }] } },
      { $replaceRoot: { newRoot: { $mergeObjects: [{ phone: literal('phone') }, '$$ROOT'] } } },
      { $replaceWith: { $setField: { field: 'phone', input: '$$ROOT', value: literal('phone') } } },
    ]);
    case 6: { const [path] = pathOf(c, shape, true); drop(path); return { $unset: path }; }
    case 7: reshape(shape.has('address.zip') ? [['zip', 'string'], ['street', 'plain'], ['city', 'plain']] : []); return { $replaceRoot: { newRoot: '$address' } };
    case 8: { const [ref, kind] = encRef(c, shape); const first = c.one(['ssn', 'pin', 'contacts']); const held = shape.get(first) ?? shape.get(`${first}.phone`); const stage = { $group: { _id: ref, first: { $first: `$${first}` } } }; reshape([['_id', kind], ['first', held && held !== 'plain' ? 'string' : 'plain']]); return stage; }
    case 9: { const field = c.one(['ssn', 'phone']); const value = literal(field); reshape([['_id', 'plain'], [field, 'plain']]); return { $group: { _id: null, [field]: { [c.one(['$first', '$last', '$max', '$push'])]: value } } }; }
    case 10: reshape([['_id', 'plain'], ['acc', 'plain']]); return { $group: { _id: null, acc: { $accumulator: { init: 'function() { return 0; }', accumulate: 'function(s, a, b) { return s; }', accumulateArgs: ['$phone', c.s()], merge: 'function(a, b) { return a; }', lang: 'js' } } } };
    case 11: { const stage = { $group: { _id: '$name', n: { $sum: { $cond: [secretExpr(c, shape), 1, 0] } } } }; reshape([['_id', 'plain'], ['n', 'plain']]); return stage; }
    case 12: {
      const stage = c.one<Doc>([
        { $lookup: { from: 'accounts', localField: 'phone', foreignField: 'phone', as: 'j' } },
        { $lookup: { from: 'accounts', let: { p: '$phone' }, pipeline: [{ $match: { $expr: { $eq: ['$$p', c.s()] } } }], as: 'j' } },
        { $lookup: { from: 'accounts', pipeline: [{ $match: { phone: c.s() } }], as: 'j' } },
      ]);
      taint('j', 'contacts');
      for (const [p, k] of ENCRYPTED_PATHS) shape.set(`j.${p}`, k);
      return stage;
    }
    case 13: shape.set('contacts', 'contact'); return { $unwind: c.one(['$contacts', { path: '$contacts', includeArrayIndex: 'i' }]) };
    case 14: {
      const inner = () => pipelineOf(c, new Map(shape), depth - 1);
      const stage = { $facet: { f1: inner(), f2: inner() } };
      reshape(ENCRYPTED_PATHS.flatMap(([p, k]): Array<[string, Kind]> => [[`f1.${p}`, k], [`f2.${p}`, k]]));
      return stage;
    }
    case 15: { const [ref, kind] = encRef(c, shape); reshape([['_id', kind === 'plain' ? 'plain' : 'string'], ['count', 'plain']]); return { $bucket: { groupBy: ref, boundaries: kind === 'plain' ? ['a', 'b'] : [c.s(), c.s()].sort(), default: 'other' } }; }
    case 16: return { $setWindowFields: c.one<Doc>([
      ((field: string) => ({ sortBy: { age: 1 }, output: { [field]: { $first: literal(field) } } }))(c.one(['phone', 'ssn'])),
      { sortBy: { age: 1 }, output: { x: { $shift: { output: '$phone', by: 1, default: literal('phone') } } } },
      { partitionBy: '$phone', sortBy: { age: 1 }, output: { pin: { $sum: literal('pin') } } },
    ]) };
    case 17: return { $fill: c.one<Doc>([
      ((field: string) => ({ output: { [field]: { value: literal(field) } } }))(c.one(['phone', 'ssn', 'address.zip'])),
      { sortBy: { age: 1 }, output: { pin: { value: literal('pin') } } },
    ]) };
    case 18: return { $redact: { $cond: [secretExpr(c, shape), '$$KEEP', '$$PRUNE'] } };
    case 19: { const [ref, kind] = encRef(c, shape); reshape([['_id', kind], ['count', 'plain']]); return { $sortByCount: ref }; }
    case 20: { const held = shape.get('pin') === 'int'; const low = held ? c.n() : 1; return { $densify: { field: 'pin', range: { step: 1, bounds: [low, low + 10] } } }; }
    case 21: return { $unionWith: { coll: 'accounts', pipeline: [{ $match: { [pathOf(c, MODEL, true)[0]]: c.s() } }] } };
    case 22: { const stage = c.one<Doc>([{ $sort: sortOf(c) }, { $limit: 3 }, { $skip: 1 }, { $count: 'n' }, { $sample: { size: 1 } }]); if (stage.$count) reshape([['n', 'plain']]); return stage; }
    case 23: return c.one<Doc>([{ $zzUnknownStage: { phone: c.s() } }, { $search: { text: { query: c.s(), path: 'phone' } } }]);
    case 24: { const [path, kind] = pathOf(c, shape, true); const value = kind === 'plain' ? 'pub' : c.s(); return { $project: { [path]: c.one([{ $literal: value }, value]) } }; }
    default: return { $match: { $expr: secretExpr(c, shape) } };
  }
}

function pipelineOf(c: Chooser, shape: Shape = modelShape(), depth = 2): Doc[] {
  const length = 1 + c.next(4);
  return Array.from({ length }, () => pipelineStage(c, shape, Math.max(depth, 0)));
}

// ---------------------------------------------------------------------------------------------
// Documents and calls

function documentOf(c: Chooser): Doc {
  const doc: Doc = { name: 'pub', customerId: c.one(['alice', 'bob']) };
  const n = 1 + c.next(4);
  for (let i = 0; i < n; i++) {
    const [path, kind] = c.one<[string, Kind]>([...ENCRYPTED_PATHS.filter(([p]) => !p.includes('.')), ...CONTAINER_PATHS, ['address.zip', 'string'], ['contacts', 'contact']]);
    doc[path] = hostileSecret(c, kind);
  }
  return doc;
}

function findOptions(c: Chooser, filter: Doc, withLimit: boolean): [Doc, Doc] {
  const [f, options] = valueOptions(c, filter);
  if (c.flip()) options.projection = projectionOf(c);
  if (c.next(3) === 1) options.sort = sortOf(c);
  if (withLimit) options.limit = 5;
  return [f, options];
}

function callOf(c: Chooser): Call {
  const entry = c.one<Entry>(['find', 'aggregate', 'updateOne', 'findOne', 'count', 'exists', 'updateMany', 'upsert', 'replaceOne', 'deleteOne', 'deleteMany', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete', 'bulkWrite', 'insertOne', 'distinct', 'paginate', 'watch']);
  switch (entry) {
    case 'find': case 'findOne': { const [f, o] = findOptions(c, filterOf(c), entry === 'find'); return { entry, args: [f, o] }; }
    case 'count': case 'exists': case 'deleteOne': case 'deleteMany': return { entry, args: [filterOf(c)] };
    case 'updateOne': case 'updateMany': case 'upsert': {
      const filter = filterOf(c);
      if (entry !== 'upsert' && c.flip()) {
        const [u, arrayFilters] = arrayFilterUpdate(c);
        const [f, options] = valueOptions(c, filter);
        return { entry, args: [f, u, { arrayFilters, ...options }] };
      }
      return { entry, args: entry === 'upsert' ? [filter, updateOf(c)] : [filter, updateOf(c), { upsert: c.flip() }] };
    }
    case 'replaceOne': return { entry, args: [filterOf(c), documentOf(c), { upsert: c.flip() }] };
    case 'findOneAndUpdate': return { entry, args: [filterOf(c), updateOf(c), { upsert: c.flip(), returnDocument: 'after', ...(c.flip() ? { projection: projectionOf(c) } : {}), ...(c.flip() ? { sort: sortOf(c) } : {}) }] };
    case 'findOneAndReplace': return { entry, args: [filterOf(c), documentOf(c), { upsert: c.flip() }] };
    case 'findOneAndDelete': return { entry, args: [filterOf(c), c.flip() ? { projection: projectionOf(c) } : { sort: sortOf(c) }] };
    case 'bulkWrite': return { entry, args: [Array.from({ length: 1 + c.next(3) }, () => c.one<() => Doc>([
      () => ({ updateOne: { filter: filterOf(c), update: updateOf(c) } }),
      () => ({ insertOne: { document: documentOf(c) } }),
      () => ({ updateMany: { filter: filterOf(c), update: updateOf(c), upsert: c.flip() } }),
      () => ({ replaceOne: { filter: filterOf(c), replacement: documentOf(c) } }),
      () => ({ deleteOne: { filter: filterOf(c) } }),
      () => ({ deleteMany: { filter: filterOf(c) } }),
    ])())] };
    case 'aggregate': {
      const [match, options] = valueOptions(c, {});
      return { entry, args: [[...(Object.keys(match).length ? [{ $match: match }] : []), ...pipelineOf(c)], options] };
    }
    case 'insertOne': return { entry, args: [documentOf(c)] };
    case 'distinct': {
      const [f, options] = valueOptions(c, filterOf(c));
      const key = c.one<unknown>([pathOf(c, MODEL)[0], c.one(EXTRA_FILTER_PATHS)[0], '$phone', { phone: c.s() }]);
      return { entry, args: [key, f, options] };
    }
    case 'paginate': {
      const [f, options] = valueOptions(c, filterOf(c));
      const sort = sortOf(c);
      const token = c.flip() ? { [c.flip() ? 'after' : 'before']: forgedToken(c, sort) } : {};
      return { entry, args: [f, { ...options, sort, limit: 2, ...token, ...(c.flip() ? { projection: projectionOf(c) } : {}) }] };
    }
    case 'watch': {
      // A change event holds the model's document under fullDocument (and its pre-image); the other fields are plain.
      const shape: Shape = new Map([...modelShape()].flatMap(([p, k]): Array<[string, Kind]> => [[`fullDocument.${p}`, k], [`fullDocumentBeforeChange.${p}`, k]]));
      shape.set('operationType', 'plain');
      const first = c.one<() => Doc>([
        () => filterOf(c, shape, 1),
        () => filterOf(c),
        () => ({ [`updateDescription.updatedFields.${pathOf(c, MODEL, true)[0]}`]: c.s() }),
      ])();
      const options = c.one<Doc>([{}, { fullDocument: 'updateLookup' }, { fullDocumentBeforeChange: 'whenAvailable', batchSize: 2 }, { fullDocument: { $eq: c.s() } }, { resumeAfter: { $gt: c.s() } }]);
      return { entry, args: [[{ $match: first }, ...(c.flip() ? pipelineOf(c, shape, 1) : [])], { maxAwaitTimeMS: 5, ...options }] };
    }
  }
}

/**
 * A continuation token a client made up: its values follow the sort's keys, a secret where the
 * key is encrypted (such a sort is refused; the token must not reach the server either way).
 */
function forgedToken(c: Chooser, sort: Doc): string {
  const keys = [...Object.keys(sort), '_id'];
  const values = keys.map((k) => (MODEL.get(k) === 'plain' || k === '_id' ? c.one<unknown>(['pub', 7, { $oid: '0123456789abcdef01234567' }]) : c.one<unknown>([c.s(), { $gt: c.s() }])));
  return Buffer.from(JSON.stringify({ v: 1, o: keys.map((k) => [k, 1]), k: values }), 'utf8').toString('base64url');
}

const PICKS = 64;
/** Arbitrary repository calls; shrinking moves every choice toward its first alternative. */
export const callArbitrary: fc.Arbitrary<Call> = fc
  .tuple(fc.array(fc.nat(), { minLength: PICKS, maxLength: PICKS }), fc.nat({ max: 9_999_999 }), fc.integer({ min: SECRET_INT_RANGE.min, max: SECRET_INT_RANGE.max - 100_000 }))
  .map(([picks, base, intBase]) => callOf(new Chooser(picks, base, intBase)));

/*
 * Validation of values being written, with class-validator as the rule engine: its decorators
 * (@IsEmail, @Length, @Min, @IsIn, @Matches, @Validate for custom classes…) on a model class or an
 * embedded class are checked before anything is encrypted, together with Strongbox's own
 * required/optional rule. Each embedded class is validated by itself along the model's shape,
 * so no @ValidateNested/@Type bookkeeping is needed. class-validator's synchronous entry point
 * (validateSync) is used, because update values are checked inside the synchronous query
 * analysis; asynchronous custom constraints are therefore not run (docs/entities.md says so).
 */
import { getMetadataStorage, validateSync, type ValidationError as RuleFailure } from 'class-validator';
import type { Document } from 'mongodb';
import { InvalidInputError, ValidationError, type ValidationIssue } from '../../errors';
import { resolveModel } from '../../metadata/resolve';
import type { FieldMetadata, ModelMetadata, ModelShape } from '../../metadata/types';
import { writtenValues } from '../encoding/guards';
import { missingRequired } from '../encoding/requiredFields';
import { withDefaults } from './defaults';
import { stampNew } from './stamps';

/*
 * Empty values are Strongbox's to judge (required/optional), so class-validator's rules apply to
 * values that are there; its error objects keep neither the object nor the value.
 */
const OPTIONS = { skipMissingProperties: true, forbidUnknownValues: false, validationError: { target: false, value: false } } as const;

const ruled = new WeakMap<ModelShape, boolean>();

/** True when the shape or a shape it embeds carries class-validator rules. */
export function hasRules(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  const known = ruled.get(shape);
  if (known !== undefined) return known;
  seen.add(shape);
  let found = ownRules(shape.target);
  for (const field of shape.fields.values()) {
    if (found) break;
    if (field.embedded && !seen.has(field.embedded)) found = hasRules(field.embedded, seen);
  }
  ruled.set(shape, found);
  return found;
}

function ownRules(target: Function): boolean {
  return getMetadataStorage().getTargetValidationMetadatas(target, '', true, false).length > 0;
}

/** Every failing path and rule of a whole document: required fields and class-validator rules. */
export function documentIssues(shape: ModelShape, doc: unknown, prefix = '', secret = false, issues: ValidationIssue[] = []): ValidationIssue[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return issues; // the encoder reports the wrong type
  const values = doc as Document;
  for (const field of shape.fields.values()) {
    const value = values[field.name];
    const path = prefix + field.name;
    if (value === null || value === undefined) {
      if (!field.optional && !field.isId) issues.push({ path, rule: 'required', message: 'is required but has no value (absent, null or undefined)' });
    } else if (field.embedded) {
      embeddedIssues(field, value, path, secret || field.encrypted !== undefined, issues);
    }
  }
  if (ownRules(shape.target)) ruleIssues(shape, asInstance(shape.target, values), undefined, prefix, secret, issues);
  return issues;
}

function embeddedIssues(field: FieldMetadata, value: unknown, path: string, secret: boolean, issues: ValidationIssue[]): void {
  if (!field.isArray) documentIssues(field.embedded!, value, `${path}.`, secret, issues);
  else if (Array.isArray(value)) value.forEach((item, i) => documentIssues(field.embedded!, item, `${path}.${i}.`, secret, issues));
}

/**
 * The issues of the values an update stores as given — `$set` / `$setOnInsert` values, `$min` /
 * `$max` operands, elements `$push` / `$addToSet` add: each is checked against the rules of the
 * property (or array element) it lands in, a whole embedded document against its class. Paths the
 * model does not declare are the analyzer's to refuse.
 */
export function updateIssues(model: ModelShape, update: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (update === null || typeof update !== 'object' || Array.isArray(update)) return issues;
  // The values an update stores as given: $min and $max store their operand where it wins.
  for (const op of ['$set', '$setOnInsert', '$min', '$max']) {
    const spec = (update as Document)[op];
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) continue;
    for (const path of Object.keys(spec)) valueIssues(model, path, spec[path], issues);
  }
  // Each element $push / $addToSet adds (alone, or in $each) is an element of the array it lands in.
  for (const op of ['$push', '$addToSet']) {
    const spec = (update as Document)[op];
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) continue;
    for (const path of Object.keys(spec)) {
      const given = spec[path];
      const each = given !== null && typeof given === 'object' && !Array.isArray(given) && Array.isArray((given as Document).$each) ? (given as Document).$each as unknown[] : [given];
      for (const item of each) valueIssues(model, `${path}.$`, item, issues);
    }
  }
  return issues;
}

function valueIssues(model: ModelShape, path: string, value: unknown, issues: ValidationIssue[]): void {
  const segments = path.split('.');
  let shape = model;
  let secret = false;
  for (let i = 0; i < segments.length; i++) {
    const field = shape.fields.get(segments[i]);
    if (!field || value === null || value === undefined) return;
    const last = i === segments.length - 1;
    // An element of an array of documents: 'contacts.0', 'contacts.$', 'contacts.$[c]'.
    const element = field.isArray && i + 1 < segments.length && /^(\d+|\$|\$\[\w*\])$/.test(segments[i + 1]);
    const at = segments.slice(0, i + 1).join('.');
    if (last) {
      if (ownRules(shape.target)) ruleIssues(shape, asInstance(shape.target, { [field.name]: value }), field.name, `${segments.slice(0, i).map((s) => `${s}.`).join('')}`, secret, issues);
      if (field.embedded) embeddedIssues(field, value, at, secret || field.encrypted !== undefined, issues);
      return;
    }
    if (!field.embedded) {
      if (element && i + 2 === segments.length && ownRules(shape.target)) elementIssues(shape, field, value, path, `${segments.slice(0, i).map((s) => `${s}.`).join('')}`, secret, issues);
      return;
    }
    secret ||= field.encrypted !== undefined;
    if (element && i + 2 === segments.length) {
      documentIssues(field.embedded, value, `${path}.`, secret, issues);
      return;
    }
    shape = field.embedded;
    if (element) i++;
  }
}

/** Rules on the array itself (its size, what it contains), which one element written alone says nothing about. */
const ARRAY_RULES = new Set(['isArray', 'arrayMinSize', 'arrayMaxSize', 'arrayNotEmpty', 'arrayUnique', 'arrayContains', 'arrayNotContains']);

/**
 * One element of an array of scalars written alone ('scores.0', 'scores.$'): checked as a
 * one-element array against the rules that hold for each element ({ each: true }), named at its path.
 */
function elementIssues(shape: ModelShape, field: FieldMetadata, value: unknown, path: string, prefix: string, secret: boolean, issues: ValidationIssue[]): void {
  const found: ValidationIssue[] = [];
  ruleIssues(shape, asInstance(shape.target, { [field.name]: [value] }), field.name, prefix, secret || field.encrypted !== undefined, found);
  for (const issue of found) if (!ARRAY_RULES.has(issue.rule) && !issues.some((i) => i.path === path && i.rule === issue.rule)) issues.push({ ...issue, path });
}

/** class-validator's failures as issues; for an encrypted field (or one inside an encrypted document) the rule alone, never a message that could quote the value. */
function ruleIssues(shape: ModelShape, instance: object, only: string | undefined, prefix: string, secret: boolean, issues: ValidationIssue[]): void {
  const failures = validateSync(instance, OPTIONS);
  for (const failure of flatten(failures, '')) {
    if (only !== undefined && failure.path.split('.')[0] !== only) continue;
    const field = shape.fields.get(failure.path.split('.')[0]);
    const hidden = secret || field?.encrypted !== undefined;
    for (const [rule, message] of Object.entries(failure.constraints)) {
      const path = prefix + failure.path;
      if (issues.some((i) => i.path === path && i.rule === rule)) continue;
      issues.push({ path, rule, message: hidden ? `fails the rule ${rule} (the value of an encrypted field is not shown)` : withoutSubject(message, failure.property) });
    }
  }
}

function flatten(failures: RuleFailure[], prefix: string): Array<{ path: string; property: string; constraints: Record<string, string> }> {
  return failures.flatMap((f) => [
    ...(f.constraints ? [{ path: prefix + f.property, property: f.property, constraints: f.constraints }] : []),
    ...flatten(f.children ?? [], `${prefix}${f.property}.`),
  ]);
}

/** class-validator's messages start with the property name, which the issue already names. */
function withoutSubject(message: string, property: string): string {
  return message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}

/** The value as an instance of its class, without running the constructor (whose initializers would add values). */
function asInstance(target: Function, values: Document): object {
  return values instanceof target ? values : Object.assign(Object.create(target.prototype as object), values);
}

/** One ValidationError for all issues; with only required fields missing, the same error the encoder gives. */
export function refuseIssues(model: string, issues: readonly ValidationIssue[]): void {
  if (issues.length === 0) return;
  if (issues.every((i) => i.rule === 'required')) throw missingRequired(model, issues.map((i) => i.path));
  throw new ValidationError('INPUT_VALIDATION_FAILED',
    `${model}: ${issues.length} value${issues.length > 1 ? 's' : ''} failed validation: ${issues.map((i) => `"${i.path}" ${i.message}`).join('; ')}; nothing was written.`,
    issues, 'correct the listed values (the rules are the class-validator decorators on the model and its embedded classes).');
}

const resolved = new WeakMap<Function, ModelMetadata>();

/**
 * The validation issues of an entity, as an insert would find them (required fields and
 * class-validator rules of the model and its embedded classes; fields with a default and the
 * stamps count as filled, since the insert fills them), without writing anything: for forms
 * and APIs. Takes an instance of a @Model class; an empty array means valid.
 */
export function validate(entity: object): ValidationIssue[] {
  const target = entity?.constructor;
  if (typeof target !== 'function' || target === Object) {
    throw new InvalidInputError('INPUT_NOT_AN_ENTITY', 'validate takes an instance of a @Model class.', { fix: 'create it with new Model() (or read it through a repository) before validating it.' });
  }
  let model = resolved.get(target);
  if (!model) {
    model = resolveModel(target);
    resolved.set(target, model);
  }
  return documentIssues(model, stampNew(model, withDefaults(model, writtenValues(model, entity)), new Date()));
}

/*
 * The steps a write takes for an entity besides encoding it, in the order docs/entities.md
 * documents: defaults, timestamps and version, before-hooks, validation; then (in the
 * repository) encryption, the write, after-hooks.
 */
import type { Document } from 'mongodb';
import { HookError, InvalidInputError } from '../../errors';
import type { HookEvent, ModelMetadata } from '../../metadata/types';
import { writtenValues } from '../encoding/guards';
import { withDefaults } from './defaults';
import { runHooks } from './hooks';
import { stampNew } from './stamps';
import { documentIssues, hasRules, refuseIssues } from './validation';

/** A new document (plaintext) ready to encode: `plain` holds what the caller wrote, _id included. */
export async function prepareNew(model: ModelMetadata, plain: Document, now: Date): Promise<Document> {
  let doc = stampNew(model, withDefaults(model, plain), now);
  if (model.entity.hooks.beforeInsert.length > 0) {
    // Hooks are methods: they run on an instance of the model, made without its constructor.
    const entity = Object.assign(Object.create(model.target.prototype as object), doc) as object;
    await hooks(model, 'beforeInsert', [entity]);
    doc = writtenValues(model, entity);
  }
  validateDocument(model, doc);
  return doc;
}

/**
 * A replacement is a whole new document for a stored one: defaults, updatedAt now, createdAt
 * kept when the replacement carries it (a loaded entity does), the version one above the one it
 * carries.
 */
export function prepareReplacement(model: ModelMetadata, replacement: Document, now: Date): Document {
  const { updatedAt, version } = model.entity.stamps;
  const doc = withDefaults(model, writtenValues(model, replacement));
  if (updatedAt !== undefined) doc[updatedAt] = now;
  if (version !== undefined) doc[version] = typeof doc[version] === 'number' ? doc[version] + 1 : 1;
  const stamped = stampNew(model, doc, now);
  validateDocument(model, stamped);
  return stamped;
}

/** Required fields and class-validator rules, all failures in one ValidationError (only when the model has rules: the encoder checks required fields otherwise). */
export function validateDocument(model: ModelMetadata, doc: Document): void {
  if (hasRules(model)) refuseIssues(model.target.name, documentIssues(model, doc));
}

/** Runs hooks, turning what they throw into a HookError that names the model, the event and the hook. */
export async function hooks(model: ModelMetadata, event: HookEvent, entities: readonly object[]): Promise<void> {
  try {
    await runHooks(model, event, entities);
  } catch (cause) {
    const before = event.startsWith('before');
    // The hook's own message stays in `cause`: it is application code and may quote values of encrypted fields.
    throw new HookError('HOOK_FAILED', `A @${event[0].toUpperCase()}${event.slice(1)}() hook of ${model.target.name} (${model.entity.hooks[event].join(', ')}) threw ${(cause as Error)?.name ?? typeof cause}${before ? '; nothing was written' : ' after the write was applied'}.`,
      { cause, fix: `see the error's cause; fix the hook, or the entity it rejects${before ? ', and write again' : ''}.` });
  }
}

/** save() and remove() take entities: instances of the repository's model class. */
export function assertEntity(model: ModelMetadata, entity: unknown, what: string): asserts entity is Record<string, unknown> {
  if (!(entity instanceof model.target)) {
    throw new InvalidInputError('INPUT_NOT_AN_ENTITY', `${what} on ${model.target.name} takes an instance of ${model.target.name}, got ${entity === null ? 'null' : typeof entity === 'object' ? `an instance of ${(entity as object).constructor?.name ?? 'Object'}` : typeof entity}.`,
      { fix: `read it through the repository, or create it with new ${model.target.name}() (use insertOne for plain objects).` });
  }
}

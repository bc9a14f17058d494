import { BSON, Timestamp, type ChangeStream, type ChangeStreamOptions, type Document } from 'mongodb';
import { isPlainDocument } from '../bson/documents';
import { DecryptionError } from '../errors';
import type { ModelMetadata } from '../metadata/types';
import { CHANGE_STREAM_STAGES } from './policy/table';
import { ChangeEventScope } from './encoding/changeEventScope';
import type { Analysis } from './encoding/filterEncoder';
import { assertLiteral, invalid, isPlainObject, safeEntries } from './encoding/guards';
import { followPipeline } from './encoding/pipelineEncoder';
import { computedField, DerivedScope, isTainted, type ModelScope } from './encoding/scope';
import type { DocumentReader, ResultShape } from './reader';
import type { ResumeToken } from './types';

/** How the events a change-stream pipeline produces are read: which parts are still the model's documents. */
export interface EventReading {
  /** `fullDocument` / `fullDocumentBeforeChange` are still the stored documents of the model (not moved or rebuilt). */
  images: ReadonlyArray<'fullDocument' | 'fullDocumentBeforeChange'>;
  /** `updateDescription` is still the server's (its updatedFields keyed by paths of the model). */
  updateDescription: boolean;
  /** Everything else of the event, decrypted along the shape the analysis followed. */
  rest: ResultShape;
  /** A stage other than $match may have left out fields of the images: they are read as projected (not saveable). */
  partial: boolean;
  /** On a variant's repository: the discriminator every image must carry. */
  variant?: { field: string; value: string; name: string };
}

const FULL_DOCUMENT = new Set(['default', 'updateLookup', 'whenAvailable', 'required']);
const FULL_DOCUMENT_BEFORE_CHANGE = new Set(['off', 'whenAvailable', 'required']);

/**
 * Analyzes a change-stream pipeline: only the stages the MongoDB manual allows there ("Modify
 * Change Stream Output"), each followed like an aggregation stage against the shape of a change
 * event, so values compared with encrypted fields of `fullDocument` are encrypted and everything
 * else on encrypted data is refused before any traffic. A variant's repository also pins the
 * variant on the documents events carry (events without one, such as deletes, pass).
 */
export function followChangeStream(analysis: Analysis, model: ModelMetadata, pipeline: unknown): { stages: Document[]; reading: EventReading } {
  if (!Array.isArray(pipeline)) throw invalid('INPUT_PIPELINE_NOT_ARRAY', `A change-stream pipeline on ${model.target.name} must be an array of stages.`, 'pass [ { $match: … }, … ] or nothing.');
  pipeline.forEach((stage, index) => {
    const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
    if (name !== undefined && name.startsWith('$') && !CHANGE_STREAM_STAGES.has(name)) {
      throw invalid('INPUT_CHANGE_STREAM_STAGE', `${name} (stage ${index}) cannot be used in a change stream on ${model.target.name}.`,
        `use ${[...CHANGE_STREAM_STAGES].join(', ')} (MongoDB manual, "Modify Change Stream Output").`);
    }
  });
  const scope = new ChangeEventScope(model);
  const variant = model.variant;
  // Both images must be of the variant when the event carries them (a delete without a pre-image passes: it names only an _id).
  const pin = (image: string) => ({ $or: [{ [`${image}.${variant!.field}`]: { $eq: variant!.value } }, { [image]: { $exists: false } }] });
  const pinned = variant ? [{ $match: { $and: [pin('fullDocument'), pin('fullDocumentBeforeChange')] } }, ...pipeline] : pipeline;
  const followed = followPipeline(analysis, model, pinned, scope, new Set());
  const fields = followed.result.shape.fields;
  const kept = (name: keyof ChangeEventScope['event']) => fields.get(name) === scope.event[name];
  const rest = new Map(fields);
  const images = (['fullDocument', 'fullDocumentBeforeChange'] as const).filter((name) => kept(name));
  for (const name of images) rest.delete(name);
  const updateDescription = kept('updateDescription');
  if (updateDescription) rest.delete('updateDescription');
  const openLoose = followed.result instanceof DerivedScope && followed.result.openTainted;
  return {
    stages: followed.stages,
    reading: {
      images,
      updateDescription,
      rest: { shape: { target: model.target, fields: rest }, loose: isTainted, openLoose },
      partial: pipeline.some((stage) => !isPlainObject(stage) || Object.keys(stage)[0] !== '$match'),
      variant: variant ? { field: variant.field, value: variant.value, name: model.target.name } : undefined,
    },
  };
}

/**
 * The options of watch, checked: the values only the table marks 'typed' are checked here
 * (a resume token is a document of values, an operation time a BSON Timestamp).
 */
export function watchOptions(scope: ModelScope, options: Document): ChangeStreamOptions {
  const bad = (name: string, what: string) => invalid('INPUT_OPTIONS', `The ${name} option of watch on ${scope.name} must be ${what}.`, `pass ${what}.`);
  const { fullDocument, fullDocumentBeforeChange, resumeAfter, startAfter, startAtOperationTime } = options;
  if (fullDocument !== undefined && !FULL_DOCUMENT.has(fullDocument)) throw bad('fullDocument', `one of ${[...FULL_DOCUMENT].map((v) => `'${v}'`).join(', ')}`);
  if (fullDocumentBeforeChange !== undefined && !FULL_DOCUMENT_BEFORE_CHANGE.has(fullDocumentBeforeChange)) throw bad('fullDocumentBeforeChange', `one of ${[...FULL_DOCUMENT_BEFORE_CHANGE].map((v) => `'${v}'`).join(', ')}`);
  for (const [name, token] of [['resumeAfter', resumeAfter], ['startAfter', startAfter]] as const) {
    if (token === undefined) continue;
    if (!isPlainObject(token) || safeEntries(token, `the ${name} option of watch`).length === 0) throw bad(name, 'a resume token (the _id of a change event, or stream.resumeToken)');
    assertLiteral(token, `the ${name} option of watch on ${scope.name}`);
  }
  if (startAtOperationTime !== undefined && !(startAtOperationTime instanceof Timestamp)) throw bad('startAtOperationTime', 'a BSON Timestamp');
  const starts = [resumeAfter, startAfter, startAtOperationTime].filter((v) => v !== undefined).length;
  if (starts > 1) throw invalid('INPUT_OPTIONS', `watch on ${scope.name} takes one of resumeAfter, startAfter and startAtOperationTime.`, 'pass only the one the stream should start from.');
  const { session, batchSize, maxAwaitTimeMS } = options;
  return Object.fromEntries(Object.entries({ session, batchSize, maxAwaitTimeMS, fullDocument, fullDocumentBeforeChange, resumeAfter, startAfter, startAtOperationTime }).filter(([, v]) => v !== undefined));
}

/** What reading an event hands back to the repository: the decrypted event, and its images' stored bytes to track for save(). */
export type ImagesRead = (images: object[], stored: Uint8Array[], partial: boolean) => object[] | Promise<object[]>;

/**
 * Decrypts one change event: the images (`fullDocument`, `fullDocumentBeforeChange`) are read
 * like documents of the model (checked, decrypted, hydrated); `updateDescription.updatedFields`
 * is decrypted path by path, with the key each path's field names for the post-image when the
 * event carries one; the rest is decrypted along the shape the analysis followed, so ciphertext
 * anywhere the analysis did not expect one is refused. The event is decrypted in place.
 */
export async function readChangeEvent<T>(reader: DocumentReader<T>, event: Document, reading: EventReading, loaded: ImagesRead): Promise<Document> {
  const others: Document = { ...event };
  const images = reading.images.filter((name) => isPlainDocument(event[name]));
  for (const name of images) delete others[name];
  const variant = reading.variant;
  const stranger = variant && images.find((name) => (event[name] as Document)[variant.field] !== variant.value);
  if (variant && stranger) {
    // The stream's pin keeps these out; an image of another variant is never read as this one.
    throw new DecryptionError('DECRYPT_VARIANT_MISMATCH', `A change event's ${stranger} on the ${variant.name} stream is not a ${variant.name} (its ${variant.field} is not '${variant.value}'); it was not read.`, {
      fix: 'watch through the base model\'s repository to see every variant, or keep the variant pin as the first stage (watch adds it).',
    });
  }
  const description = reading.updateDescription && isPlainDocument(event.updateDescription) ? { ...event.updateDescription } : undefined;
  const updatedFields = isPlainDocument(description?.updatedFields) ? description.updatedFields : undefined;
  let restShape = reading.rest;
  if (description) {
    // removedFields, truncatedArrays and the like are paths and sizes: read as plain values, which must hold no ciphertext.
    delete description.updatedFields;
    others.updateDescription = description;
    restShape = { ...restShape, shape: { ...restShape.shape, fields: new Map(restShape.shape.fields).set('updateDescription', computedField('updateDescription')) } };
  }
  // Per-document keys are named by the post-image; without one, only fields under fixed keys can be checked.
  const root: Document = images.includes('fullDocument') ? event.fullDocument : { _id: (event.documentKey as Document | undefined)?._id };
  // The images' stored bytes, for save(); taken before decryption, which works in place.
  const stored = images.map((name) => BSON.serialize(event[name]));
  const [[decrypted], read] = await Promise.all([
    reader.decrypt([others], restShape),
    images.length ? reader.read(images.map((name) => event[name])) : Promise.resolve([]),
    updatedFields ? reader.decryptUpdatedFields(updatedFields, root) : undefined,
  ]);
  const hydrated = await loaded(read as object[], stored, reading.partial);
  images.forEach((name, i) => { decrypted[name] = hydrated[i]; });
  if (description && updatedFields) decrypted.updateDescription = { updatedFields, ...description };
  return decrypted;
}

/**
 * A change stream whose events are decrypted as they arrive (see readChangeEvent). Iterate it
 * with `for await`, or call next() / tryNext(); close() ends it (a `for await` loop left early
 * closes it too). Refusals of the pipeline or options surface on the first read, before any traffic.
 */
export class StrongboxChangeStream<E> implements AsyncIterable<E> {
  private stream?: ChangeStream;
  private closing = false;

  constructor(
    private readonly opened: Promise<{ stream: ChangeStream; read: (event: Document) => Promise<E> }>,
  ) {
    opened.then(({ stream }) => { this.stream = stream; if (this.closing) return stream.close(); }, () => undefined);
  }

  /** The token to resume after the last event read (pass it as resumeAfter); undefined before the first read. */
  get resumeToken(): ResumeToken | undefined {
    return this.stream?.resumeToken as ResumeToken | undefined;
  }

  async next(): Promise<E> {
    const { stream, read } = await this.opened;
    return read(await stream.next());
  }

  /** The next event, or null when none is waiting now. */
  async tryNext(): Promise<E | null> {
    const { stream, read } = await this.opened;
    const event = await stream.tryNext();
    return event === null ? null : read(event);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    const { stream, read } = await this.opened;
    try {
      for await (const event of stream) yield await read(event);
    } finally {
      await stream.close();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.stream?.close();
  }
}

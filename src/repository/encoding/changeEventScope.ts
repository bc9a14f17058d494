import type { FieldMetadata, ModelMetadata } from '../../metadata/types';
import { resolvePath, type ResolvedPath } from './pathResolver';
import { computedField, DerivedScope, hasEncrypted, standFor, taintedField } from './scope';

/**
 * The fields of a change event that Strongbox can describe exactly (MongoDB manual, "Change
 * Events"): `fullDocument` and `fullDocumentBeforeChange` are documents of the model as stored
 * (the post- and pre-image), `documentKey._id` is the document's id; `updateDescription` holds
 * values keyed by dotted paths, which a filter cannot name field by field, so on a model with
 * encrypted fields it may hold ciphertext of unknown field and key.
 */
export interface ChangeEventFields {
  readonly fullDocument: FieldMetadata;
  readonly fullDocumentBeforeChange: FieldMetadata;
  readonly updateDescription: FieldMetadata;
}

/** Plain metadata of every change event: the resume token, the kind of change, where and when. */
const PLAIN_FIELDS = ['_id', 'operationType', 'ns', 'to', 'clusterTime', 'wallTime', 'txnNumber', 'lsid', 'collectionUUID', 'operationDescription', 'splitEvent'];

/** Paths below these are resolved strictly against the model: a typo under fullDocument is an unknown field, not a plain path. */
const MODEL_DOCUMENTS = new Set(['fullDocument', 'fullDocumentBeforeChange', 'documentKey']);

/**
 * What a change-stream pipeline is evaluated against: a change event of the model's collection.
 * A path under `fullDocument` has the kind and key of the model's field (a `$match` on
 * `fullDocument.ssn` is encrypted like a filter on `ssn`); a model's encrypted field named at the
 * top of the event (a forgotten `fullDocument.` prefix) is refused as holding unknown ciphertext.
 */
export class ChangeEventScope extends DerivedScope {
  readonly event: ChangeEventFields;

  constructor(model: ModelMetadata) {
    const id = model.fields.get('_id') ?? { name: '_id', isArray: false, optional: false, isId: true, bsonType: 'objectId' };
    const encrypted = hasEncrypted(model);
    const event: ChangeEventFields = {
      fullDocument: imageOf(model, 'fullDocument'),
      fullDocumentBeforeChange: imageOf(model, 'fullDocumentBeforeChange'),
      updateDescription: encrypted ? taintedField('updateDescription') : computedField('updateDescription'),
    };
    // An event field named like an encrypted field of the model (a recipient called `to`) is ambiguous:
    // a value compared there may be meant for the model's field, so it is treated as holding ciphertext.
    const shadows = (name: string) => { const field = model.fields.get(name); return field !== undefined && (field.encrypted !== undefined || (field.embedded !== undefined && hasEncrypted(field.embedded))); };
    const fields = new Map<string, FieldMetadata>(PLAIN_FIELDS.map((name) => [name, shadows(name) ? taintedField(name) : computedField(name)]));
    fields.set('documentKey', { name: 'documentKey', isArray: false, optional: true, isId: false, bsonType: 'object', embedded: { target: model.target, fields: new Map([['_id', id]]) } });
    for (const field of Object.values(event)) fields.set(field.name, field);
    const target = eventTarget(model);
    super(model.target.name, target, fields);
    this.event = event;
  }

  override resolve(path: string, operation: string): ResolvedPath {
    const segments = path.split('.');
    if (segments.length > 1 && MODEL_DOCUMENTS.has(segments[0])) return resolvePath(this.shape, path, operation);
    return super.resolve(path, operation);
  }
}

/** A post- or pre-image: a document of the model as stored. */
function imageOf(model: ModelMetadata, name: string): FieldMetadata {
  return { name, isArray: false, optional: true, isId: false, bsonType: 'object', embedded: model };
}

const eventTargets = new WeakMap<Function, Function>();

/**
 * What scopes derived from a change event stand for: the model's names (a forgotten `fullDocument.`
 * prefix) and both images. After a stage removed `fullDocument`, `fullDocument.ssn` is still
 * refused by name instead of becoming a new plain path whose value would go out in clear.
 */
function eventTarget(model: ModelMetadata): Function {
  let target = eventTargets.get(model.target);
  if (!target) {
    const stands = function changeEvent() { /* a name for scopes, never called */ };
    const fields = new Map(model.fields).set('fullDocument', imageOf(model, 'fullDocument')).set('fullDocumentBeforeChange', imageOf(model, 'fullDocumentBeforeChange'));
    standFor(stands, { target: stands, fields }, hasEncrypted(model));
    eventTargets.set(model.target, stands);
    target = stands;
  }
  return target;
}

import type { FieldMetadata, ModelMetadata } from '../../metadata/types';
import { resolvePath, type ResolvedPath } from './pathResolver';
import { computedField, DerivedScope, hasEncrypted, taintedField } from './scope';

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
    const image = (name: string): FieldMetadata => ({ name, isArray: false, optional: true, isId: false, bsonType: 'object', embedded: model });
    const id = model.fields.get('_id') ?? { name: '_id', isArray: false, optional: false, isId: true, bsonType: 'objectId' };
    const event: ChangeEventFields = {
      fullDocument: image('fullDocument'),
      fullDocumentBeforeChange: image('fullDocumentBeforeChange'),
      updateDescription: hasEncrypted(model) ? taintedField('updateDescription') : computedField('updateDescription'),
    };
    const fields = new Map<string, FieldMetadata>(PLAIN_FIELDS.map((name) => [name, computedField(name)]));
    fields.set('documentKey', { name: 'documentKey', isArray: false, optional: true, isId: false, bsonType: 'object', embedded: { target: model.target, fields: new Map([['_id', id]]) } });
    for (const field of Object.values(event)) fields.set(field.name, field);
    super(model.target.name, model.target, fields);
    this.event = event;
  }

  override resolve(path: string, operation: string): ResolvedPath {
    const segments = path.split('.');
    if (segments.length > 1 && MODEL_DOCUMENTS.has(segments[0])) return resolvePath(this.shape, path, operation);
    return super.resolve(path, operation);
  }
}

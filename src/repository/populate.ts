import { BSON, type ClientSession, type Document } from 'mongodb';
import { isDocumentLike } from '../bson/documents';
import { hydrate } from '../metadata/hydrate';
import { refTargetOf } from '../metadata/ref';
import { EncryptedQueryError } from '../errors';
import type { ModelShape } from '../metadata/types';
import { invalid, snapshot } from './encoding/guards';

/** Reads documents of one referenced model by their ids, through that model's repository. */
export type LoadByIds = (model: Function, ids: unknown[], session: ClientSession | undefined) => Promise<object[]>;

/**
 * Replaces the ids in the @Ref fields `paths` of `items` by the documents they reference: one
 * query per relation (`_id: { $in: ids }` through the target's repository, so the target's
 * encrypted fields are decrypted and its ids checked like any filter), however many items there
 * are. A path may lead through plain embedded documents and arrays of them (`'lines.product'`):
 * the ids of every element of every item are loaded with that one query. A reference whose
 * document does not exist becomes null; a field holding no id stays as it is (null or absent).
 * The items are not changed: each result is a copy of its item that shares no mutable value
 * with it (its arrays, embedded documents, free-form objects, Dates and BSON values are copies),
 * so a change made to a result never reaches the tracked entity it came from.
 */
export async function populateRefs<R extends object>(model: ModelShape, items: readonly object[], paths: readonly string[], session: ClientSession | undefined, load: LoadByIds): Promise<R[]> {
  const name = model.target.name;
  if (!Array.isArray(items)) throw invalid('INPUT_NOT_ARRAY', `populate on ${name} needs an array of documents read from it.`, 'pass the array find(...).toArray() returned.');
  const copies = items.map((item) => {
    if (item === null || typeof item !== 'object') throw invalid('INPUT_NOT_A_DOCUMENT', `populate on ${name} got something that is not a document.`, 'pass documents read from the repository.');
    // Read once into plain copies (as a write reads an entity), then made instances of the model again.
    return hydrate<Document>(model, snapshot(item, `populate on ${name}`, model));
  });
  // Every path is resolved before the first query: a wrong one is refused before any traffic.
  const relations = [...new Set(paths)].map((path) => ({ path, ...resolveRef(model, path) }));
  for (const { target, segments } of relations) {
    const holders = copies.flatMap((copy) => holdersAlong(copy, segments.slice(0, -1)));
    const key = segments[segments.length - 1];
    const ids = new Map<string, unknown>();
    for (const holder of holders) {
      const id = holder[key];
      if (id !== null && id !== undefined) ids.set(idKey(id), id);
    }
    if (ids.size === 0) continue;
    const found = new Map<string, object>();
    for (const doc of await load(target, [...ids.values()], session)) found.set(idKey((doc as Document)._id), doc);
    for (const holder of holders) {
      const id = holder[key];
      if (id !== null && id !== undefined) holder[key] = found.get(idKey(id)) ?? null;
    }
  }
  return copies as R[];
}

/** The model a path's @Ref field points to, through plain embedded documents only. */
function resolveRef(model: ModelShape, path: unknown): { target: Function; segments: string[] } {
  const refuse = (why: string) => invalid('INPUT_NOT_A_REF', `${model.target.name}.${String(path)} ${why}, so populate does not know which model it points to.`,
    'declare it with @Ref(() => Target) (in the model or in a plain embedded document of it), or read the other model with its own repository.');
  if (typeof path !== 'string') throw refuse('is not a field path');
  const segments = path.split('.');
  let shape = model;
  for (const segment of segments.slice(0, -1)) {
    const field = shape.fields.get(segment);
    if (!field?.embedded || field.encrypted) throw refuse(`is not a @Ref field (${segment} is not a plain embedded document)`);
    shape = field.embedded;
  }
  const last = segments[segments.length - 1];
  const target = refTargetOf(shape.target, last);
  if (!target) throw refuse('is not a @Ref field');
  if (shape.fields.get(last)?.encrypted) {
    // The ids would go to the server in a query on the target: the link the encryption hides would be sent in clear.
    throw new EncryptedQueryError('QUERY_POPULATE_ENCRYPTED_REF', `${model.target.name}.${path} is an encrypted reference: populating it would send the decrypted ids to the server in a query on ${target.name}, revealing which documents it links.`, {
      fix: 'keep the reference unencrypted if the link may be known to the server, or look the targets up in a way that does not reveal it (for example by loading them all).',
    });
  }
  return { target, segments };
}

/** The embedded documents at `segments` below a copied item; arrays of documents contribute every element. */
function holdersAlong(node: Document, segments: string[]): Document[] {
  let nodes = [node];
  for (const segment of segments) {
    const next: Document[] = [];
    for (const parent of nodes) {
      const value = parent[segment];
      if (Array.isArray(value)) next.push(...value.filter(isDocumentLike) as Document[]);
      else if (isDocumentLike(value)) next.push(value);
    }
    nodes = next;
  }
  return nodes;
}

/** Ids compare by BSON value: two ObjectId instances of the same id are one id. */
function idKey(id: unknown): string {
  return Buffer.from(BSON.serialize({ id })).toString('base64');
}

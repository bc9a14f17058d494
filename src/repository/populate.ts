import { BSON, type ClientSession, type Document } from 'mongodb';
import { refTargetOf } from '../metadata/ref';
import { invalid } from './encoding/guards';

/** Reads documents of one referenced model by their ids, through that model's repository. */
export type LoadByIds = (model: Function, ids: unknown[], session: ClientSession | undefined) => Promise<object[]>;

/**
 * Replaces the ids in the @Ref fields `keys` of `items` by the documents they reference: one
 * query per relation (`_id: { $in: ids }` through the target's repository, so the target's
 * encrypted fields are decrypted and its ids checked like any filter), however many items there
 * are. A reference whose document does not exist becomes null; a field holding no id stays as
 * it is (null or absent). The items are not changed: each result is a copy of its item.
 */
export async function populateRefs<R extends object>(model: Function, items: readonly object[], keys: readonly string[], session: ClientSession | undefined, load: LoadByIds): Promise<R[]> {
  if (!Array.isArray(items)) throw invalid('INPUT_NOT_ARRAY', `populate on ${model.name} needs an array of documents read from it.`, 'pass the array find(...).toArray() returned.');
  const copies = items.map((item) => {
    if (item === null || typeof item !== 'object') throw invalid('INPUT_NOT_A_DOCUMENT', `populate on ${model.name} got something that is not a document.`, 'pass documents read from the repository.');
    return Object.assign(Object.create(Object.getPrototypeOf(item)) as Document, item);
  });
  for (const key of new Set(keys)) {
    const target = typeof key === 'string' ? refTargetOf(model, key) : undefined;
    if (!target) throw invalid('INPUT_NOT_A_REF', `${model.name}.${String(key)} is not a @Ref field, so populate does not know which model it points to.`, 'declare it with @Ref(() => Target), or read the other model with its own repository.');
    const ids = new Map<string, unknown>();
    for (const copy of copies) {
      const id = copy[key];
      if (id !== null && id !== undefined) ids.set(idKey(id), id);
    }
    if (ids.size === 0) continue;
    const found = new Map<string, object>();
    for (const doc of await load(target, [...ids.values()], session)) found.set(idKey((doc as Document)._id), doc);
    for (const copy of copies) {
      const id = copy[key];
      if (id !== null && id !== undefined) copy[key] = found.get(idKey(id)) ?? null;
    }
  }
  return copies as R[];
}

/** Ids compare by BSON value: two ObjectId instances of the same id are one id. */
function idKey(id: unknown): string {
  return Buffer.from(BSON.serialize({ id })).toString('base64');
}

import { definitionError, type Site } from './definitionError';
import { walkPath } from './paths';
import type { IndexSpec, ModelShape } from './types';

export interface PendingIndex {
  site: Site;
  spec: IndexSpec;
}

/** Indexes are checked once the whole model is known, since a compound index may name any path. */
export function validateIndexes(shape: ModelShape, pending: PendingIndex[]): IndexSpec[] {
  for (const { site, spec } of pending) {
    for (const path of Object.keys(spec.key)) checkIndexPath(shape, path, site);
    if (spec.partialFilterExpression !== undefined) checkPartialFilter(shape, spec.partialFilterExpression, site);
  }
  return pending.map(({ spec }) => spec);
}

function checkIndexPath(shape: ModelShape, path: string, site: Site): void {
  const { chain, unresolved } = walkPath(shape, path.split('.'));
  const last = chain[chain.length - 1];
  // Below a plain, undescribed object any path may exist; anywhere else an unknown path is a typo.
  const opaque = last !== undefined && !last.embedded && !last.encrypted && (last.bsonType === 'object' || last.bsonType === 'array');
  if (unresolved.length > 0 && !opaque) {
    throw definitionError('MODEL_INDEX_UNKNOWN_PATH', site, `the index key '${path}' names no declared field of ${shape.target.name}`,
      'index a declared field, with its full dotted path for embedded documents');
  }
  const encryptedAt = chain.findIndex((field) => field.encrypted);
  if (encryptedAt === -1) return;
  const encrypted = chain[encryptedAt];
  const encryptedPath = chain.slice(0, encryptedAt + 1).map((f) => f.name).join('.');
  if (encryptedAt < chain.length - 1 || unresolved.length > 0) {
    throw definitionError('MODEL_INDEX_BENEATH_RANDOM', site,
      `the index key '${path}' lies inside '${encryptedPath}', which is encrypted whole, so the server only ever sees one opaque binary there`,
      `drop the index, or stop encrypting '${encryptedPath}' whole and encrypt its fields one by one (Deterministic ones can be indexed)`);
  }
  if (encrypted.encrypted!.algorithm === 'Random') {
    throw definitionError('MODEL_INDEX_RANDOM', site,
      `the index key '${path}' is Random-encrypted: every write produces a different ciphertext, so the index could never match a query`,
      `drop the index, or use @Encrypted({ algorithm: 'Deterministic', bsonType: … }) if equality lookups are needed`);
  }
}

/**
 * A partial index's filter is stored by the server in its index catalog as written. A condition on
 * an encrypted field would put plaintext there (and never match the ciphertext the documents
 * hold), so any path that reaches an encrypted field is refused; the value itself is never quoted.
 */
function checkPartialFilter(shape: ModelShape, filter: unknown, site: Site): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(visit); return; }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('$')) { visit(value); continue; }
      const { chain, unresolved } = walkPath(shape, key.split('.'));
      const last = chain[chain.length - 1];
      const holdsEncrypted = chain.some((f) => f.encrypted) || (unresolved.length === 0 && last?.embedded !== undefined && shapeHoldsEncrypted(last.embedded));
      if (holdsEncrypted) {
        throw definitionError('MODEL_INDEX_PARTIAL_ON_ENCRYPTED', site,
          `the partialFilterExpression names '${key}', which is or holds an encrypted field: the server would store the condition's value in plaintext in its index catalog, and it could never match ciphertext`,
          'write the partial filter on plain fields only (for example a plain status flag next to the encrypted value)');
      }
    }
  };
  visit(filter);
}

function shapeHoldsEncrypted(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  seen.add(shape);
  for (const f of shape.fields.values()) {
    if (f.encrypted || (f.embedded && !seen.has(f.embedded) && shapeHoldsEncrypted(f.embedded, seen))) return true;
  }
  return false;
}

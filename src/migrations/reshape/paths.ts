/**
 * Walks a dotted path through embedded documents and arrays of them (as MongoDB's dot notation
 * does: a segment applied to an array applies to each element) and lets a visitor change the
 * value, or the field name, where the path ends. Visitors only read: the changes they collect
 * are written by path, conditioned on the document as read.
 */
import { isDocumentLike } from '../../bson/documents';

export interface PathVisit {
  /** The embedded document holding the last segment. */
  holder: Record<string, unknown>;
  /** The last segment. */
  field: string;
  /** Where the holder is, with array positions: ['contacts', '1'] (empty for the document itself). */
  at: string[];
}

/** Calls `visit` for every place the path ends in `root` (present or not); returns whether any changed. */
export function visitPath(root: Record<string, unknown>, segments: string[], visit: (at: PathVisit) => boolean, at: string[] = []): boolean {
  const [head, ...rest] = segments;
  if (rest.length === 0) return visit({ holder: root, field: head, at });
  const next = root[head];
  if (Array.isArray(next)) {
    let changed = false;
    next.forEach((element, i) => { if (isDocumentLike(element)) changed = visitPath(element, rest, visit, [...at, head, String(i)]) || changed; });
    return changed;
  }
  return isDocumentLike(next) ? visitPath(next, rest, visit, [...at, head]) : false;
}


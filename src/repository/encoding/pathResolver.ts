import { walkPath, type PathWalk } from '../../metadata/paths';
import type { FieldMetadata, ModelShape } from '../../metadata/types';
import { EncryptedQueryError } from '../../errors';
import { invalid } from './guards';

export interface ResolvedPath {
  /** The last declared field on the path (undefined for paths inside free-form objects at the root). */
  field?: FieldMetadata;
  /** The path names an encrypted field itself. */
  encrypted?: FieldMetadata;
  /**
   * What the path names of `field`: the field itself, one element of it ('tags.0', 'contacts.$'),
   * or a key inside its free-form value ('meta.x', 'rows.0.count'), which the model declares nothing about.
   */
  names: PathNames;
  /** A pipeline put something there that may hold ciphertext Strongbox cannot describe. */
  tainted?: boolean;
}

export type PathNames = 'field' | 'element' | 'inside';

/** What a walked path names of the last declared field on it. */
export function namesOf(walk: PathWalk): PathNames {
  return walk.unresolved.length > 0 ? 'inside' : walk.endsInElement ? 'element' : 'field';
}

/** The array positions of update paths (MongoDB manual, "$", "$[]", "$[<identifier>]"). */
export const POSITIONAL = /^\$(?:\[\]|\[[A-Za-z][A-Za-z0-9]*\])?$/;
/** The fields of a DBRef (MongoDB manual, "Database References"), which a query may name. */
const DBREF_FIELDS: ReadonlySet<string> = new Set(['$ref', '$id', '$db']);

/**
 * Resolves a dotted path of a filter, update or pipeline against the model. Paths that go
 * beneath an encrypted field (into a Random-encrypted whole object) are refused: the server
 * only sees one ciphertext there. Unknown paths are refused too, unless they lead into a field
 * declared as a free-form object.
 */
export function resolvePath(model: ModelShape, path: string, operation: string): ResolvedPath {
  const segments = path.split('.');
  const walk = walkPath(model, segments);
  const encryptedIndex = walk.chain.findIndex((f) => f.encrypted);
  if (encryptedIndex >= 0) {
    const field = walk.chain[encryptedIndex];
    const beneath = encryptedIndex < walk.chain.length - 1 || walk.unresolved.length > 0 || walk.endsInElement;
    if (beneath) {
      const at = segments.slice(0, segments.indexOf(field.name) + 1).join('.');
      throw new EncryptedQueryError('QUERY_INSIDE_ENCRYPTED', `${operation} on "${path}" reaches inside ${model.target.name}.${at}, which is encrypted as a whole (${field.encrypted!.algorithm}); the server sees a single ciphertext there.`, {
        fix: `${operation === 'filter' ? 'filter' : 'work'} on ${at} as a whole (read, change and write it back), or encrypt the nested fields individually instead.`,
      });
    }
    return { field, encrypted: field, names: 'field' };
  }
  const last = walk.chain[walk.chain.length - 1];
  if (walk.unresolved.length > 0) {
    // An array of declared scalars has only elements below it ('tags.0'), never named fields.
    const scalarArray = last?.isArray && last.itemBsonType !== undefined && last.itemBsonType !== 'object' && last.itemBsonType !== 'array';
    const freeForm = last && !last.embedded && !scalarArray && (last.bsonType === 'object' || last.bsonType === undefined || last.isArray);
    if (!freeForm) {
      throw invalid('INPUT_UNKNOWN_FIELD', `${model.target.name} has no field "${path}" (used in ${operation}).`, 'check the spelling against the model, or declare the field.');
    }
    // Below a free-form field the names are the caller's: one starting with $ would be refused
    // inside a value, and the server refuses it in a path. Only array positions ($, $[], $[id]),
    // a DBRef's fields ($ref, $id, $db) and a wildcard index's $** (last) start so.
    const named = walk.unresolved.find((segment, i) => segment.startsWith('$') && !POSITIONAL.test(segment) && !DBREF_FIELDS.has(segment)
      && !(segment === '$**' && i === walk.unresolved.length - 1));
    if (named !== undefined) {
      throw invalid('INPUT_OPERATOR_IN_VALUE', `${model.target.name}: the path "${path}" (used in ${operation}) names a field starting with "$" below ${last!.name}; only array positions ($, $[], $[id]), a DBRef's $ref, $id and $db, and a wildcard $** may start so.`,
        'use field names without a leading $ inside free-form objects.');
    }
  }
  return { field: last, names: namesOf(walk) };
}

import type { FieldMetadata, ModelMetadata, ModelShape } from '../../metadata/types';
import { walkPath } from '../../metadata/paths';
import { namesOf, resolvePath, type ResolvedPath } from './pathResolver';

/**
 * What a query position is evaluated against: the model itself (filters, updates, the start of a
 * pipeline) or the documents a pipeline has reshaped so far. Either way it answers, for a path,
 * which declared field is there and whether it holds ciphertext.
 */
export interface Scope {
  /** The model's class name, for messages. */
  readonly name: string;
  resolve(path: string, operation: string): ResolvedPath;
  /** The path is, lies inside, or holds an encrypted (or possibly encrypted) value. */
  holdsEncrypted(path: string): boolean;
  /** Some path of these documents may hold ciphertext. */
  readonly mayHoldCiphertext: boolean;
  /** The model the documents come from declares encrypted fields (whatever a pipeline kept of them). */
  readonly modelEncrypted: boolean;
  /** The declared fields at the top level, for stages that keep or drop them. */
  readonly shape: ModelShape;
}

export function hasEncrypted(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  seen.add(shape);
  for (const f of shape.fields.values()) {
    if (f.encrypted || isTainted(f)) return true;
    if (f.embedded && !seen.has(f.embedded) && hasEncrypted(f.embedded, seen)) return true;
  }
  return false;
}

export function hasRandom(shape: ModelShape, seen = new Set<ModelShape>()): boolean {
  seen.add(shape);
  for (const f of shape.fields.values()) {
    if (f.encrypted?.algorithm === 'Random' || isTainted(f)) return true;
    if (f.embedded && !seen.has(f.embedded) && hasRandom(f.embedded, seen)) return true;
  }
  return false;
}

/** Fields a pipeline produced whose content Strongbox cannot describe but which may hold ciphertext. */
const tainted = new WeakSet<FieldMetadata>();

export function taintedField(name: string): FieldMetadata {
  const field: FieldMetadata = { name, isArray: false, optional: true, isId: false };
  tainted.add(field);
  return field;
}

/** A field a pipeline computed from plaintext only: anything may lie below it, all of it plain. */
export function computedField(name: string): FieldMetadata {
  return { name, isArray: false, optional: true, isId: false };
}

export function isTainted(field: FieldMetadata): boolean {
  return tainted.has(field);
}

function holds(scope: ModelScope | DerivedScope, path: string): boolean {
  const { chain, unresolved } = walkPath(scope.shape, path.split('.'));
  if (chain.some((f) => f.encrypted || isTainted(f))) return true;
  // Nothing declared there: only documents of unknown origin may hold ciphertext at such a path,
  // and a removed encrypted field of the model is still treated as one.
  if (chain.length === 0 && unresolved.length > 0) return scope instanceof DerivedScope && (scope.openTainted || modelHolds(scope.shape.target, path));
  const last = chain[chain.length - 1];
  return unresolved.length === 0 && last?.embedded !== undefined && hasEncrypted(last.embedded);
}

/** Model classes that declare encrypted fields, so scopes derived from them know it. */
const encryptedModels = new WeakSet<Function>();
/** The model each class stands for, so a derived scope can tell a removed encrypted field from a new name. */
const modelShapes = new WeakMap<Function, ModelShape>();

/**
 * Registers `target` as standing for `shape` in derived scopes: a path `shape` encrypts stays
 * refused by name after a stage removed it. The change-event scope registers the shape of an event
 * (its images, and the model's own names for a forgotten `fullDocument.` prefix) this way.
 */
export function standFor(target: Function, shape: ModelShape, encrypted: boolean): void {
  if (encrypted) encryptedModels.add(target);
  modelShapes.set(target, shape);
}

/** The path names (or lies inside) an encrypted field, or a document holding encrypted fields, of the model. */
function modelHolds(target: Function, path: string): boolean {
  const model = modelShapes.get(target);
  if (!model) return false;
  const { chain, unresolved } = walkPath(model, path.split('.'));
  const last = chain[chain.length - 1];
  return chain.some((f) => f.encrypted) || (unresolved.length === 0 && last?.embedded !== undefined && hasEncrypted(last.embedded));
}

/** The model as stored: unknown paths are typos and refused. */
export class ModelScope implements Scope {
  readonly name: string;
  readonly mayHoldCiphertext: boolean;
  readonly modelEncrypted: boolean;
  constructor(readonly shape: ModelMetadata) {
    this.name = shape.target.name;
    this.mayHoldCiphertext = this.modelEncrypted = hasEncrypted(shape);
    if (this.modelEncrypted) encryptedModels.add(shape.target);
    modelShapes.set(shape.target, shape);
  }
  resolve(path: string, operation: string): ResolvedPath {
    let known = resolvedPaths.get(this.shape);
    if (known === undefined) resolvedPaths.set(this.shape, known = new Map());
    let resolved = known.get(path);
    if (resolved === undefined) {
      resolved = Object.freeze(resolvePath(this.shape, path, operation));
      if (known.size < RESOLVED_PATHS_KEPT) known.set(path, resolved);
    }
    return resolved;
  }
  holdsEncrypted(path: string): boolean {
    return holds(this, path);
  }
}

/**
 * Paths of each model resolved before, shared by its repositories (a model's shape never
 * changes); a refused path throws each time. Bounded: paths below free-form objects are the
 * caller's, any number of them.
 */
const resolvedPaths = new WeakMap<ModelShape, Map<string, ResolvedPath>>();
const RESOLVED_PATHS_KEPT = 1024;

/**
 * The documents after a reshaping stage: the fields Strongbox could follow (moved encrypted
 * fields keep their kind and key), computed plain fields, and fields that may hold ciphertext
 * it cannot describe (tainted). A path not listed does not exist, so it is plain — unless an
 * earlier stage brought in documents Strongbox knows nothing about (`openTainted`).
 */
export class DerivedScope implements Scope {
  readonly mayHoldCiphertext: boolean;
  readonly modelEncrypted: boolean;
  readonly shape: ModelShape;
  constructor(readonly name: string, target: Function, fields: ReadonlyMap<string, FieldMetadata>, readonly openTainted = false) {
    this.shape = { target, fields };
    this.mayHoldCiphertext = openTainted || hasEncrypted(this.shape);
    this.modelEncrypted = encryptedModels.has(target);
  }
  resolve(path: string, operation: string): ResolvedPath {
    const walk = walkPath(this.shape, path.split('.'));
    if (walk.chain.some(isTainted) || (walk.chain.length === 0 && this.openTainted)) return { names: namesOf(walk), tainted: true };
    // A name the pipeline no longer has, but which is an encrypted field of the model: a value meant for it would be sent in the clear.
    if (walk.chain.length === 0 && modelHolds(this.shape.target, path)) return { names: namesOf(walk), tainted: true };
    // A name the documents do not have, on a model with encrypted fields, is refused as in the model
    // itself: it may be a field a stage removed or renamed (an embedded document's 'zip' once
    // '$address' is the root and zip was projected away), or a mistake for an encrypted one, and a
    // value compared with it would go out in the clear.
    if (walk.chain.length === 0 && this.modelEncrypted) return resolvePath(this.shape, path, operation);
    const last = walk.chain[walk.chain.length - 1];
    // An embedded document declares its fields, here as in the model: a path below it that names
    // none of them ('contacts.0.phone' once contacts is unwound to one document) is a mistake for a
    // field that may well be encrypted, and its comparand would go out in the clear. Refused.
    if (walk.chain.some((f) => f.encrypted) || (walk.unresolved.length > 0 && last?.embedded !== undefined)) return resolvePath(this.shape, path, operation);
    // Below a computed field, an unknown path does not exist: plain.
    return { field: walk.unresolved.length ? undefined : last, names: namesOf(walk), tainted: false };
  }
  holdsEncrypted(path: string): boolean {
    return holds(this, path);
  }
}

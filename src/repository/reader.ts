import { BSON, type Binary, type Document } from 'mongodb';
import { idText, isPlainDocument, valuesInsideBson } from '../bson/documents';
import { inspectEncryptedBlob, isEncryptedBinary, type EncryptedBlobInfo } from '../crypto/blob';
import { classifyCryptError, DECRYPTION_CODE, describeUndecryptable, type CryptoEngine, type UndecryptableField, type UndecryptableReason } from '../crypto/engine';
import { DecryptionError } from '../errors';
import { hydrate } from '../metadata/hydrate';
import { walkPath } from '../metadata/paths';
import { fromStoredBson } from '../metadata/storedForm';
import type { FieldMetadata, ModelMetadata, ModelShape } from '../metadata/types';
import { markerFor, UndecryptableValue } from '../stored/undecryptable';
import { BSON_TYPE_NUMBER } from '../stored/values';
import { toDeclaredBson } from './encoding/values';

export { UndecryptableValue } from '../stored/undecryptable';

export type UndecryptablePolicy = 'throw' | 'marker';

/**
 * Where a value sits: the object (document, array, DBRef, Code) holding it, and its key there. A
 * marker is put in place by it, not by the dotted path the messages show, which is ambiguous when a
 * stored key holds a dot or names a DBRef's or Code's inner value ('$id', '$scope').
 */
interface Place {
  container: Record<string, unknown>;
  key: string;
}

/** A value that could not be decrypted (or must not be), and where it sits. */
interface Failure {
  problem: UndecryptableField;
  place: Place;
}

type Fail = (doc: number, problem: UndecryptableField, place: Place) => void;

/** A ciphertext found at a declared encrypted path, waiting for its checks and its decryption. */
interface Slot extends Place {
  doc: number;
  container: Document;
  path: string;
  blob: Binary;
  /** Undefined for a ciphertext a pipeline moved to a path of its own making (see decrypt()). */
  field?: FieldMetadata;
}

/**
 * The shape of pipeline results, as the query analyzer followed it: declared (and moved) fields
 * are read like the model's; `loose` fields — and, when `openLoose`, undeclared paths — may hold
 * ciphertext the analyzer could not describe (a `$push` of encrypted values, `$lookup` results).
 */
export interface ResultShape {
  shape: ModelShape;
  loose: (field: FieldMetadata) => boolean;
  openLoose: boolean;
}

/** What one decryption pass left: the values that failed, by document, and the documents whose _id was itself decrypted. */
interface Decrypted {
  failures: Map<number, Failure[]>;
  encryptedIds: ReadonlySet<number>;
}

/** The model's encrypted fields by 'algorithm:type' ('Random:*' for a Random field of undeclared type). */
type PipelineOrigins = Map<string, FieldMetadata[]>;

/**
 * Decrypts a batch of stored documents and turns them into model instances.
 *
 * Only values at paths the model declares encrypted are decrypted, and only after their clear
 * header agrees with the model: algorithm, the plaintext's BSON type (byte 17), and the data key
 * the model names for that document. Anything else — ciphertext in a plain field, another
 * field's or another customer's ciphertext — is a DecryptionError (or an UndecryptableValue under
 * `onUndecryptable: 'marker'`), never a value: otherwise whoever can write to the database could
 * copy a ciphertext into a field they can read back and have Strongbox decrypt it for them.
 */
export class DocumentReader<T> {
  private readonly origins: PipelineOrigins;
  private readonly modelShape: ResultShape;
  /** For a collection of variants: the fields every variant has, for documents naming no known variant. */
  private readonly sharedShape: ModelShape | undefined;

  constructor(
    private readonly model: ModelMetadata,
    private readonly engine: CryptoEngine,
    private readonly policy: UndecryptablePolicy,
  ) {
    this.origins = encryptedOrigins(model, new Map());
    this.modelShape = { shape: model, loose: () => false, openLoose: false };
    const variants = model.variants && [...model.variants.byValue.values()];
    this.sharedShape = variants && { ...model, fields: new Map([...model.fields].filter(([name]) => variants.every((v) => v.fields.has(name)))) };
  }

  /**
   * The shape a document of the model is walked along. In a collection of variants, a document
   * is read as the variant its discriminator names, so a ciphertext of another variant's field
   * planted in it is refused, not decrypted; a document naming no known variant, with the fields
   * all variants share. Without the discriminator (a projection left it out), as the union.
   */
  private shapeOf(result: ResultShape, doc: Document): ModelShape {
    const variants = this.model.variants;
    if (result.shape !== this.model || variants === undefined) return result.shape;
    const value = doc[variants.field];
    if (value === undefined) return result.shape;
    return (typeof value === 'string' ? variants.byValue.get(value) : undefined) ?? this.sharedShape!;
  }

  /**
   * Decrypts pipeline results along the shape the query analyzer followed: declared and moved
   * encrypted fields are checked as for reads of the model (algorithm, type, key); a ciphertext
   * where the analyzer said one *may* be is decrypted only when its header is that of one of the
   * model's encrypted fields under a fixed key — the very key that field names — so a planted
   * ciphertext (another customer's, under a per-document key) is never decrypted. Ciphertext
   * anywhere else is refused.
   */
  decrypt(stored: Document[], result: ResultShape = this.modelShape): Promise<Document[]> {
    return this.decryptAlong(stored, result);
  }

  private async decryptAlong(stored: Document[], result: ResultShape): Promise<Document[]> {
    const decrypted = await this.decryptSlots(stored, (into) => {
      // One walk state for the batch, pointed at each document in turn (not a copy per document).
      const walk: Collection = { ...into, doc: 0, result };
      for (; walk.doc < stored.length; walk.doc++) collect(this.shapeOf(result, stored[walk.doc]), stored[walk.doc], '', walk);
    });
    return this.settle(stored, decrypted);
  }

  /**
   * Collects the slots of `docs` (ciphertext where the walk expects it), checks their headers
   * against the model, decrypts the ones that pass in one pass, in place; returns what failed, by document.
   */
  private async decryptSlots(docs: Document[], walk: (into: Omit<Collection, 'doc' | 'result'>) => void): Promise<Decrypted> {
    const slots: Slot[] = [];
    const failures = new Map<number, Failure[]>();
    const fail: Fail = (doc, problem, place) => failures.set(doc, [...(failures.get(doc) ?? []), { problem, place }]);
    walk({ slots, fail });
    // A pipeline may have moved an encrypted value to _id: decrypted in place, it must not name its document in an error.
    const encryptedIds = new Set(slots.filter((s) => s.path === '_id' || s.path.startsWith('_id.')).map((s) => s.doc));
    // Nothing to check or decrypt (a model without encrypted fields, or none stored in these documents).
    if (slots.length === 0) return { failures, encryptedIds };
    const verified = await this.verify(docs, slots, fail);
    const { values, failures: cryptFailures } = await this.engine.decryptValues(verified.map((s) => s.blob));
    verified.forEach((slot, i) => {
      const failure = cryptFailures.get(i);
      if (failure) fail(slot.doc, { ...failure, path: slot.path }, slot);
      else slot.container[slot.key] = values[i];
    });
    return { failures, encryptedIds };
  }

  /** A loose ciphertext is one of the model's fields' under that field's fixed key, or nothing to decrypt. */
  private async looseOrigin(info: EncryptedBlobInfo): Promise<boolean> {
    const candidates = [...(this.origins.get(`${info.algorithm}:${info.originalBsonType}`) ?? []), ...(this.origins.get(`${info.algorithm}:*`) ?? [])];
    for (const field of candidates) {
      const kind = field.encrypted!.key.kind;
      if (kind !== 'id' && kind !== 'altName') continue; // a per-document key cannot be told from a reshaped document
      if ((await this.expectedKeyId(field, {})) === info.keyId) return true;
    }
    return false;
  }

  /**
   * The slots whose header matches the model; the others are reported and left encrypted.
   *
   * The header checks are synchronous, and the key each value must be under is awaited once per
   * distinct lookup in the batch, not once per value: an async check per value made streaming a
   * cursor allocate some 10 MiB of promises and frames per 1,000 documents of 5 encrypted fields,
   * enough garbage to grow the process's peak memory with the length of the stream.
   */
  private async verify(docs: Document[], slots: Slot[], fail: Fail): Promise<Slot[]> {
    // Per slot: the key id it must be under, or the lookup that answers it, PASSED for a loose
    // ciphertext found to be the model's, REJECTED once reported. Two arrays for the batch, not an
    // entry per value: they are most of what verifying a streamed batch allocates.
    const expected: Array<string | null | Promise<string | undefined> | typeof PASSED | typeof REJECTED> = new Array(slots.length);
    const infos: Array<EncryptedBlobInfo | undefined> = new Array(slots.length);
    const loose: Promise<void>[] = [];
    for (let index = 0; index < slots.length; index++) {
      const slot = slots[index];
      const info = inspectEncryptedBlob(slot.blob);
      infos[index] = info;
      expected[index] = REJECTED;
      if (!info) {
        reject(fail, slot, info, 'corrupt', 'the header is not a stored ciphertext\'s');
        continue;
      }
      const field = slot.field;
      if (!field) {
        loose.push(this.looseOrigin(info).then(
          (known) => { if (known) expected[index] = PASSED; else reject(fail, slot, info, 'misplaced', 'ciphertext of no encrypted field of the model under the key that field names'); },
          (err) => reject(fail, slot, info, classifyCryptError(err), 'the data keys the model names could not be looked up'),
        ));
        continue;
      }
      const spec = field.encrypted!;
      if (info.algorithm !== spec.algorithm) {
        reject(fail, slot, info, 'algorithm-mismatch', `${info.algorithm} ciphertext where the model declares ${spec.algorithm}`);
      } else if (spec.bsonType !== undefined && info.originalBsonType !== BSON_TYPE_NUMBER[spec.bsonType]) {
        reject(fail, slot, info, 'type-mismatch', `ciphertext of BSON type ${info.originalBsonType} where the model declares ${spec.bsonType}`);
      } else {
        try {
          expected[index] = this.expectedKeyId(field, docs[slot.doc]);
        } catch (err) {
          reject(fail, slot, info, classifyCryptError(err), 'the data key the model names could not be looked up');
        }
      }
    }
    // The engine hands out one promise per alt name it remembers, so a batch under one key waits once.
    const answers = new Map<Promise<string | undefined>, { failed: boolean; id?: string; error?: unknown }>();
    for (const lookup of expected) if (lookup instanceof Promise && !answers.has(lookup)) answers.set(lookup, { failed: false });
    await Promise.all([...loose, ...[...answers].map(([lookup, answer]) => lookup.then((id) => { answer.id = id; }, (error) => { answer.failed = true; answer.error = error; }))]);
    const passed: Slot[] = [];
    for (let index = 0; index < slots.length; index++) {
      const named = expected[index];
      if (named === REJECTED) continue;
      const slot = slots[index];
      if (named === PASSED) {
        passed.push(slot);
        continue;
      }
      const info = infos[index]!;
      let id: string | null;
      if (named instanceof Promise) {
        const answer = answers.get(named)!;
        if (answer.failed) {
          // The key vault could not be asked which key the document names: nothing is decrypted unchecked.
          reject(fail, slot, info, classifyCryptError(answer.error), 'the data key the model names could not be looked up');
          continue;
        }
        id = answer.id ?? null;
      } else id = named;
      if (id === null) reject(fail, slot, info, 'missing-key', 'the data key the model names for this document is not in the key vault');
      else if (id !== info.keyId) reject(fail, slot, info, 'key-mismatch', `ciphertext under data key ${info.keyId}, where the model names ${id}`);
      else passed.push(slot);
    }
    return passed;
  }

  /**
   * The key id the model names for this value of this document: known from the model, or a
   * lookup by alt name (the key's id, undefined when the key vault has no such key); null when
   * the document names no key.
   */
  private expectedKeyId(field: FieldMetadata, doc: Document): string | null | Promise<string | undefined> {
    const key = field.encrypted!.key;
    let altName: unknown;
    switch (key.kind) {
      case 'id': return key.id.toUUID().toHexString();
      case 'altName': altName = key.altName; break;
      case 'altNameFromField': altName = key.path.reduce<unknown>((v, seg) => (v as Document | undefined)?.[seg], doc); break;
      case 'altNameFunction':
        try { altName = key.fn(doc); } catch { altName = undefined; }
        break;
    }
    if (typeof altName !== 'string' || altName === '') return null;
    return this.engine.keyIdForAltName(altName);
  }

  private settle(docs: Document[], { failures, encryptedIds }: Decrypted): Document[] {
    for (const [i, problems] of failures) {
      if (this.policy === 'throw') {
        const first = problems[0].problem;
        const which = encryptedIds.has(i) ? '(a document whose _id holds an encrypted value)' : whichDocument(docs[i]);
        throw new DecryptionError(DECRYPTION_CODE[first.reason],
          describeUndecryptable(first, `${this.model.target.name} ${which}`) + (problems.length > 1 ? ` (${problems.length - 1} more undecryptable value(s) in this document)` : ''),
          { fix: fixFor(first.reason) });
      }
      // Every marker is made before any is put in place: one for a value that holds others (an array of
      // ciphertexts where a string is declared) stands for the value as stored, not for markers.
      const markers = problems.map(({ problem, place }) => markerFor(problem, place.container[place.key]));
      problems.forEach(({ place }, k) => { place.container[place.key] = markers[k]; });
    }
    return docs;
  }

  /**
   * The `updatedFields` of an update change event, whose keys are dotted paths of the model
   * ('address.zip', 'contacts.1'): a value at a path the model declares encrypted is checked and
   * decrypted like the field in a read (algorithm, type, and the key named for `root`, the stored
   * document when the event carries it); ciphertext at any other path is refused as misplaced.
   * Decrypts in place and returns `updated`.
   */
  async decryptUpdatedFields(updated: Document, root: Document): Promise<Document> {
    const decrypted = await this.decryptSlots([root], (into) => {
      for (const path of Object.keys(updated)) collectAtPath(this.model, updated, path, { ...into, doc: 0, result: this.modelShape });
    });
    this.settle([root], decrypted);
    return updated;
  }

  /** Documents of the model: decrypted only at declared encrypted paths, then hydrated. */
  async read(stored: Document[]): Promise<T[]> {
    const docs = await this.decryptAlong(stored, this.modelShape);
    return docs.map((doc) => hydrate<T>(this.model, doc));
  }

  /**
   * read() for a batch still in BSON (a `raw: true` cursor). A model without encrypted fields
   * reads a batch without ciphertext synchronously: the walk of read() could find nothing to
   * decrypt and nothing to refuse in it, so one scan for ciphertext replaces the walk, its
   * bookkeeping and its promises (most reads of such models).
   *
   * Each document is read from a copy of its bytes: BSON reads a Binary as a view into the bytes
   * it reads, and `stored` is what change tracking keeps of the document, so a change made in place
   * to a Binary of the entity would otherwise change the snapshot with it, and save() would see no
   * change to send.
   */
  readRaw(stored: Uint8Array[]): T[] | Promise<T[]> {
    const docs = stored.map((bytes) => BSON.deserialize(new Uint8Array(bytes)));
    if (this.origins.size > 0 || docs.some(holdsCiphertext)) return this.read(docs);
    return docs.map((doc) => hydrate<T>(this.model, doc));
  }
}

/** What verify() records for a slot that passed its checks without a key to compare (a loose ciphertext of the model's). */
const PASSED = Symbol('passed');
/** What verify() records for a slot it reported. */
const REJECTED = Symbol('rejected');

/** Reports a slot that fails its checks; it stays encrypted. */
function reject(fail: Fail, slot: Slot, info: EncryptedBlobInfo | undefined, reason: UndecryptableReason, detail: string): void {
  fail(slot.doc, { path: slot.path, keyId: info?.keyId, algorithm: info?.algorithm, reason, detail }, slot);
}

function fixFor(reason: UndecryptableReason): string {
  switch (reason) {
    case 'misplaced': case 'algorithm-mismatch': case 'type-mismatch': case 'key-mismatch':
      return "run `strongbox audit` to list such values with their document ids, and restore them from a trusted source; to read the rest of such documents, create the repository with { onUndecryptable: 'marker' }.";
    default:
      return "restore the key or master key; to read the rest of such documents, create the repository with { onUndecryptable: 'marker' }.";
  }
}

/**
 * Walks a stored document along the model: ciphertext at a declared encrypted path becomes a
 * slot to check and decrypt; ciphertext anywhere else, and plaintext of the wrong type at an
 * encrypted path, is a failure. Documents in arrays of embedded documents are walked one by one
 * (and a single one too, as `$unwind` leaves it).
 */
interface Collection {
  doc: number;
  slots: Slot[];
  fail: Fail;
  /** Where ciphertext the analyzer could not describe may be (pipeline results). */
  result: ResultShape;
}

function collect(shape: ModelShape, node: Document, prefix: string, into: Collection): void {
  const { doc, slots, fail } = into;
  for (const key of Object.keys(node)) {
    const value = node[key];
    const path = prefix ? `${prefix}.${key}` : key;
    const field = shape.fields.get(key);
    if (field?.encrypted) {
      if (isEncryptedBinary(value)) slots.push({ doc, container: node, key, path, blob: value, field });
      // A marker a written snapshot kept where it was read: it already says what went wrong there.
      else if (value instanceof UndecryptableValue) continue;
      else if (value !== null && value !== undefined) checkPlaintext(field, value, path, { container: node, key }, doc, fail);
    } else if (field?.embedded && Array.isArray(value)) {
      value.forEach((item, i) => {
        if (isPlainDocument(item)) collect(field.embedded!, item, `${path}.${i}`, into);
        else reportMisplaced(item, `${path}.${i}`, { container: value as unknown as Document, key: String(i) }, doc, fail);
      });
    } else if (field?.embedded && isPlainDocument(value)) {
      collect(field.embedded, value, path, into);
    } else if (field ? into.result.loose(field) : into.result.openLoose) {
      collectLoose(node, key, path, into);
    } else {
      reportMisplaced(value, path, { container: node, key }, doc, fail);
    }
  }
}

/**
 * One entry of a change event's `updatedFields`, stored under its dotted path: an encrypted field
 * is a slot, an embedded document (or an array of them, or one element of it) is walked like a
 * stored one, and anything else is a plain value that must hold no ciphertext.
 */
function collectAtPath(model: ModelShape, updated: Document, path: string, into: Collection): void {
  const value = updated[path];
  const walk = walkPath(model, path.split('.'));
  const field = walk.unresolved.length === 0 ? walk.chain[walk.chain.length - 1] : undefined;
  const insideEncrypted = walk.chain.slice(0, -1).some((f) => f.encrypted);
  if (field?.encrypted && !walk.endsInElement && !insideEncrypted) {
    if (isEncryptedBinary(value)) into.slots.push({ doc: into.doc, container: updated, key: path, path, blob: value, field });
    else if (value !== null && value !== undefined) checkPlaintext(field, value, path, { container: updated, key: path }, into.doc, into.fail);
  } else if (field?.embedded && !field.encrypted && !insideEncrypted && (walk.endsInElement || !field.isArray) && isPlainDocument(value)) {
    collect(field.embedded, value, path, into);
  } else if (field?.embedded && !field.encrypted && !insideEncrypted && field.isArray && !walk.endsInElement && Array.isArray(value)) {
    value.forEach((item, i) => {
      if (isPlainDocument(item)) collect(field.embedded!, item, `${path}.${i}`, into);
      else reportMisplaced(item, `${path}.${i}`, { container: value as unknown as Document, key: String(i) }, into.doc, into.fail);
    });
  } else {
    reportMisplaced(value, path, { container: updated, key: path }, into.doc, into.fail);
  }
}

/** Every ciphertext inside a value at a path the model does not declare (pipeline results only). */
function collectLoose(container: Document, key: string, path: string, into: Collection): void {
  const value = container[key];
  if (isEncryptedBinary(value)) into.slots.push({ doc: into.doc, container, key, path, blob: value });
  else if (Array.isArray(value)) value.forEach((_, i) => collectLoose(value as unknown as Document, String(i), `${path}.${i}`, into));
  else if (isPlainDocument(value)) for (const k of Object.keys(value)) collectLoose(value, k, `${path}.${k}`, into);
}

/**
 * Plaintext at an encrypted path (written before the field was encrypted, or by another client)
 * is returned as it is when it has the declared type; of another type — a Binary copy of a
 * ciphertext where a string is declared — it is not the field's value.
 */
function checkPlaintext(field: FieldMetadata, value: unknown, path: string, place: Place, doc: number, fail: Fail): void {
  reportMisplaced(value, path, place, doc, fail);
  if (field.encrypted!.bsonType === undefined) return;
  try {
    toDeclaredBson(fromStoredBson(value, field), field, path);
  } catch {
    fail(doc, { path, reason: 'type-mismatch', detail: `plaintext of another type than the declared ${field.encrypted!.bsonType}` }, place);
  }
}

/** Whether a ciphertext sits anywhere in the value (documents and arrays searched through). */
function holdsCiphertext(value: unknown): boolean {
  if (isEncryptedBinary(value)) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsCiphertext(value[i])) return true;
  } else if (isPlainDocument(value)) {
    for (const key in value) if (holdsCiphertext(value[key])) return true;
  } else {
    const inside = valuesInsideBson(value);
    if (inside) for (const [, item] of inside) if (holdsCiphertext(item)) return true;
  }
  return false;
}

/** Every ciphertext inside a value where the model declares none is reported, not decrypted. */
function reportMisplaced(value: unknown, path: string, place: Place, doc: number, fail: Fail): void {
  if (isEncryptedBinary(value)) {
    const info = inspectEncryptedBlob(value);
    fail(doc, { path, keyId: info?.keyId, algorithm: info?.algorithm, reason: 'misplaced', detail: 'ciphertext where the model declares a plain value' }, place);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => reportMisplaced(item, `${path}.${i}`, { container: value as unknown as Document, key: String(i) }, doc, fail));
  } else if (isPlainDocument(value)) {
    for (const key of Object.keys(value)) reportMisplaced(value[key], `${path}.${key}`, { container: value, key }, doc, fail);
  } else {
    for (const [name, item, container, key] of valuesInsideBson(value) ?? []) reportMisplaced(item, `${path}.${name}`, { container, key }, doc, fail);
  }
}

/** The model's encrypted fields by 'algorithm:type', embedded documents included. */
function encryptedOrigins(shape: ModelShape, origins: PipelineOrigins, seen = new Set<ModelShape>()): PipelineOrigins {
  seen.add(shape);
  for (const field of shape.fields.values()) {
    const spec = field.encrypted;
    if (spec) {
      const key = `${spec.algorithm}:${spec.bsonType === undefined ? '*' : BSON_TYPE_NUMBER[spec.bsonType]}`;
      origins.set(key, [...(origins.get(key) ?? []), field]);
    } else if (field.embedded && !seen.has(field.embedded)) encryptedOrigins(field.embedded, origins, seen);
  }
  return origins;
}

function whichDocument(doc: Document): string {
  const id = doc?._id;
  return id === undefined ? '(document without _id)' : `_id ${idText(id)}`;
}

import { DETERMINISTIC_REFUSED, NEVER_ENCRYPTED } from './bsonTypes';
import { definitionError, show, type Site } from './definitionError';
import { parseKeyOptions } from './keys';
import type { EncryptedOptions } from './options';
import type { Algorithm, BsonType, EncryptionSpec, KeyRef } from './types';

const ALGORITHMS: readonly Algorithm[] = ['Deterministic', 'Random'];

/**
 * The encryption of one field, checked against what MongoDB's client-side encryption accepts.
 * `bsonType` is the field's stored type as already determined (undefined when unknown).
 */
export function encryptionSpecOf(
  options: EncryptedOptions,
  bsonType: BsonType | undefined,
  site: Site,
  defaultKey: KeyRef | undefined,
): EncryptionSpec {
  const { algorithm } = options;
  if (!ALGORITHMS.includes(algorithm)) {
    throw definitionError('MODEL_ALGORITHM_UNKNOWN', site, `${show(algorithm)} is not an encryption algorithm`,
      `@Encrypted({ algorithm: 'Deterministic' }) to allow equality queries, or 'Random' for the strongest protection`);
  }
  checkTypeCount(options, site);
  if (bsonType !== undefined && NEVER_ENCRYPTED.has(bsonType)) {
    throw definitionError('MODEL_ENCRYPT_TYPE_REFUSED', site, `MongoDB cannot encrypt values of type '${bsonType}' with any algorithm`,
      'remove @Encrypted from this field, or change its type');
  }
  if (algorithm === 'Deterministic') checkDeterministicType(bsonType, site);

  const ownKey = parseKeyOptions(options, site, 'Encrypted');
  const key = ownKey ?? defaultKey;
  if (!key) {
    throw definitionError('MODEL_KEY_MISSING', site, 'no data key is named for this encrypted field and its model has no default key',
      `@Encrypted({ …, keyAltName: 'hr' }) or a model-wide default: @Model({ db, collection, keyAltName: 'hr' })`);
  }
  if (algorithm === 'Deterministic' && (key.kind === 'altNameFromField' || key.kind === 'altNameFunction')) {
    const how = key.kind === 'altNameFromField' ? `a JSON pointer (${key.pointer})` : 'a function';
    throw definitionError('MODEL_DETERMINISTIC_PER_DOCUMENT_KEY', site,
      `Deterministic encryption cannot use a per-document key chosen by ${how}${ownKey ? '' : ' inherited from the model'}: an equality query must encrypt its value before any document is known, and MongoDB refuses pointer keyIds for queried fields`,
      `give the field a fixed key, e.g. @Encrypted({ algorithm: 'Deterministic', bsonType: '${bsonType ?? 'string'}', keyAltName: 'hr' }), or use Random`);
  }
  return { algorithm, ...(bsonType === undefined ? {} : { bsonType }), key, inheritsModelKey: !ownKey };
}

function checkTypeCount(options: EncryptedOptions, site: Site): void {
  const types = options.bsonType;
  if (!Array.isArray(types) || types.length === 1) return;
  if (options.algorithm === 'Deterministic') {
    throw definitionError('MODEL_DETERMINISTIC_BSONTYPE', site,
      `Deterministic encryption needs exactly one bsonType, got ${types.length === 0 ? 'none' : types.length}`,
      `@Encrypted({ algorithm: 'Deterministic', bsonType: 'string' })`);
  }
  throw definitionError('MODEL_BSONTYPE_MULTIPLE', site, `Strongbox maps each field to one BSON type, got ${types.length}`,
    `one bsonType, or none: Random encryption accepts any type when bsonType is omitted`);
}

function checkDeterministicType(bsonType: BsonType | undefined, site: Site): void {
  if (bsonType === undefined) {
    throw definitionError('MODEL_DETERMINISTIC_BSONTYPE', site,
      'Deterministic encryption needs exactly one bsonType, got none (TypeScript cannot infer it from Deterministic<T>)',
      `@Encrypted({ algorithm: 'Deterministic', bsonType: 'string' })`);
  }
  if (!DETERMINISTIC_REFUSED.has(bsonType)) return;
  throw definitionError('MODEL_DETERMINISTIC_TYPE_REFUSED', site,
    `Deterministic encryption refuses type '${bsonType}' (MongoDB does not allow it: ${WHY_REFUSED[bsonType]})`,
    FIX_REFUSED[bsonType] ?? `@Encrypted({ algorithm: 'Random' })`);
}

const WHY_REFUSED: Partial<Record<BsonType, string>> = {
  double: 'equal numbers can have different encodings',
  decimal: 'equal numbers can have different encodings',
  bool: 'two possible values leave nothing to hide from frequency analysis',
  object: 'documents are encrypted whole, so equality would depend on field order',
  array: 'arrays are encrypted whole, so equality would depend on element order',
  javascriptWithScope: 'its scope is a document, encrypted whole, so equality would depend on field order',
};

const FIX_REFUSED: Partial<Record<BsonType, string>> = {
  double: `store it as 'int', 'long' or 'string' with Deterministic, or use @Encrypted({ algorithm: 'Random' })`,
  decimal: `store it as 'string' with Deterministic, or use @Encrypted({ algorithm: 'Random' })`,
  object: `use @Encrypted({ algorithm: 'Random' }) to encrypt the whole document, or encrypt the fields inside it`,
  array: `use @Encrypted({ algorithm: 'Random' }) to encrypt the whole array, or encrypt the fields of its documents`,
};

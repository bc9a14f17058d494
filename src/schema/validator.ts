import type { ModelMetadata } from '../metadata/types';
import { modelRule, type ObjectRule } from './encryptSchema';
import type { KeyAltNameResolver } from './keyIds';

export interface EncryptionValidator {
  $jsonSchema: ObjectRule;
}

/**
 * The collection validator (for create or collMod) that makes the server reject writes whose
 * encrypted fields are not subtype-6 binaries of the declared type. It lists only encryption
 * rules, so it constrains nothing else about the documents. Unlike the schema map it can
 * cover fields inside array elements and function-chosen keys (no keyId: the server checks
 * that a value is encrypted, not with which key).
 */
export function buildValidator(model: ModelMetadata, resolver?: KeyAltNameResolver): EncryptionValidator {
  return { $jsonSchema: modelRule(model, resolver, { encryptInArrays: true, functionKeys: 'omitKeyId' }) };
}

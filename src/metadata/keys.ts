import { Binary, UUID } from 'mongodb';
import { parsePointer } from '../bson/jsonPointer';
import { definitionError, type Site } from './definitionError';
import type { KeyOptions } from './options';
import type { KeyRef } from './types';

/** The key named by `keyAltName`/`keyId`, or undefined when neither is given. */
export function parseKeyOptions(options: KeyOptions, site: Site, decorator: string): KeyRef | undefined {
  const { keyAltName, keyId } = options;
  if (keyAltName !== undefined && keyId !== undefined) {
    throw definitionError('MODEL_KEY_AMBIGUOUS', site, 'both keyAltName and keyId are given, so the data key is ambiguous',
      `keep one of them in @${decorator}(…)`);
  }
  if (keyId !== undefined) return { kind: 'id', id: parseKeyId(keyId, site, decorator) };
  if (keyAltName === undefined) return undefined;
  if (typeof keyAltName === 'function') return { kind: 'altNameFunction', fn: keyAltName };
  if (typeof keyAltName !== 'string' || keyAltName === '' || keyAltName === '/') {
    throw definitionError('MODEL_KEY_ALT_NAME_INVALID', site, `keyAltName must be a non-empty string, a JSON pointer such as '/employeeNo', or a function, got ${describe(keyAltName)}`,
      `@${decorator}({ …, keyAltName: 'hr' })`);
  }
  if (keyAltName.startsWith('/')) return { kind: 'altNameFromField', pointer: keyAltName, path: parsePointer(keyAltName) };
  return { kind: 'altName', altName: keyAltName };
}

function parseKeyId(keyId: unknown, site: Site, decorator: string): Binary {
  if (keyId instanceof Binary && keyId.sub_type === Binary.SUBTYPE_UUID && keyId.length() === 16) return keyId;
  if (typeof keyId === 'string' && UUID.isValid(keyId)) return new UUID(keyId);
  throw definitionError('MODEL_KEY_ID_INVALID', site, `keyId must be a UUID (Binary subtype 4 or a UUID string) naming a data key, got ${describe(keyId)}`,
    `@${decorator}({ …, keyId: 'e114f7ad-ad7a-4a68-81a7-ebcb9ea0953a' }) with the _id of a key in the key vault, or use keyAltName`);
}

function describe(value: unknown): string {
  if (value instanceof Binary) return `Binary subtype ${value.sub_type} of ${value.length()} bytes`;
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value;
}

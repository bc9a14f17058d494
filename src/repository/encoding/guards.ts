import { InvalidInputError } from '../../errors';

/** Keys that would reach Object.prototype or a constructor when copied onto plain objects. */
const POLLUTING_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function assertSafeKey(key: string, where: string): void {
  if (POLLUTING_KEYS.has(key)) {
    throw new InvalidInputError('INPUT_POLLUTING_KEY', `${where}: the key "${key}" is not allowed (it could pollute object prototypes).`, {
      fix: 'rename the field; if the key comes from user input, validate it before building the query.',
    });
  }
}

/** Own enumerable string keys, each checked against prototype pollution. */
export function safeEntries(value: object, where: string): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  for (const key of Object.keys(value)) {
    assertSafeKey(key, where);
    entries.push([key, (value as Record<string, unknown>)[key]]);
  }
  return entries;
}

export function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

export function invalid(code: string, message: string, fix: string): InvalidInputError {
  return new InvalidInputError(code, message, { fix });
}

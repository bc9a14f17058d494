import { Binary, UUID, type Document } from 'mongodb';
import { MigrationError } from '../errors';
import type { ModelMetadata } from '../metadata/types';
import { buildValidator } from '../schema/validator';
import type { Json, ValidatorJson } from './types';

/** Stands where a key id will go, so a validator can be written before any key exists. */
class AltNameMarker {
  constructor(readonly altName: string) {}
}

/**
 * The model's validator with its keys by alt name (`{ $keyAltName: 'hr' }`) instead of ids, so
 * that one migration file serves every environment, each with its own key vault. Null when the
 * model encrypts nothing (it then needs no validator).
 */
export function validatorJsonOf(model: ModelMetadata): ValidatorJson | null {
  const validator = buildValidator(model, (altName) => new AltNameMarker(altName) as unknown as Binary);
  const json = toJson(validator) as unknown as ValidatorJson;
  return hasEncryptRules(json) ? json : null;
}

function toJson(value: unknown): Json {
  if (value instanceof AltNameMarker) return { $keyAltName: value.altName };
  if (value instanceof Binary && value.sub_type === Binary.SUBTYPE_UUID) return { $uuid: value.toUUID().toHexString() };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value as Json;
}

/**
 * The validator as the server wants it: alt names replaced by what `keyIdOf` gives (the key's
 * id, creating the key if the caller does; a dry run may leave the marker for keys not made yet).
 */
export async function resolveValidator(json: ValidatorJson, keyIdOf: (altName: string) => Promise<unknown>): Promise<Document> {
  const resolve = async (value: Json): Promise<unknown> => {
    if (Array.isArray(value)) return Promise.all(value.map(resolve));
    if (value === null || typeof value !== 'object') return value;
    if (typeof value.$keyAltName === 'string') return keyIdOf(value.$keyAltName);
    if (typeof value.$uuid === 'string') {
      if (!UUID.isValid(value.$uuid)) throw new MigrationError('MIGRATION_VALIDATOR_UUID', `The validator names key id ${JSON.stringify(value.$uuid)}, which is not a UUID.`, { fix: 'correct the $uuid in the migration file.' });
      return new UUID(value.$uuid);
    }
    const out: Document = {};
    for (const [k, v] of Object.entries(value)) out[k] = await resolve(v);
    return out;
  };
  return resolve(json as unknown as Json) as Promise<Document>;
}

/** True when the validator still demands encryption somewhere. */
function hasEncryptRules(json: ValidatorJson | null): boolean {
  const visit = (value: Json): boolean => {
    if (Array.isArray(value)) return value.some(visit);
    if (value === null || typeof value !== 'object') return false;
    return 'encrypt' in value || Object.values(value).some(visit);
  };
  return json !== null && visit(json.$jsonSchema);
}

/**
 * The validator without the rules for these paths (each a dotted path; through arrays the rule
 * sits under `items`). Objects left without rules disappear; null when nothing is left.
 * Used between a validator and its successor while a backfill rewrites the paths that differ.
 */
export function pruneValidator(json: ValidatorJson | null, paths: string[]): ValidatorJson | null {
  if (json === null) return null;
  const schema = structuredClone(json.$jsonSchema);
  for (const path of paths) removeRule(schema, path.split('.'));
  const pruned: ValidatorJson = { $jsonSchema: schema };
  return hasEncryptRules(pruned) ? pruned : null;
}

type JsonObject = { [key: string]: Json };

function removeRule(objectRule: JsonObject, segments: string[]): void {
  const properties = objectRule.properties as JsonObject | undefined;
  const [head, ...rest] = segments;
  if (!properties || !(head in properties)) return;
  if (rest.length === 0) {
    delete properties[head];
    return;
  }
  const child = properties[head] as JsonObject;
  const inner = (child.items as JsonObject | undefined) ?? child;
  removeRule(inner, rest);
  if (Object.keys((inner.properties as JsonObject | undefined) ?? {}).length === 0) delete properties[head];
}

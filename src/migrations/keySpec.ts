import { UUID } from 'mongodb';
import { parsePointer } from '../bson/jsonPointer';
import { MigrationError } from '../errors';
import type { MetadataRegistry } from '../metadata/registry';
import type { KeyRef } from '../metadata/types';
import { buildEncryptionPlan } from '../schema/encryptionPlan';
import type { KeySpec } from '../stored/keySpec';

/**
 * The key reference a migration step encrypts with. `fromModel` reads the configured model,
 * because a key chosen by code cannot be written into a file.
 */
export function keyRefOf(spec: KeySpec, where: { namespace: string; path: string }, registry: MetadataRegistry): KeyRef {
  if ('altName' in spec) return { kind: 'altName', altName: spec.altName };
  if ('altNameField' in spec) return { kind: 'altNameFromField', pointer: spec.altNameField, path: pointerTokens(spec.altNameField, where) };
  if ('id' in spec) {
    if (!UUID.isValid(spec.id)) throw invalidKey(where, `key id ${JSON.stringify(spec.id)} is not a UUID`);
    return { kind: 'id', id: new UUID(spec.id) };
  }
  const model = registry.byNamespace(where.namespace);
  const encrypted = model && buildEncryptionPlan(model).lookup(where.path).encrypted;
  if (!encrypted) {
    throw new MigrationError('MIGRATION_MODEL_KEY_UNKNOWN', `The step on ${where.namespace}.${where.path} takes its key from the model, but no configured model encrypts that path.`, {
      fix: 'add the model to the configuration\'s models, or name the key in the migration ({ altName: … }).',
    });
  }
  return encrypted.key;
}

function pointerTokens(pointer: string, where: { namespace: string; path: string }): string[] {
  if (!pointer.startsWith('/') || pointer.length < 2) throw invalidKey(where, `altNameField ${JSON.stringify(pointer)} is not a JSON pointer such as '/employeeNo'`);
  return parsePointer(pointer);
}

function invalidKey(where: { namespace: string; path: string }, problem: string): MigrationError {
  return new MigrationError('MIGRATION_KEY_SPEC', `The step on ${where.namespace}.${where.path}: ${problem}.`, {
    fix: "name the key as { altName: 'name' }, { altNameField: '/field' } or { id: '<uuid>' }.",
  });
}

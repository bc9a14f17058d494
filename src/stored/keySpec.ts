import type { KeyRef } from '../metadata/types';

/** A data key as a migration names it. Ids differ between environments, so alt names are preferred. */
export type KeySpec =
  | { altName: string }
  /** One key per document: a JSON pointer to the (plaintext) field holding the key alt name, e.g. '/employeeNo'. */
  | { altNameField: string }
  /** A data key id (UUID). */
  | { id: string }
  /** The key function of the configured model for this field: a key chosen by code has no data form. */
  | { fromModel: true };

/** The data form of a model's key reference, as snapshots, migration files and audit reports hold it. */
export function keySpecOf(key: KeyRef): KeySpec {
  switch (key.kind) {
    case 'altName': return { altName: key.altName };
    case 'altNameFromField': return { altNameField: key.pointer };
    case 'id': return { id: key.id.toUUID().toHexString() };
    case 'altNameFunction': return { fromModel: true };
  }
}

/** Human text for a key, for comments, dry runs and reports. */
export function describeKey(spec: KeySpec): string {
  if ('altName' in spec) return `key '${spec.altName}'`;
  if ('altNameField' in spec) return `the per-document key named by ${spec.altNameField}`;
  if ('id' in spec) return `key id ${spec.id}`;
  return "the model's key function";
}

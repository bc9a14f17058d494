import type { Document } from 'mongodb';
import type { Datasets } from '../datasets';

/** The document kinds of the benchmark; the `enc*` kinds are the same documents with encrypted fields. */
export type PlainKind = 'small' | 'large' | 'nested';
export type EncryptedKind = 'encSmall' | 'encLarge' | 'encNested';
export type DocKind = PlainKind | EncryptedKind;

export const DATASET_OF: Record<DocKind, PlainKind> = {
  small: 'small', large: 'large', nested: 'nested', encSmall: 'small', encLarge: 'large', encNested: 'nested',
};
export const COLLECTION_OF: Record<DocKind, string> = {
  small: 'small_flat', large: 'large_flat', nested: 'large_nested', encSmall: 'small_flat', encLarge: 'large_flat', encNested: 'large_nested',
};

export interface EncryptedPath { path: string; algorithm: 'Deterministic' | 'Random'; }

/** The Deterministic field of each encrypted kind: the one the encrypted find tasks query. */
export const DETERMINISTIC_PATH: Record<EncryptedKind, string> = {
  encSmall: 'field1', encLarge: 'field1', encNested: 'embedded_str_doc_1.unique_id',
};

/**
 * Which values are encrypted, per the issue: in the flat documents field1 is Deterministic and
 * every other string field Random; in the nested document only embedded_str_doc_1.unique_id
 * (Deterministic). Both the hand-written raw encryption and the Strongbox models follow this.
 */
export function encryptedPaths(kind: EncryptedKind, datasets: Datasets): EncryptedPath[] {
  if (kind === 'encNested') return [{ path: DETERMINISTIC_PATH.encNested, algorithm: 'Deterministic' }];
  const doc: Document = kind === 'encSmall' ? datasets.small.doc : datasets.large.doc;
  return Object.keys(doc)
    .filter((key) => typeof doc[key] === 'string')
    .map((path) => ({ path, algorithm: path === DETERMINISTIC_PATH[kind] ? 'Deterministic' : 'Random' }));
}

export const KEY_ALT_NAME = 'odm-bench';

import { MigrationError } from '../errors';
import type { RenameHint } from './fieldTypes';
import type { ModelSnapshot } from './snapshot';

/** A rename given when creating a migration: `old=new`, or `db.collection:old=new` when several models could be meant. */
export interface RenameRequest {
  namespace?: string;
  from: string;
  to: string;
}

/** Parses `--rename` values: comma-separated `[db.collection:]old=new`. */
export function parseRenameFlag(value: string): RenameRequest[] {
  return value.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const match = /^(?:([^:=]+\.[^:=]+):)?([^:=]+)=([^:=]+)$/.exec(part);
    if (!match) {
      throw new MigrationError('MIGRATION_RENAME_HINT', `--rename ${part} is not old=new.`, { fix: 'write --rename fullName=name (nested: address.zip=address.postcode; one model of several: hr.employees:ssn=taxId).' });
    }
    return { ...(match[1] ? { namespace: match[1] } : {}), from: match[2].trim(), to: match[3].trim() };
  });
}

/** Gives each request its collection: the one model whose previous snapshot declares the old name and whose model declares the new one. */
export function resolveRenames(requests: RenameRequest[], before: ModelSnapshot, after: ModelSnapshot): RenameHint[] {
  return requests.map((request) => {
    if (request.namespace) return { namespace: request.namespace, from: request.from, to: request.to };
    const candidates = Object.keys(after.collections).filter((ns) => before.collections[ns]?.fields.includes(request.from) && after.collections[ns].fields.includes(request.to));
    if (candidates.length === 1) return { namespace: candidates[0], from: request.from, to: request.to };
    throw new MigrationError('MIGRATION_RENAME_HINT', candidates.length === 0
      ? `Rename ${request.from} → ${request.to}: no model had a field ${request.from} in the previous snapshot and declares ${request.to} now.`
      : `Rename ${request.from} → ${request.to} could mean ${candidates.join(' or ')}.`, {
      fix: candidates.length === 0 ? 'check both names against the model (nested fields are written parent.field).' : `prefix it with the collection: --rename ${candidates[0]}:${request.from}=${request.to}.`,
    });
  });
}

import { MigrationError } from '../../errors';
import type { Operation, OperationKind } from '../types';
import { createCollection, dropCollection } from './collections';
import type { OperationHandler } from './context';
import { decryptField, encryptField } from './fields';
import { createIndex, dropIndex } from './indexes';
import { deleteKey } from './keys';
import { convertField, renameField, unsetField } from './reshape';
import { backfillDefault } from './backfillDefault';
import { run } from './run';
import { assertConversionTarget } from '../reshape/conversions';
import { setValidator } from './validator';

const HANDLERS: { [K in OperationKind]: OperationHandler<Extract<Operation, { op: K }>> } = {
  createCollection, dropCollection, createIndex, dropIndex, setValidator, encryptField, decryptField, deleteKey, run,
  renameField, unsetField, convertField, backfillDefault,
};

export function handlerFor<O extends Operation>(operation: O): OperationHandler<O> {
  return HANDLERS[operation.op] as unknown as OperationHandler<O>;
}

/** Required fields per operation, checked when a migration is loaded: hand edits fail early and clearly. */
const REQUIRED: { [K in OperationKind]: string[] } = {
  createCollection: ['namespace'],
  dropCollection: ['namespace'],
  createIndex: ['namespace', 'index'],
  dropIndex: ['namespace', 'name'],
  setValidator: ['namespace', 'validator'],
  encryptField: ['namespace', 'path', 'algorithm', 'key'],
  decryptField: ['namespace', 'path'],
  deleteKey: ['key'],
  run: ['name', 'up'],
  renameField: ['namespace', 'from', 'to'],
  unsetField: ['namespace', 'path'],
  convertField: ['namespace', 'path', 'to'],
  backfillDefault: ['namespace', 'path'],
};

export function validateOperation(value: unknown, where: string): asserts value is Operation {
  const op = (value as { op?: unknown })?.op;
  if (typeof op !== 'string' || !(op in REQUIRED)) {
    throw new MigrationError('MIGRATION_OPERATION_UNKNOWN', `${where}: ${JSON.stringify(op)} is not an operation.`, {
      fix: `use one of ${Object.keys(REQUIRED).join(', ')}.`,
    });
  }
  const missing = REQUIRED[op as OperationKind].filter((field) => (value as Record<string, unknown>)[field] === undefined);
  if (missing.length) {
    throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: the ${op} operation lacks ${missing.join(', ')}.`, { fix: 'complete it (see docs/migrations.md for every operation\'s fields).' });
  }
  if (op === 'run') validateCodeStep(value as Record<string, unknown>, where);
  if (op === 'renameField') validateRename(value as { from: unknown; to: unknown }, where);
  if (op === 'convertField') assertConversionTarget((value as { to: unknown }).to, where);
  const algorithm = (value as { algorithm?: unknown }).algorithm;
  if (op === 'encryptField' && algorithm !== 'Deterministic' && algorithm !== 'Random') {
    throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: algorithm ${JSON.stringify(algorithm)} is not 'Deterministic' or 'Random'.`, { fix: "write algorithm: 'Random' (or 'Deterministic')." });
  }
}

function validateCodeStep(step: Record<string, unknown>, where: string): void {
  if (typeof step.name !== 'string' || step.name.trim() === '') {
    throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: a code step needs a name (a non-empty string).`, { fix: "write name: 'split full name'." });
  }
  for (const direction of ['up', 'down']) {
    if (step[direction] !== undefined && typeof step[direction] !== 'function') {
      throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: ${direction} of code step "${step.name}" is not a function.`, { fix: `write ${direction}: async (ctx) => { … }.` });
    }
  }
}

function validateRename(step: { from: unknown; to: unknown }, where: string): void {
  const from = String(step.from).split('.');
  const to = String(step.to).split('.');
  if (from.length !== to.length || from.slice(0, -1).join('.') !== to.slice(0, -1).join('.') || from[from.length - 1] === to[to.length - 1]) {
    throw new MigrationError('MIGRATION_OPERATION_INVALID', `${where}: renameField from ${JSON.stringify(step.from)} to ${JSON.stringify(step.to)} must change only the last name of the path.`, {
      fix: "rename one level at a time, e.g. from: 'address.zip', to: 'address.postcode'; moving a field to another parent needs a code step.",
    });
  }
}

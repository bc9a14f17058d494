import type { Operation, Safety } from '../types';

/** How an operation affects data; destructive ones run only when explicitly allowed. */
export function safetyOf(operation: Operation): Safety {
  switch (operation.op) {
    case 'createCollection':
    case 'createIndex':
      return 'additive';
    case 'setValidator':
    case 'encryptField':
    case 'renameField':
    case 'convertField':
    case 'backfillDefault':
      return 'widening';
    case 'dropCollection':
      // An empty collection holds nothing to lose.
      return operation.onlyIfEmpty ? 'widening' : 'destructive';
    case 'run':
      // A code step is reviewed like the rest of the code; its author says when it can lose data.
      return operation.destructive ? 'destructive' : 'widening';
    case 'unsetField':
    case 'dropIndex':
    case 'decryptField':
    case 'deleteKey':
      return 'destructive';
  }
}

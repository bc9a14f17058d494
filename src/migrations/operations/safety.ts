import type { Operation, Safety } from '../types';

/** How an operation affects data; destructive ones run only when explicitly allowed. */
export function safetyOf(operation: Operation): Safety {
  switch (operation.op) {
    case 'createCollection':
    case 'createIndex':
      return 'additive';
    case 'setValidator':
    case 'encryptField':
      return 'widening';
    case 'dropCollection':
      // An empty collection holds nothing to lose.
      return operation.onlyIfEmpty ? 'widening' : 'destructive';
    case 'dropIndex':
    case 'decryptField':
    case 'deleteKey':
      return 'destructive';
  }
}

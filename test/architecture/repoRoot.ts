import { resolve } from 'node:path';

/** The repository root, from a test compiled to dist/test/architecture/. */
export const repoRoot = resolve(__dirname, '..', '..', '..');

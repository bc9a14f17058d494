/**
 * Layer breaches that exist today (see ARCHITECTURE.md). The import-graph test fails on any
 * breach not listed here AND on any entry here that no longer happens, so fixing a breach means
 * deleting its line: the list only shrinks. It is empty: keep it so.
 *
 * An entry is `<rule>: <from> -> <to>` for one import, paths relative to src/.
 */
export const knownUpwardImports: ReadonlyArray<{ violation: string; why: string }> = [];

/**
 * Folders that import each other in a circle today, one entry per tangle (a strongly connected
 * set of folders, relative to src/, sorted). None.
 */
export const knownFolderCycles: ReadonlyArray<{ folders: readonly string[]; why: string }> = [];

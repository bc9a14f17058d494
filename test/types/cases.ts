/**
 * Records the examples of the type tests when their compiled form runs, with the source line each
 * came from, so the conformance test can replay them through the run-time analyzer and compare:
 * a line that compiles must be accepted, a `// @ts-expect-error` line must be refused.
 */
export type TypeCaseKind = 'filter' | 'update' | 'sort' | 'projection' | 'arrayFilters' | 'pipeline';

export interface TypeCase {
  kind: TypeCaseKind;
  value: unknown;
  /** The TypeScript source file and line of the call (from the stack, with source maps on). */
  file: string;
  line: number;
}

export const typeCases: TypeCase[] = [];

/** `depth`: how many frames lie between the example's line and the recorder (a typed wrapper adds one). */
export function typeCase<T>(kind: TypeCaseKind, depth = 0): (value: T) => T {
  return (value) => {
    const frame = new Error().stack!.split('\n')[2 + depth] ?? '';
    const at = /([^\s(]+\.ts):(\d+):\d+\)?$/.exec(frame);
    typeCases.push({ kind, value, file: at?.[1] ?? '', line: at ? Number(at[2]) : 0 });
    return value;
  };
}

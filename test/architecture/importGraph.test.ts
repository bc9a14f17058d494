/*
 * The import graph of src/ follows the layers of ARCHITECTURE.md: dependency-cruiser checks the
 * rules in .dependency-cruiser.cjs, and this test compares what it reports with the list of
 * breaches known today, in both directions.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { knownFolderCycles, knownUpwardImports } from './knownViolations';
import { repoRoot } from './repoRoot';

interface Violation { rule: { name: string }; from: string; to: string }
interface CruiseResult { summary: { violations: Violation[]; totalCruised: number } }

function cruise(): CruiseResult {
  const cli = join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const out = execFileSync(process.execPath, [cli, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as CruiseResult;
}

const result = cruise();
const relative = (path: string): string => path.replace(/^src\//, '');

/** Each set of folders tied into one circle: the connected parts of the reported cycle edges. */
function folderTangles(edges: Violation[]): string[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    if (!parent.has(x)) parent.set(x, x);
    const p = parent.get(x)!;
    if (p === x) return x;
    const r = find(p);
    parent.set(x, r);
    return r;
  };
  for (const edge of edges) parent.set(find(relative(edge.from)), find(relative(edge.to)));
  const groups = new Map<string, string[]>();
  for (const folder of parent.keys()) groups.set(find(folder), [...(groups.get(find(folder)) ?? []), folder]);
  return [...groups.values()].map((g) => g.sort().join(', ')).sort();
}

test('dependency-cruiser read the whole of src/', (t) => {
  t.true(result.summary.totalCruised >= 100, `only ${result.summary.totalCruised} modules were read; is the swc parser installed (npm ci)?`);
});

test('no import goes up a layer or across to a peer folder, except the known ones', (t) => {
  const found = result.summary.violations.filter((v) => v.rule.name !== 'folder-cycle')
    .map((v) => `${v.rule.name}: ${relative(v.from)} -> ${relative(v.to)}`).sort();
  const known = knownUpwardImports.map((k) => k.violation).sort();
  const added = found.filter((v) => !known.includes(v));
  const gone = known.filter((v) => !found.includes(v));
  t.deepEqual(added, [], `New layer breaches. Import from a lower layer instead, or move the shared code down (ARCHITECTURE.md lists the layers; \`npx depcruise src\` shows them):\n${added.join('\n')}`);
  t.deepEqual(gone, [], `These known breaches are fixed: delete them from test/architecture/knownViolations.ts and from ARCHITECTURE.md:\n${gone.join('\n')}`);
});

test('folders import each other in no circle, except the known tangle', (t) => {
  const found = folderTangles(result.summary.violations.filter((v) => v.rule.name === 'folder-cycle'));
  const known = knownFolderCycles.map((k) => [...k.folders].sort().join(', ')).sort();
  t.deepEqual(found, known, 'The folders tied in circles changed. If a tangle shrank, update test/architecture/knownViolations.ts and ARCHITECTURE.md; if it grew, find the new import that closes the circle with `npx depcruise src`.');
});

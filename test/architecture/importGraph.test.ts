/*
 * The import graph of src/ follows the layers of ARCHITECTURE.md: dependency-cruiser checks the
 * rules in .dependency-cruiser.cjs (no import up a layer or across to a peer folder, no circle
 * between folders or modules), and this test requires that it reports nothing.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
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

test('no import goes up a layer or across to a peer folder, and no module imports itself through others', (t) => {
  const found = result.summary.violations.filter((v) => v.rule.name !== 'folder-cycle')
    .map((v) => `${v.rule.name}: ${relative(v.from)} -> ${relative(v.to)}`).sort();
  t.deepEqual(found, [], `Layer breaches. Import from a lower layer instead, or move the shared code down (ARCHITECTURE.md lists the layers; \`npx depcruise src\` shows them):\n${found.join('\n')}`);
});

test('folders import each other in no circle', (t) => {
  const found = folderTangles(result.summary.violations.filter((v) => v.rule.name === 'folder-cycle'));
  t.deepEqual(found, [], 'Folders import each other in a circle: find the import that closes it with `npx depcruise src` and move the shared code down a layer.');
});

/** Order statistics exactly as the ODM benchmark spec defines them. */

export const PERCENTILES = [10, 25, 50, 75, 90, 95, 98, 99] as const;
export type Percentile = (typeof PERCENTILES)[number];

/**
 * Nearest rank on the ascending times: i = int(N * p / 100) - 1. The spec's formula gives -1 for
 * small N and low p (e.g. N = 3, p = 10); that index is clamped to the first element.
 */
export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) throw new Error('percentile of no values');
  const i = Math.floor((sortedAscending.length * p) / 100) - 1;
  return sortedAscending[Math.min(Math.max(i, 0), sortedAscending.length - 1)];
}

export function percentiles(values: readonly number[]): Record<Percentile, number> {
  const sorted = [...values].sort((a, b) => a - b);
  return Object.fromEntries(PERCENTILES.map((p) => [p, percentile(sorted, p)])) as Record<Percentile, number>;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Least-squares line y = intercept + slope·x, with R², to judge whether a cost is linear. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0; let sxx = 0; let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

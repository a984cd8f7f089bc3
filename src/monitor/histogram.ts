// Reference statistics of one quantity: a fixed-edge histogram plus summary numbers. Pure.
import type { Histogram } from "../model/manifest.js";

/** Linear-interpolated quantile of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (pos - lo);
}

/**
 * Equal-mass bin edges from the reference data (so each bin holds ~1/bins of it), deduplicated
 * for quantities with repeated values; falls back to equal width when almost all values tie.
 */
export function quantileEdges(values: readonly number[], bins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const e = quantileSorted(sorted, i / bins);
    if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
  }
  if (edges.length >= 4) return edges;
  const width = (max - min || 1) / bins;
  return Array.from({ length: bins + 1 }, (_, i) => min + i * width);
}

/** Index of the bin a value falls in; the outer bins are open-ended. */
export function binIndex(edges: readonly number[], v: number): number {
  const inner = edges.length - 2; // bins = edges.length - 1
  let lo = 0;
  let hi = inner;
  // first bin whose upper edge is above v
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v < (edges[mid + 1] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function histogram(values: readonly number[], edges: readonly number[]): Histogram {
  const counts = new Array<number>(edges.length - 1).fill(0);
  let sum = 0;
  for (const v of values) {
    counts[binIndex(edges, v)]!++;
    sum += v;
  }
  const n = values.length;
  const mean = sum / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const sorted = Float64Array.from(values).sort();
  return {
    edges: [...edges],
    probs: counts.map((c) => c / n),
    mean,
    std: Math.sqrt(ss / n),
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    quantiles: {
      p01: quantileSorted(sorted, 0.01),
      p50: quantileSorted(sorted, 0.5),
      p99: quantileSorted(sorted, 0.99),
    },
  };
}

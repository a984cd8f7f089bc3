import { describe, expect, it } from "vitest";
import { binIndex, histogram, quantileEdges, quantileSorted } from "../../src/monitor/histogram.js";

describe("reference histograms", () => {
  it("interpolates quantiles", () => {
    expect(quantileSorted([0, 10], 0.5)).toBe(5);
    expect(quantileSorted([1, 2, 3, 4, 5], 0.25)).toBe(2);
  });

  it("puts out-of-range values in the open outer bins", () => {
    const edges = [0, 1, 2, 3];
    expect(binIndex(edges, -100)).toBe(0);
    expect(binIndex(edges, 0.5)).toBe(0);
    expect(binIndex(edges, 1)).toBe(1);
    expect(binIndex(edges, 2.5)).toBe(2);
    expect(binIndex(edges, 100)).toBe(2);
  });

  it("builds equal-mass bins from the data", () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const h = histogram(values, quantileEdges(values, 10));
    expect(h.probs).toHaveLength(10);
    for (const p of h.probs) expect(p).toBeCloseTo(0.1, 2);
    expect(h.mean).toBeCloseTo(499.5);
    expect(h.quantiles.p50).toBeCloseTo(499.5);
  });

  it("falls back to equal-width bins when values mostly tie", () => {
    const values = [...Array(99).fill(5), 6];
    const edges = quantileEdges(values, 10);
    expect(edges.length).toBe(11);
    expect(histogram(values, edges).probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
  });
});

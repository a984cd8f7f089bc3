import { describe, expect, it } from "vitest";
import {
  calibrateAcross,
  calibrateThreshold,
  classMetrics,
  falseRejectFloor,
  operatingPoint,
  rejectsPer1000,
  rocAuc,
  type ScoredSample,
} from "../../src/decision/operating-points.js";

const good = (score: number): ScoredSample => ({ score, positive: false, kind: "good" });
const bad = (score: number, kind = "crack"): ScoredSample => ({ score, positive: true, kind });

describe("operating points", () => {
  const samples = [
    good(0.1),
    good(0.2),
    good(0.6),
    good(0.05),
    bad(0.9),
    bad(0.7, "chip"),
    bad(0.4, "chip"),
    bad(0.95),
  ];

  it("counts false rejects among good parts and missed defects among defective ones", () => {
    const p = operatingPoint(samples, 0.5, 0.02);
    expect(p.false_reject_rate).toBeCloseTo(1 / 4);
    expect(p.missed_defect_rate).toBeCloseTo(1 / 4);
  });

  it("rejects at exactly the threshold", () => {
    expect(operatingPoint([bad(0.5)], 0.5, 0.02).missed_defect_rate).toBe(0);
  });

  it("reports per-defect recall", () => {
    const m = classMetrics(samples, 0.5);
    expect(m.per_defect_recall).toEqual({ chip: 0.5, crack: 1 });
    expect(m.accuracy).toBeCloseTo(6 / 8);
  });

  it("expresses rates as rejects per 1000 parts at the line's defect prevalence", () => {
    // 2% defective, all caught, 3% of good rejected: 20 + 0.03 * 980
    expect(rejectsPer1000(0.03, 0, 0.02)).toBeCloseTo(49.4);
  });

  it("calibrates to the middle of the thresholds that miss no more defects than allowed and reject the fewest good parts", () => {
    // goods at 0.05..0.6, defects at 0.4..0.95. Missing none: t <= 0.4, fewest false rejects (1 of 4) from 0.201 to 0.4.
    expect(calibrateThreshold(samples, 0)).toBeCloseTo(0.3, 2);
    // Allowing 25% missed: t up to 0.7; fewest false rejects (0) from 0.601 to 0.7.
    expect(calibrateThreshold(samples, 0.25)).toBeCloseTo(0.65, 2);
  });

  it("keeps a margin on perfectly separable data instead of sitting at the last defect's score", () => {
    expect(calibrateThreshold([good(0.01), good(0.02), bad(0.98), bad(0.99)], 0.01)).toBeCloseTo(0.5, 1);
  });

  it("calibrates one threshold for two lines so that neither misses more than allowed", () => {
    // The original line: defects score high. A new line: one of its 10 defects scores 0.3.
    const original = [...Array.from({ length: 90 }, () => good(0.05)), ...Array.from({ length: 90 }, () => bad(0.95))];
    const line = [
      ...Array.from({ length: 10 }, () => good(0.1)),
      bad(0.3),
      ...Array.from({ length: 9 }, () => bad(0.9)),
    ];
    expect(calibrateAcross([original], 0.01)).toBeGreaterThan(0.3);
    // Pooled, the new line's miss is 1 of 100 defects, within 1%: it would be missed.
    expect(calibrateThreshold([...original, ...line], 0.01)).toBeGreaterThan(0.3);
    const t = calibrateAcross([original, line], 0.01);
    expect(t).toBeLessThanOrEqual(0.3);
    expect(classMetrics(line, t).missed_defect_rate).toBe(0);
    expect(classMetrics(original, t).false_reject_rate).toBe(0);
  });

  it("does not chase a defect the model cannot see into rejecting good parts on every line", () => {
    const original = [
      ...Array.from({ length: 95 }, () => good(0.01)),
      ...Array.from({ length: 5 }, () => good(0.04)),
      ...Array.from({ length: 100 }, () => bad(0.95)),
    ];
    // One of the new line's 20 defects scores 0.001: no threshold above it catches it.
    const line = [
      ...Array.from({ length: 30 }, () => good(0.02)),
      bad(0.001),
      ...Array.from({ length: 19 }, () => bad(0.9)),
    ];
    expect(calibrateAcross([original, line], 0.01)).toBeLessThanOrEqual(0.001);
    const t = calibrateAcross([original, line], 0.01, 0.01);
    // Within 1% false rejects on each line: above the original line's 5% at 0.04.
    expect(t).toBeGreaterThan(0.04);
    expect(classMetrics(original, t).false_reject_rate).toBeLessThanOrEqual(0.01);
    expect(classMetrics(line, t).false_reject_rate).toBeLessThanOrEqual(0.01);
    expect(falseRejectFloor(original, 0.01)).toBeCloseTo(0.041, 6);
  });

  it("computes ROC AUC with ties counted half", () => {
    expect(rocAuc([good(0.1), bad(0.9)])).toBe(1);
    expect(rocAuc([good(0.9), bad(0.1)])).toBe(0);
    expect(rocAuc([good(0.5), bad(0.5)])).toBe(0.5);
  });
});

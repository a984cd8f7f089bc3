import { describe, expect, it } from "vitest";
import { decide } from "../../src/decision/decide.js";
import {
  calibrateAcross,
  calibrateThreshold,
  classMetrics,
  falseRejectFloor,
  fitBandToRejects,
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

  it("does not let one outlier among a few dozen good parts set the threshold for every line", () => {
    const original = [
      ...Array.from({ length: 200 }, () => good(0.02)),
      ...Array.from({ length: 200 }, () => bad(0.95)),
    ];
    // 50 good parts of a new line (1% of them is half a part), one of them scoring 0.95.
    const line = [
      good(0.95),
      ...Array.from({ length: 49 }, () => good(0.1)),
      ...Array.from({ length: 30 }, () => bad(0.99)),
    ];
    expect(falseRejectFloor(line, 0.01)).toBeCloseTo(0.101, 6);
    const t = calibrateAcross([original, line], 0.01, 0.01);
    expect(t).toBeLessThan(0.9);
    expect(classMetrics(original, t).missed_defect_rate).toBe(0);
    // Two outliers of 50 (4%) are more than the ceiling allows.
    expect(falseRejectFloor([good(0.95), ...line], 0.01)).toBeCloseTo(0.951, 6);
    // A ceiling of 0 allows none.
    expect(falseRejectFloor(line, 0)).toBeCloseTo(0.951, 6);
  });

  it("narrows the uncertain band until the good parts it would reject stay within the allowance", () => {
    // Polarized scores: nothing near the threshold, the band stays as asked.
    const polar = [...Array.from({ length: 100 }, () => good(0.01)), ...Array.from({ length: 100 }, () => bad(0.99))];
    expect(fitBandToRejects([polar], 0.6, 0.15, 0.01)).toBe(0.15);
    // A retrained model's good parts spread up to the threshold: 5 of 100 score 0.185, 1 scores 0.25.
    const spread = [
      ...Array.from({ length: 94 }, () => good(0.01)),
      ...Array.from({ length: 5 }, () => good(0.185)),
      good(0.25),
      ...Array.from({ length: 100 }, () => bad(0.9)),
    ];
    // ±0.15 around 0.3 would reject all six as uncertain; one (1%) is allowed: the band stops
    // short of the five at 0.185, as the daemon's own decision counts them.
    const b = fitBandToRejects([polar, spread], 0.3, 0.15, 0.01);
    expect(b).toBeCloseTo(0.114, 6);
    const policy = {
      threshold: 0.3,
      uncertainBand: b,
      uncertainAction: "reject" as const,
      negativeLabel: "good",
      positiveLabel: "defect",
    };
    expect(spread.filter((s) => !s.positive && decide(s.score, policy).action === "reject")).toHaveLength(1);
    // Good parts at or above the threshold are rejected anyway: they do not narrow the band.
    expect(fitBandToRejects([[...polar, good(0.65), good(0.7)]], 0.6, 0.15, 0.01)).toBe(0.15);
  });

  it("says how the line acts when it rejects the uncertain parts too", () => {
    const set = [good(0.1), good(0.45), good(0.55), bad(0.4), bad(0.9)];
    const m = classMetrics(set, 0.5, 0.15);
    // At the threshold: 0.55 is a false reject, 0.4 a miss. Within ±0.15 (0.35–0.65) both 0.45
    // and 0.4 are uncertain, so rejected: two false rejects of three, no miss.
    expect(m.false_reject_rate).toBeCloseTo(1 / 3, 9);
    expect(m.missed_defect_rate).toBe(0.5);
    expect(m.on_line).toEqual({
      uncertain_band: 0.15,
      accuracy: 0.6,
      false_reject_rate: 2 / 3,
      missed_defect_rate: 0,
      per_defect_recall: { crack: 1 },
    });
    expect(classMetrics(set, 0.5).on_line).toBeUndefined();
  });

  it("computes ROC AUC with ties counted half", () => {
    expect(rocAuc([good(0.1), bad(0.9)])).toBe(1);
    expect(rocAuc([good(0.9), bad(0.1)])).toBe(0);
    expect(rocAuc([good(0.5), bad(0.5)])).toBe(0.5);
  });
});

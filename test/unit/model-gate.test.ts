import { describe, expect, it } from "vitest";
import {
  binomialHalfUpperTail,
  formatGateReport,
  type GateOptions,
  gate,
  mcnemarExact,
  type PairedScore,
} from "../../src/model/gate.js";

const OPTIONS: GateOptions = {
  activeThreshold: 0.5,
  candidateThreshold: 0.5,
  maxMissedDefectIncrease: 0.005,
  maxFalseRejectIncrease: 0.01,
  significance: 0.05,
  minDefects: 30,
  minGood: 100,
  tooFewLabels: "refuse",
};

/** `defects` defective and `good` good frames; the active model gets all right, the candidate errs where told. */
function frames(defects: number, good: number, candidateMisses: number, candidateFalseRejects: number): PairedScore[] {
  const out: PairedScore[] = [];
  for (let i = 0; i < defects; i++)
    out.push({ file: `d${i}`, positive: true, active: 0.9, candidate: i < candidateMisses ? 0.2 : 0.9 });
  for (let i = 0; i < good; i++)
    out.push({ file: `g${i}`, positive: false, active: 0.1, candidate: i < candidateFalseRejects ? 0.8 : 0.1 });
  return out;
}

describe("McNemar's exact test", () => {
  it("matches hand-computed binomial tails", () => {
    expect(mcnemarExact(0, 0)).toEqual({ p_worse: 1, p_two_sided: 1 });
    expect(mcnemarExact(5, 0)).toEqual({ p_worse: 1 / 32, p_two_sided: 1 / 16 });
    // n = 12, b = 10: (C(12,10) + C(12,11) + C(12,12)) / 2^12 = 79 / 4096.
    expect(mcnemarExact(10, 2).p_worse).toBeCloseTo(79 / 4096, 6);
    expect(mcnemarExact(10, 2).p_two_sided).toBeCloseTo(158 / 4096, 6);
    // Fewer new errors than fixed ones: P(X >= 2) = 1 - (C(12,0) + C(12,1)) / 4096, far from "worse".
    expect(mcnemarExact(2, 10).p_worse).toBeCloseTo(1 - 13 / 4096, 6);
  });

  it("sums the tail exactly for small n and stays finite for large n", () => {
    const choose = (n: number, k: number) => {
      let c = 1;
      for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
      return c;
    };
    for (const k of [0, 1, 7, 15, 23, 30]) {
      let brute = 0;
      for (let i = k; i <= 30; i++) brute += choose(30, i) / 2 ** 30;
      expect(binomialHalfUpperTail(k, 30)).toBeCloseTo(brute, 12);
    }
    const big = binomialHalfUpperTail(5200, 10000);
    expect(big).toBeGreaterThan(0);
    expect(big).toBeLessThan(1e-4);
  });
});

describe("the gate", () => {
  it("passes a candidate that decides the same frames the same way", () => {
    const r = gate(frames(40, 150, 0, 0), OPTIONS);
    expect(r.verdict).toBe("pass");
    expect(r.reasons).toEqual([]);
    expect(r.missed_defects).toMatchObject({ frames: 40, only_candidate_wrong: 0, only_active_wrong: 0, p_worse: 1 });
  });

  it("refuses a candidate that misses more defects, with the counts, intervals and p-value", () => {
    const r = gate(frames(40, 150, 8, 0), OPTIONS);
    expect(r.verdict).toBe("refuse");
    expect(r.candidate.missed_defects).toBe(8);
    expect(r.candidate.missed_defect_rate).toMatchObject({ value: 0.2, n: 40 });
    expect(r.missed_defects).toMatchObject({ only_candidate_wrong: 8, only_active_wrong: 0, difference: 0.2 });
    expect(r.missed_defects.p_worse).toBeCloseTo(1 / 256, 6);
    expect(r.reasons[0]).toMatch(
      /the candidate misses 20\.00% of defects \(.+\) against the active model's 0\.00% .*20\.00 points worse, over the margin of 0\.50 points \(model\.gate\.max_missed_defect_increase: 0\.005\)/,
    );
    expect(r.reasons[1]).toMatch(/significantly worse on defects \(McNemar exact, one-sided p = 0\.00391 < 0\.05\)/);
    expect(formatGateReport(r, { active: "a@1", candidate: "b@2" })).toMatch(/^gate: REFUSED/);
  });

  it("refuses more false rejects beyond the margin even when not yet significant", () => {
    const r = gate(frames(40, 150, 0, 3), OPTIONS);
    expect(r.verdict).toBe("refuse");
    expect(r.false_rejects.p_worse).toBe(0.125);
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons[0]).toMatch(
      /falsely rejects 2\.00% of good parts .* 2\.00 points worse, over the margin of 1\.00 points \(model\.gate\.max_false_reject_increase: 0\.01\)/,
    );
  });

  it("passes a better candidate (errors only the active model made)", () => {
    const better = frames(40, 150, 0, 0).map((f, i) => (i < 5 ? { ...f, active: 0.2 } : f));
    const r = gate(better, OPTIONS);
    expect(r.verdict).toBe("pass");
    expect(r.missed_defects).toMatchObject({ only_active_wrong: 5, difference: -0.125 });
  });

  it("says how many labels are missing, and follows the configured policy", () => {
    const few = frames(12, 40, 0, 0);
    const r = gate(few, OPTIONS);
    expect(r.verdict).toBe("refuse");
    expect(r.labels).toEqual({ defects: 12, good: 40, missing_defects: 18, missing_good: 60 });
    expect(r.reasons[0]).toBe(
      "too few labels to judge: needs 18 more labeled defects and 60 more labeled good parts (have 12 of model.gate.min_defects 30, 40 of min_good 100)",
    );
    const accepted = gate(few, { ...OPTIONS, tooFewLabels: "accept" });
    expect(accepted.verdict).toBe("pass");
    expect(accepted.notes[0]).toMatch(/judged on too few labels/);
  });

  it("compares each model at its own threshold", () => {
    // The candidate's scores are shifted up; at its own (higher) threshold it decides the same.
    const shifted = frames(40, 150, 0, 0).map((f) => ({ ...f, candidate: f.candidate + 0.05 }));
    expect(gate(shifted, { ...OPTIONS, candidateThreshold: 0.55 }).verdict).toBe("pass");
    expect(gate(shifted, { ...OPTIONS, candidateThreshold: 0.96 }).verdict).toBe("refuse");
  });
});

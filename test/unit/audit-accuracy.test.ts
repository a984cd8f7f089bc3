import { describe, expect, it } from "vitest";
import { auditAccuracy, tallyAudit, wilson } from "../../src/monitor/audit-accuracy.js";

describe("wilson interval", () => {
  it("matches published values", () => {
    // Brown, Cai & DasGupta (2001) / any Wilson calculator: 5 of 10 -> 0.2366..0.7634.
    const half = wilson(5, 10);
    expect(half.value).toBe(0.5);
    expect(half.low).toBeCloseTo(0.2366, 4);
    expect(half.high).toBeCloseTo(0.7634, 4);
    // 0 of 10: the interval still says "could be up to 28%", not "exactly 0".
    const none = wilson(0, 10);
    expect(none).toMatchObject({ value: 0, low: 0, n: 10 });
    expect(none.high).toBeCloseTo(0.2775, 4);
    const all = wilson(10, 10);
    expect(all.high).toBe(1);
    expect(all.low).toBeCloseTo(0.7225, 4);
  });

  it("narrows as samples grow and always contains the observed rate", () => {
    let width = 1;
    for (const n of [10, 100, 1000, 10000]) {
      const e = wilson(Math.round(n * 0.03), n);
      expect(e.low as number).toBeLessThanOrEqual(e.value as number);
      expect(e.high as number).toBeGreaterThanOrEqual(e.value as number);
      const w = (e.high as number) - (e.low as number);
      expect(w).toBeLessThan(width);
      width = w;
    }
  });

  it("says nothing without samples and refuses nonsense", () => {
    expect(wilson(0, 0)).toEqual({ value: null, low: null, high: null, n: 0 });
    expect(() => wilson(3, 2)).toThrow(/k <= n/);
    expect(() => wilson(-1, 2)).toThrow(RangeError);
  });
});

describe("audit accuracy", () => {
  it("tallies what the line did against what people said", () => {
    const rows = [
      { rejected: true, label: "defect" }, // caught
      { rejected: true, label: "good" }, // false reject
      { rejected: false, label: "good" }, // correct pass
      { rejected: false, label: "good" },
      { rejected: false, label: "scratch" }, // a named defect type, passed: missed
    ];
    const c = tallyAudit(rows, "good");
    expect(c).toEqual({ truePositive: 1, falsePositive: 1, trueNegative: 2, falseNegative: 1, byKind: {} });
    const a = auditAccuracy(c);
    expect(a.samples).toBe(5);
    expect(a.accuracy).toMatchObject({ value: 0.6, n: 5 });
    expect(a.false_reject_rate.n).toBe(3);
    expect(a.false_reject_rate.value).toBeCloseTo(0.333333, 5);
    expect(a.missed_defect_rate).toMatchObject({ value: 0.5, n: 2 });
  });

  it("reports rates it cannot know as null, with n = 0", () => {
    const a = auditAccuracy(tallyAudit([{ rejected: false, label: "good" }], "good"));
    expect(a.missed_defect_rate).toEqual({ value: null, low: null, high: null, n: 0 });
    expect(a.accuracy.value).toBe(1);
  });
});

describe("recall per defect kind", () => {
  it("counts the defects people named by kind, caught and missed, with intervals", () => {
    const rows = [
      { rejected: true, label: "defect", kind: "crack" },
      { rejected: true, label: "defect", kind: "crack" },
      { rejected: false, label: "defect", kind: "crack" }, // a missed crack
      { rejected: true, label: "defect", kind: "chip" },
      { rejected: true, label: "defect", kind: null }, // a defect without a kind: overall only
      { rejected: false, label: "good", kind: null },
    ];
    const c = tallyAudit(rows, "good");
    expect(c.byKind).toEqual({ crack: { caught: 2, missed: 1 }, chip: { caught: 1, missed: 0 } });
    const a = auditAccuracy(c);
    expect(Object.keys(a.recall_by_kind)).toEqual(["chip", "crack"]);
    expect(a.recall_by_kind.crack).toMatchObject({ n: 3 });
    expect(a.recall_by_kind.crack?.value).toBeCloseTo(0.666667, 5);
    expect(a.recall_by_kind.chip).toMatchObject({ value: 1, high: 1, n: 1 });
    // Overall rates still count every defect, named or not.
    expect(a.missed_defect_rate).toMatchObject({ n: 5 });
  });
});

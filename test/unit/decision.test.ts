import { describe, expect, it } from "vitest";
import { bandWarning, type DecisionPolicy, decide, fitBand } from "../../src/decision/decide.js";
import { sampleReason } from "../../src/store/sampling.js";

const policy: DecisionPolicy = {
  threshold: 0.5,
  uncertainBand: 0.1,
  uncertainAction: "reject",
  negativeLabel: "good",
  positiveLabel: "defect",
};

describe("decide", () => {
  it("warns when the uncertain band reaches 0 or 1, naming the largest sensible band", () => {
    expect(bandWarning({ threshold: 0.5, uncertainBand: 0.15 })).toBeNull();
    expect(bandWarning({ threshold: 0.9, uncertainBand: 0.15 })).toMatch(/every confident reject.*below 0\.100/);
    expect(bandWarning({ threshold: 0.1, uncertainBand: 0.15 })).toMatch(/every confident pass/);
    expect(bandWarning({ threshold: 0.9, uncertainBand: 0 })).toBeNull();
  });

  it("narrows a calibrated band to half the way to the nearer end, never widens it", () => {
    expect(fitBand(0.15, 0.5)).toBe(0.15);
    expect(fitBand(0.15, 0.88)).toBe(0.06);
    expect(fitBand(0.15, 0.1)).toBe(0.05);
    expect(bandWarning({ threshold: 0.88, uncertainBand: fitBand(0.15, 0.88) })).toBeNull();
  });

  it("rejects at or above the threshold and passes below", () => {
    expect(decide(0.9, policy)).toEqual({ label: "defect", action: "reject", uncertain: false });
    expect(decide(0.1, policy)).toEqual({ label: "good", action: "pass", uncertain: false });
  });

  it("marks scores near the threshold uncertain and applies the uncertain action", () => {
    expect(decide(0.45, policy)).toEqual({ label: "good", action: "reject", uncertain: true });
    expect(decide(0.45, { ...policy, uncertainAction: "pass" }).action).toBe("pass");
  });
});

describe("sampling", () => {
  const keepAll = { storeRejects: true, storeUncertain: true, auditFraction: 0 };
  it("keeps rejects and uncertain frames, not plain passes", () => {
    expect(sampleReason(decide(0.9, policy), keepAll, () => 1)).toBe("reject");
    expect(sampleReason(decide(0.45, policy), keepAll, () => 1)).toBe("uncertain");
    expect(sampleReason(decide(0.1, policy), keepAll, () => 1)).toBeNull();
  });

  it("draws audit samples from every frame, passes included", () => {
    const audit = { ...keepAll, auditFraction: 0.02 };
    expect(sampleReason(decide(0.1, policy), audit, () => 0.01)).toBe("audit");
    expect(sampleReason(decide(0.1, policy), audit, () => 0.03)).toBeNull();
  });
});

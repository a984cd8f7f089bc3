// The reference statistics a profile writes are what the drift detector needs to judge rare rates.
import { describe, expect, it } from "vitest";
import type { EvaluatedFrame } from "../../src/model/evaluate.js";
import { buildProfile, withScoresFrom } from "../../src/model/profile.js";
import { classSamples, driftReference } from "../../src/monitor/drift-reference.js";

const features = { brightness: 80, contrast: 30, sharpness: 300, red: 80, green: 80, blue: 70 };
const frame = (i: number, positive: boolean, score: number): EvaluatedFrame => ({
  file: `f${i}.jpg`,
  score,
  positive,
  kind: positive ? "crack" : "good",
  features: { ...features, brightness: 60 + (i % 40) },
});

describe("buildProfile", () => {
  const frames = [
    ...Array.from({ length: 300 }, (_, i) => frame(i, false, 0.01)),
    ...Array.from({ length: 100 }, (_, i) => frame(300 + i, true, i < 2 ? 0.85 : 0.99)),
  ];
  const { reference } = buildProfile(frames, { prevalence: 0.02, threshold: 0.88, dataName: "test" });

  it("records how many frames of each class it rests on", () => {
    expect(reference.class_samples).toEqual({ good: 300, defect: 100 });
    expect(classSamples(reference)).toEqual({ good: 300, defect: 100 });
  });

  it("gives the drift detector an uncertain rate with the evidence behind it", () => {
    const ref = driftReference(reference, {
      prevalence: 0.25,
      threshold: 0.88,
      uncertainBand: 0.06,
      uncertainAction: "reject",
    });
    // 2 of 100 defects in the band, 0 of 300 good: Jeffreys (2.5/101, 0.5/301) mixed at 25%.
    expect(ref.uncertain.mean).toBeCloseTo(0.75 * (0.5 / 301) + 0.25 * (2.5 / 101), 6);
    expect(ref.uncertain.frames).toBeGreaterThan(50);
    expect(ref.uncertain.frames).toBeLessThan(2000);
  });
});

describe("a reference with its scores from frames the model never trained on", () => {
  const all = [
    ...Array.from({ length: 300 }, (_, i) => frame(i, false, 0.001)),
    ...Array.from({ length: 100 }, (_, i) => frame(300 + i, true, 0.999)),
  ];
  const held = [
    ...Array.from({ length: 60 }, (_, i) => frame(i, false, i < 3 ? 0.3 : 0.02)),
    ...Array.from({ length: 20 }, (_, i) => frame(300 + i, true, 0.95)),
  ];
  const opts = { prevalence: 0.02, threshold: 0.5, dataName: "all" };
  const ref = withScoresFrom(
    buildProfile(all, opts).reference,
    buildProfile(held, { ...opts, dataName: "held" }).reference,
  );

  it("keeps the features of every frame and takes the scores, their class counts and rates from the others", () => {
    expect(ref.samples).toBe(400);
    expect(ref.features).toEqual(buildProfile(all, opts).reference.features);
    expect(ref.class_samples).toEqual({ good: 60, defect: 20 });
    expect(ref.score_by_class?.good.mean).toBeCloseTo((3 * 0.3 + 57 * 0.02) / 60, 6);
    expect(ref.data).toBe("all (scores: held)");
  });

  it("tells the drift detector the features rest on more frames than the scores", () => {
    const d = driftReference(ref, { prevalence: 0.02, threshold: 0.5, uncertainBand: 0.1, uncertainAction: "reject" });
    expect(d.frames).toBeCloseTo(5 * d.scoreFrames, 6);
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { driftStrength, parseDriftSpec } from "../../src/camera/drift-injection.js";
import type { Histogram } from "../../src/model/manifest.js";
import { binomialZ, jsDistance, logGamma, psi, rateZ } from "../../src/monitor/distance.js";
import { DriftDetector, type DriftReport, type FeatureDrift, reasons } from "../../src/monitor/drift-detector.js";
import {
  classSamples,
  type DriftReference,
  driftReference,
  massAbove,
  mixedRate,
  mixedSampleSize,
  mixFeatures,
  referenceNoisePsi,
} from "../../src/monitor/drift-reference.js";
import { FEATURE_NAMES, type FrameFeatures } from "../../src/monitor/frame-features.js";
import { histogram, quantileEdges } from "../../src/monitor/histogram.js";
import { LevelWithHysteresis } from "../../src/monitor/hysteresis.js";
import { oodBounds, outOfRange } from "../../src/monitor/ood.js";
import { RateLimiter } from "../../src/store/sampling.js";
import { prng } from "../helpers/prng.js";

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

const MEANS: FrameFeatures = { brightness: 120, contrast: 40, sharpness: 300, red: 125, green: 120, blue: 110 };
const SDS: FrameFeatures = { brightness: 8, contrast: 4, sharpness: 40, red: 5, green: 5, blue: 5 };

/** A line's frames: natural variation, with an optional change applied. */
function frame(r: () => number, change: Partial<Record<keyof FrameFeatures, number>> = {}): FrameFeatures {
  const f = {} as FrameFeatures;
  for (const k of FEATURE_NAMES) f[k] = (MEANS[k] + SDS[k] * normal(r)) * (1 + (change[k] ?? 0));
  return f;
}

const PREVALENCE = 0.05;
/** A line's score: mostly confident goods, a few defects. */
function score(r: () => number): { score: number; defect: boolean } {
  const defect = r() < PREVALENCE;
  const s = defect ? 1 - 0.15 * r() ** 2 : 0.15 * r() ** 3;
  return { score: s, defect };
}

function reference(frames = 6000): DriftReference {
  return driftReference(referenceStats(frames), {
    prevalence: null,
    threshold: 0.5,
    uncertainBand: 0.1,
    uncertainAction: "reject",
  });
}

function referenceStats(n = 6000) {
  const r = prng(1);
  const frames = Array.from({ length: n }, () => frame(r));
  const features: Record<string, Histogram> = {};
  for (const k of FEATURE_NAMES) {
    const v = frames.map((f) => f[k]);
    features[k] = histogram(v, quantileEdges(v, 10));
  }
  const fine = Array.from({ length: 51 }, (_, i) => i / 50);
  const scores = Array.from({ length: n }, () => score(r));
  const good = histogram(
    scores.filter((s) => !s.defect).map((s) => s.score),
    fine,
  );
  const defect = histogram(
    scores.filter((s) => s.defect).map((s) => s.score),
    fine,
  );
  return {
    samples: n,
    data: "synthetic",
    features,
    score: histogram(
      scores.map((s) => s.score),
      Array.from({ length: 11 }, (_, i) => i / 10),
    ),
    score_by_class: { good, defect },
    reject_rate: PREVALENCE,
    defect_prevalence: PREVALENCE,
    defects: scores.filter((s) => s.defect).length,
  };
}

/** Runs `n` frames; returns every report made. */
function run(
  d: DriftDetector,
  r: () => number,
  n: number,
  change: Partial<Record<keyof FrameFeatures, number>> = {},
  rejectBoost = 0,
) {
  const reports: DriftReport[] = [];
  for (let i = 0; i < n; i++) {
    const s = score(r);
    const sc = rejectBoost && r() < rejectBoost ? 0.9 : s.score;
    const rep = d.observe(frame(r, change), sc, sc >= 0.4, Math.abs(sc - 0.5) < 0.1);
    if (rep) reports.push(rep);
  }
  return reports;
}

describe("distances", () => {
  it("are zero for identical distributions and grow with the shift", () => {
    const q = [0.25, 0.25, 0.25, 0.25];
    expect(psi(q, q)).toBe(0);
    expect(jsDistance(q, q)).toBe(0);
    const small = [0.3, 0.25, 0.25, 0.2];
    const big = [0.7, 0.1, 0.1, 0.1];
    expect(psi(big, q)).toBeGreaterThan(psi(small, q));
    expect(jsDistance(big, q)).toBeGreaterThan(jsDistance(small, q));
    expect(jsDistance([1, 0], [0, 1])).toBeCloseTo(1, 6);
  });

  it("binomial z accounts for sample size", () => {
    // Same 6% observed vs 5% expected: noise at n=100, significant at n=100000.
    expect(Math.abs(binomialZ(6, 100, 0.05))).toBeLessThan(1);
    expect(binomialZ(6000, 100000, 0.05)).toBeGreaterThan(10);
  });
  it("binomial z is negative for too few events, and 0 when the count is not in a tail", () => {
    // 170 rejects in 500 where 40% are expected: the lower tail is 0.33%, z ≈ -2.7.
    expect(binomialZ(170, 500, 0.4)).toBeCloseTo(-2.71, 1);
    expect(binomialZ(0, 500, 0.05)).toBeLessThan(-6);
    expect(binomialZ(0, 500, 0.0004)).toBe(0); // none where 0.2 are expected: ordinary
    expect(binomialZ(199, 500, 0.4)).toBeLessThanOrEqual(0);
    expect(binomialZ(199, 500, 0.4)).toBeGreaterThan(-0.2);
  });

  it("log gamma matches factorials and Γ(1/2)", () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 9);
  });

  it("a rate known exactly tests as the binomial; one estimated from few events is less surprising", () => {
    for (const k of [0, 3, 30, 230]) {
      expect(rateZ(k, 500, { mean: 0.4, frames: Number.POSITIVE_INFINITY })).toBeCloseTo(binomialZ(k, 500, 0.4), 9);
    }
    // 3 uncertain in 500 where the reference saw 0.04%: "z 3.05" if 0.04% were exact; the
    // reference saw it 3 times in 3000 defects, so it is known to about ±55%.
    expect(binomialZ(3, 500, 0.0004)).toBeGreaterThan(3);
    const rare = mixedRate({ share: 0, n: 3000 }, { share: 0.001, n: 3000 }, 0.4);
    expect(rateZ(3, 500, rare)).toBeLessThan(2.7);
    // ...and a real jump still stands out: 12 of 500 is 2.4%, about 40 times the rate.
    expect(rateZ(12, 500, rare)).toBeGreaterThan(5);
    // Well-measured rates barely change.
    const common = mixedRate({ share: 0.001, n: 3000 }, { share: 0.99, n: 3000 }, 0.4);
    expect(rateZ(230, 500, common)).toBeCloseTo(binomialZ(230, 500, common.mean), 1);
  });
});

describe("driftReference", () => {
  it("derives the expected reject and uncertain rates from the class score histograms", () => {
    const h = { edges: [0, 0.5, 1], probs: [0.5, 0.5] };
    expect(massAbove(h, 0.75)).toBeCloseTo(0.25);
    expect(massAbove(h, 0)).toBeCloseTo(1);
    const ref = reference();
    // Goods score below 0.15, defects above 0.85: rejects = defects, nothing uncertain.
    expect(ref.rejectRate).toBeGreaterThan(0.035);
    expect(ref.rejectRate).toBeLessThan(0.065);
    expect(ref.uncertainRate).toBeLessThan(0.005);
    expect(ref.score.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(ref.score.probs).toHaveLength(10);
  });

  it("does not take a rate the reference never saw as zero", () => {
    const r = mixedRate({ share: 0, n: 3000 }, { share: 0, n: 3000 }, 0.02);
    // Jeffreys: 0 of 3000 is about 0.5 / 3001, known only to within its own size.
    expect(r.mean).toBeCloseTo(0.5 / 3001, 6);
    expect(r.frames).toBeGreaterThan(2000);
    expect(r.frames).toBeLessThan(4000);
    const exact = mixedRate({ share: 0, n: null }, { share: 0.5, n: null }, 0.02);
    expect(exact).toEqual({ mean: 0.01, frames: Number.POSITIVE_INFINITY });
  });

  it("finds an ordinary window of the shipped model ordinary: 3 uncertain decisions in 500 frames", () => {
    const manifest = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../models/round-parts/manifest.json"), "utf8"),
    );
    const ref = driftReference(manifest.reference, {
      prevalence: 0.4,
      threshold: manifest.decision.threshold,
      uncertainBand: manifest.decision.uncertain_band,
      uncertainAction: "reject",
    });
    // Its test split had 3 of 3000 defects and 0 of 3000 good parts in the band; 20,000 fresh
    // frames averaged 0.8 uncertain per 500. Taken as exact, 0.04% made 3 in 500 "z 3.05".
    expect(binomialZ(3, 500, 0.0004)).toBeGreaterThan(3);
    expect(ref.uncertainRate).toBeGreaterThan(0.0004);
    expect(rateZ(3, 500, ref.uncertain)).toBeLessThan(3);
    expect(rateZ(12, 500, ref.uncertain)).toBeGreaterThan(5);
  });

  it("knows how many frames of each class the reference rests on, recorded or recovered", () => {
    const { defects, ...stats } = referenceStats();
    expect(classSamples(stats)).toEqual({ good: 6000 - defects, defect: defects });
    expect(classSamples({ ...stats, class_samples: { good: 10, defect: 20 } })).toEqual({ good: 10, defect: 20 });
    expect(classSamples({ ...stats, score_by_class: undefined })).toBeNull();
  });
});

describe("a reference from a few hundred frames (a retrained model's, from device samples)", () => {
  it("rests on the class mix's effective sample size, and expects (bins-1)/n of PSI from it alone", () => {
    // Mostly good parts at 2%: the good class's 240 frames carry almost all the weight.
    expect(mixedSampleSize({ good: 240, defect: 160 }, 0.02)).toBeCloseTo(249.7, 1);
    expect(mixedSampleSize({ good: 200, defect: 200 }, 0.5)).toBeCloseTo(400, 6);
    expect(referenceNoisePsi(10, 250)).toBeCloseTo(0.036, 6);
    expect(referenceNoisePsi(10, Number.POSITIVE_INFINITY)).toBe(0);
    expect(reference(300).frames).toBeGreaterThan(250);
    expect(reference(300).frames).toBeLessThan(330);
    // Scores from 60 held-out frames, features from all 300: the features rest on five times more.
    const split = driftReference(
      { ...referenceStats(300), class_samples: { good: 57, defect: 3 } },
      { prevalence: 0.05, threshold: 0.5, uncertainBand: 0.1, uncertainAction: "reject" },
    );
    expect(split.scoreFrames).toBeCloseTo(mixedSampleSize({ good: 57, defect: 3 }, 0.05), 6);
    expect(split.frames).toBeCloseTo(5 * split.scoreFrames, 6);
  });

  it("does not call the reference's own sampling noise drift, and still catches a real change", () => {
    const small = reference(300);
    const quiet = run(new DriftDetector(small), prng(5), 20000);
    expect(quiet.filter((r) => r.status !== "ok")).toEqual([]);
    // The same windows against limits that ignore the reference's size: not always ok.
    const unlimited = { frames: Number.POSITIVE_INFINITY, scoreFrames: Number.POSITIVE_INFINITY };
    const naive = run(new DriftDetector({ ...small, ...unlimited }), prng(5), 20000);
    expect(naive.some((r) => r.status !== "ok")).toBe(true);
    const d = new DriftDetector(small);
    const r = prng(6);
    run(d, r, 1000);
    const after = run(d, r, 300, { brightness: -0.2 });
    expect(after.some((rep) => rep.status === "alarm")).toBe(true);
  });
});

describe("feature reference at the line's prevalence", () => {
  it("mixes per-class feature histograms at the prevalence, with the total variance", () => {
    const edges = [0, 1, 2];
    const good = histogram([0.5, 0.5, 0.5, 0.5], edges); // all in bin 0, mean 0.5
    const defect = histogram([1.5, 1.5], edges); // all in bin 1, mean 1.5
    const all = histogram([0.5, 0.5, 0.5, 0.5, 1.5, 1.5], edges);
    const mixed = mixFeatures({ brightness: all }, { good: { brightness: good }, defect: { brightness: defect } }, 0.1);
    expect(mixed.brightness?.probs[0]).toBeCloseTo(0.9);
    expect(mixed.brightness?.probs[1]).toBeCloseTo(0.1);
    expect(mixed.brightness?.mean).toBeCloseTo(0.6);
    expect(mixed.brightness?.std).toBeCloseTo(Math.sqrt(0.1 * 0.9)); // between-class spread only
    expect(mixed.brightness?.edges).toEqual(edges);
  });
});

describe("DriftDetector", () => {
  it("stays ok over 20,000 in-distribution frames", () => {
    const d = new DriftDetector(reference());
    const reports = run(d, prng(2), 20000);
    expect(reports.length).toBe(800);
    expect(reports.filter((r) => r.status !== "ok")).toEqual([]);
    const worstPsi = Math.max(
      ...reports.filter((r) => r.window.size === 500).flatMap((r) => Object.values(r.features).map((f) => f.psi)),
    );
    expect(worstPsi).toBeLessThan(0.06);
  });

  it.each([
    ["a 20% brightness drop", { brightness: -0.2 }, "brightness down"],
    ["a colour cast", { red: 0.12, blue: -0.12 }, "red up"],
    ["blur", { sharpness: -0.6 }, "sharpness down"],
  ])("raises an alarm within 300 frames of %s and names the feature", (_name, change, reason) => {
    const d = new DriftDetector(reference());
    const r = prng(3);
    run(d, r, 1000);
    expect(d.report().status).toBe("ok");
    const after = run(d, r, 300, change);
    const alarm = after.findIndex((rep) => rep.status === "alarm");
    expect(alarm).toBeGreaterThanOrEqual(0);
    expect(after[alarm]!.reasons[0]).toContain(reason);
  });

  it("tells a dimmed lamp (every channel alike) as a brightness change, sized by the newest frames", () => {
    const d = new DriftDetector(reference());
    const r = prng(8);
    run(d, r, 1000);
    const dim = { brightness: -0.2, contrast: -0.2, red: -0.2, green: -0.2, blue: -0.2 };
    const after = run(d, r, 300, dim);
    const alarm = after.find((rep) => rep.status === "alarm");
    expect(alarm?.reasons[0]).toMatch(/^brightness down (19|20|21)% .*all colours alike/);
    // One story, not five: the colour channels are not reported on their own.
    expect(alarm?.reasons.filter((t) => /^(red|green|blue) /.test(t))).toEqual([]);
  });

  it("tells channels moving apart as a colour cast naming each", () => {
    const d = new DriftDetector(reference());
    const r = prng(9);
    run(d, r, 1000);
    const after = run(d, r, 300, { red: 0.15, blue: -0.15 });
    const alarm = after.find((rep) => rep.status === "alarm");
    expect(alarm?.reasons[0]).toMatch(/^colour cast: red up 1\d%, blue down 1\d%/);
  });

  it("does not call a reshaped colour histogram with unmoved means a lighting change", () => {
    const f = (status: "ok" | "warn", change = 0): FeatureDrift => ({
      status,
      psi: status === "ok" ? 0.02 : 0.12,
      js: 0,
      mean: 0,
      ref_mean: 0,
      change_pct: change,
      shift_sd: 0,
      recent_change_pct: change,
    });
    const rate = { status: "ok" as const, observed: 0, expected: 0, z: 0 };
    const score = { status: "ok" as const, psi: 0, js: 0, mean: 0, ref_mean: 0, change_pct: 0 };
    const features = {
      brightness: f("ok"),
      contrast: f("ok"),
      sharpness: f("ok"),
      red: f("warn", 0.4),
      green: f("ok"),
      blue: f("ok"),
    };
    expect(reasons(features, score, rate, rate)).toEqual([
      "red distribution changed, mean about the same (PSI 0.12): colour cast: check the lights and the camera's white balance",
    ]);
  });

  it("does not flap: an alarm clears only after the line has been back to normal for a while", () => {
    const d = new DriftDetector(reference());
    const r = prng(4);
    run(d, r, 600);
    run(d, r, 600, { brightness: -0.2 });
    expect(d.report().status).toBe("alarm");
    const back = run(d, r, 1500);
    const statuses = back.map((rep) => rep.status);
    // Once back at ok it stays there; it never goes ok -> warn/alarm again.
    const firstOk = statuses.indexOf("ok");
    expect(firstOk).toBeGreaterThan(8);
    expect(statuses.slice(firstOk).every((s) => s === "ok")).toBe(true);
  });

  it("says nothing before the window holds the minimum number of frames", () => {
    const d = new DriftDetector(reference(), { minWindow: 200 });
    const reports = run(d, prng(5), 175, { brightness: -0.5 });
    expect(reports.every((rep) => rep.status === "ok" && !rep.window.ready)).toBe(true);
  });

  it("flags a reject rate far above what the model expects on this line, and not a small wobble", () => {
    const a = new DriftDetector(reference());
    run(a, prng(6), 2000, {}, 0.01);
    expect(a.report().reject_rate.status).toBe("ok");
    const b = new DriftDetector(reference());
    const reps = run(b, prng(7), 1000, {}, 0.2);
    expect(b.report().reject_rate.status).toBe("alarm");
    expect(reps.at(-1)!.reasons.join(" ")).toContain("reject rate");
  });

  it("reports a collapsed reject rate with a negative z", () => {
    const d = new DriftDetector(reference());
    const r = prng(8);
    run(d, r, 1000);
    for (let i = 0; i < 1000; i++) d.observe(frame(r), 0.05, false, false);
    expect(d.report().reject_rate.observed).toBe(0);
    expect(d.report().reject_rate.z).toBeLessThan(-5);
  });
});

describe("LevelWithHysteresis", () => {
  it("needs consecutive evaluations to escalate and longer to clear", () => {
    const h = new LevelWithHysteresis({ escalateAfter: 3, clearAfter: 4 });
    expect(h.update("alarm", "alarm")).toBe("ok");
    expect(h.update("alarm", "alarm")).toBe("ok");
    expect(h.update("ok", "ok")).toBe("ok"); // streak broken
    h.update("alarm", "alarm");
    h.update("warn", "alarm");
    // the streak reached at least warn every time: enter warn, not alarm
    expect(h.update("alarm", "alarm")).toBe("warn");
    for (let i = 0; i < 3; i++) expect(h.update("ok", "ok")).toBe("warn");
    expect(h.update("ok", "ok")).toBe("ok");
  });
});

describe("out-of-distribution frames", () => {
  it("are frames outside the reference range, named by feature and direction", () => {
    const ref = reference();
    const bounds = oodBounds(ref.features);
    const r = prng(8);
    const inRange = Array.from({ length: 2000 }, () => outOfRange(frame(r), bounds)).filter((o) => o.length);
    expect(inRange.length).toBeLessThan(10);
    expect(outOfRange({ ...MEANS, brightness: 40 }, bounds)).toEqual(["brightness low"]);
  });

  it("are sampled at a bounded rate", () => {
    const limiter = new RateLimiter(30, 0);
    let taken = 0;
    for (let t = 0; t < 60000; t += 33) if (limiter.take(t)) taken++;
    expect(taken).toBeGreaterThanOrEqual(30);
    expect(taken).toBeLessThanOrEqual(61);
  });
});

describe("drift injection spec", () => {
  it("parses kind, amount, start frame and ramp", () => {
    expect(parseDriftSpec("brightness:-0.2@300")).toEqual({
      kind: "brightness",
      amount: -0.2,
      from_frame: 300,
      ramp_frames: 0,
    });
    const d = parseDriftSpec("blur:2@100+50");
    expect(driftStrength(d, 99)).toBe(0);
    expect(driftStrength(d, 124)).toBeCloseTo(0.5);
    expect(driftStrength(d, 400)).toBe(1);
    expect(() => parseDriftSpec("dim:1@2")).toThrow(/kind:amount@frame/);
  });
});

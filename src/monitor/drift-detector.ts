// Streaming drift detection against the model's reference, in fixed memory: a sliding window of
// the last N frames per feature (values and their reference bins), evaluated every few frames.
// Pure: the caller feeds frames and publishes the reports.

import { jsDistance, psi, type RateBelief, rateZ, smoothedProbs } from "./distance.js";
import { type DriftReference, referenceNoisePsi } from "./drift-reference.js";
import { FEATURE_NAMES, type FeatureName, type FrameFeatures } from "./frame-features.js";
import { binIndex } from "./histogram.js";
import { type Level, LevelWithHysteresis, worst } from "./hysteresis.js";

export interface DriftOptions {
  /** Frames in the sliding window. */
  window: number;
  /** No status other than ok before the window holds this many frames. */
  minWindow: number;
  /** Evaluate (and report) every this many frames. */
  evaluateEvery: number;
  psiWarn: number;
  psiAlarm: number;
  /** Rate checks need both significance (binomial z) and a practical effect size. */
  zWarn: number;
  zAlarm: number;
  escalateAfter: number;
  clearAfter: number;
  /** A level is left only when its measure falls below this share of the threshold. */
  clearRatio: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  window: 500,
  minWindow: 200,
  evaluateEvery: 25,
  psiWarn: 0.1,
  psiAlarm: 0.25,
  zWarn: 3,
  zAlarm: 5,
  escalateAfter: 3,
  clearAfter: 8,
  clearRatio: 0.8,
};

export interface DistributionDrift {
  status: Level;
  psi: number;
  js: number;
  mean: number;
  ref_mean: number;
  /** Window mean vs reference mean, in percent. */
  change_pct: number;
}

export interface FeatureDrift extends DistributionDrift {
  /** Window mean vs reference mean, in reference standard deviations. */
  shift_sd: number;
  /** Mean of the newest frames (4 evaluations' worth) vs the reference mean, in percent: the size of a change now. */
  recent_change_pct: number;
}

export interface RateDrift {
  status: Level;
  observed: number;
  expected: number;
  z: number;
}

export interface DriftReport {
  schema: 1;
  status: Level;
  window: { size: number; capacity: number; ready: boolean };
  /** Frames observed since start. */
  frames: number;
  features: Record<FeatureName, FeatureDrift>;
  score: DistributionDrift;
  reject_rate: RateDrift;
  uncertain_rate: RateDrift;
  /** One plain sentence per check that is not ok, worst first, e.g. "brightness down 22% (PSI 0.41): check the lighting". */
  reasons: string[];
}

const HINTS: Record<FeatureName | "score", string> = {
  brightness: "check the lighting and the camera's exposure",
  contrast: "check the lighting and the camera's exposure",
  sharpness: "check focus and clean the lens",
  red: "colour cast: check the lights and the camera's white balance",
  green: "colour cast: check the lights and the camera's white balance",
  blue: "colour cast: check the lights and the camera's white balance",
  score: "the model sees different parts than it was trained on: sample and label frames",
};

/** A sliding window of one quantity: raw values (for the mean) and their reference bins. */
class BinnedWindow {
  private readonly values: Float64Array;
  private readonly bins: Uint16Array;
  readonly counts: Int32Array;
  private sum = 0;
  private next = 0;
  size = 0;

  constructor(
    capacity: number,
    readonly edges: readonly number[],
  ) {
    this.values = new Float64Array(capacity);
    this.bins = new Uint16Array(capacity);
    this.counts = new Int32Array(edges.length - 1);
  }

  push(v: number): void {
    const cap = this.values.length;
    if (this.size === cap) {
      this.sum -= this.values[this.next] as number;
      this.counts[this.bins[this.next] as number]!--;
    } else {
      this.size++;
    }
    const b = binIndex(this.edges, v);
    this.values[this.next] = v;
    this.bins[this.next] = b;
    this.counts[b]!++;
    this.sum += v;
    this.next = (this.next + 1) % cap;
  }

  get mean(): number {
    return this.size ? this.sum / this.size : Number.NaN;
  }

  /** Mean of the newest `n` values: how things look now, not averaged with the past window. */
  recentMean(n: number): number {
    const k = Math.min(n, this.size);
    if (k === 0) return Number.NaN;
    const cap = this.values.length;
    let sum = 0;
    for (let i = 1; i <= k; i++) sum += this.values[(this.next - i + cap) % cap] as number;
    return sum / k;
  }
}

/** Sliding count of a yes/no per frame. */
class FlagWindow {
  private readonly flags: Uint8Array;
  private next = 0;
  size = 0;
  hits = 0;

  constructor(capacity: number) {
    this.flags = new Uint8Array(capacity);
  }

  push(flag: boolean): void {
    if (this.size === this.flags.length) this.hits -= this.flags[this.next] as number;
    else this.size++;
    this.flags[this.next] = flag ? 1 : 0;
    this.hits += flag ? 1 : 0;
    this.next = (this.next + 1) % this.flags.length;
  }
}

/** Evaluations' worth of newest frames whose mean sizes a change in the reasons. */
const RECENT_EVALUATIONS = 4;

const round = (x: number, digits = 4) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : 0);

export class DriftDetector {
  readonly options: DriftOptions;
  private readonly features: Record<FeatureName, BinnedWindow>;
  private readonly score: BinnedWindow;
  private readonly rejects: FlagWindow;
  private readonly uncertain: FlagWindow;
  private readonly levels = new Map<string, LevelWithHysteresis>();
  private frames = 0;
  private last: DriftReport;

  constructor(
    private readonly ref: DriftReference,
    options: Partial<DriftOptions> = {},
  ) {
    this.options = { ...DEFAULT_DRIFT_OPTIONS, ...options };
    const cap = this.options.window;
    const missing = FEATURE_NAMES.filter((f) => !ref.features[f]);
    if (missing.length) throw new Error(`the model's reference statistics lack features: ${missing.join(", ")}`);
    this.features = Object.fromEntries(
      FEATURE_NAMES.map((f) => [f, new BinnedWindow(cap, ref.features[f]!.edges)]),
    ) as Record<FeatureName, BinnedWindow>;
    this.score = new BinnedWindow(cap, ref.score.edges);
    this.rejects = new FlagWindow(cap);
    this.uncertain = new FlagWindow(cap);
    this.last = this.evaluate();
  }

  /** Feeds one decided frame; returns a report every `evaluateEvery` frames, else null. */
  observe(f: FrameFeatures, score: number, rejected: boolean, uncertain: boolean): DriftReport | null {
    for (const name of FEATURE_NAMES) this.features[name].push(f[name]);
    this.score.push(score);
    this.rejects.push(rejected);
    this.uncertain.push(uncertain);
    this.frames++;
    if (this.frames % this.options.evaluateEvery !== 0) return null;
    this.last = this.evaluate();
    return this.last;
  }

  report(): DriftReport {
    return this.last;
  }

  /** The PSI at which a feature's or the score's distribution warns, as `evaluate` applies it. */
  psiWarnLimit(key: FeatureName | "score"): number {
    return this.options.psiWarn + this.psiNoise(key);
  }

  private reference(key: FeatureName | "score"): { probs: readonly number[]; mean: number; frames: number } {
    if (key === "score") return { ...this.ref.score, frames: this.ref.scoreFrames };
    const h = this.ref.features[key]!;
    return { probs: h.probs, mean: h.mean, frames: this.ref.frames };
  }

  /** The PSI the reference's own sampling explains (referenceNoisePsi): the limits sit this much higher. */
  private psiNoise(key: FeatureName | "score"): number {
    const r = this.reference(key);
    return referenceNoisePsi(r.probs.length, r.frames);
  }

  private level(key: string, enter: Level, hold: Level, ready: boolean): Level {
    let h = this.levels.get(key);
    if (!h) {
      h = new LevelWithHysteresis(this.options);
      this.levels.set(key, h);
    }
    return ready ? h.update(enter, hold) : h.level;
  }

  private psiLevel(v: number, factor: number, noise: number): Level {
    const o = this.options;
    return v >= o.psiAlarm * factor + noise ? "alarm" : v >= o.psiWarn * factor + noise ? "warn" : "ok";
  }

  private distribution(key: FeatureName | "score", w: BinnedWindow, ready: boolean) {
    const { probs: refProbs, mean: refMean } = this.reference(key);
    const p = smoothedProbs(w.counts, w.size);
    const d = psi(p, refProbs);
    const mean = w.mean;
    const noise = this.psiNoise(key);
    return {
      status: this.level(key, this.psiLevel(d, 1, noise), this.psiLevel(d, this.options.clearRatio, noise), ready),
      psi: round(d),
      js: round(jsDistance(p, refProbs)),
      mean: round(mean, 3),
      ref_mean: round(refMean, 3),
      change_pct: round(refMean !== 0 ? ((mean - refMean) / Math.abs(refMean)) * 100 : 0, 1),
    };
  }

  /**
   * A rate is off when it is both significant (z) and large enough to matter (effect), and only
   * upwards: a rate below its expectation gets its negative z reported but raises no status
   * (as before: the lower tail used to read 0). Limits for that side would have to allow for a
   * window re-tested every few frames.
   */
  private rate(key: string, w: FlagWindow, belief: RateBelief, ready: boolean): RateDrift {
    const o = this.options;
    const expected = belief.mean;
    const observed = w.size ? w.hits / w.size : 0;
    // The expectation is the reference's estimate, not a known constant: test against its predictive.
    const z = rateZ(w.hits, w.size, belief);
    const diff = observed - expected;
    const lvl = (factor: number): Level => {
      if (z >= o.zAlarm * factor && diff >= (0.5 * expected + 0.02) * factor) return "alarm";
      if (z >= o.zWarn * factor && diff >= (0.25 * expected + 0.01) * factor) return "warn";
      return "ok";
    };
    return {
      status: this.level(key, lvl(1), lvl(o.clearRatio), ready),
      observed: round(observed),
      expected: round(expected),
      z: round(z, 2),
    };
  }

  private evaluate(): DriftReport {
    const ready = this.score.size >= this.options.minWindow;
    const features = {} as Record<FeatureName, FeatureDrift>;
    for (const name of FEATURE_NAMES) {
      const h = this.ref.features[name]!;
      const w = this.features[name];
      const d = this.distribution(name, w, ready);
      const recent = w.recentMean(RECENT_EVALUATIONS * this.options.evaluateEvery);
      features[name] = {
        ...d,
        shift_sd: round(h.std > 0 ? (w.mean - h.mean) / h.std : 0, 2),
        recent_change_pct: round(h.mean !== 0 ? ((recent - h.mean) / Math.abs(h.mean)) * 100 : 0, 1),
      };
    }
    const score = this.distribution("score", this.score, ready);
    const reject_rate = this.rate("reject_rate", this.rejects, this.ref.reject, ready);
    const uncertain_rate = this.rate("uncertain_rate", this.uncertain, this.ref.uncertain, ready);
    const status = worst([
      ...Object.values(features).map((f) => f.status),
      score.status,
      reject_rate.status,
      uncertain_rate.status,
    ]);
    return {
      schema: 1,
      status,
      window: { size: this.score.size, capacity: this.options.window, ready },
      frames: this.frames,
      features,
      score,
      reject_rate,
      uncertain_rate,
      reasons: reasons(features, score, reject_rate, uncertain_rate),
    };
  }
}

function direction(pct: number): string {
  return `${pct < 0 ? "down" : "up"} ${Math.abs(pct).toFixed(0)}%`;
}

const COLOURS = ["red", "green", "blue"] as const;

/** Channels moved together (a lamp dimmed) rather than apart (a colour cast): spread within a third of the move. */
function together(changes: number[], reference: number): boolean {
  return Math.max(...changes) - Math.min(...changes) <= Math.max(3, 0.35 * Math.abs(reference));
}

const worstOf = (fs: FeatureDrift[]) => ({
  level: worst(fs.map((f) => f.status)),
  psi: Math.max(...fs.map((f) => f.psi)),
});

/**
 * Plain sentences for every check that is not ok, alarms first, then by distance. Lighting is
 * told as one story: when all colour channels move alike it is a brightness change (a lamp, the
 * exposure) however the channels' PSI rank; when they move apart it is a colour cast.
 */
export function reasons(
  features: Record<FeatureName, FeatureDrift>,
  score: DistributionDrift,
  reject: RateDrift,
  uncertain: RateDrift,
): string[] {
  const out: { level: Level; weight: number; text: string }[] = [];
  const told = new Set<FeatureName>();
  const colours = COLOURS.map((c) => features[c]);
  const flaggedColours = colours.filter((f) => f.status !== "ok");
  const b = features.brightness;
  const changes = colours.map((f) => f.recent_change_pct);
  // Only a real move of the means is a lighting story; a reshaped histogram alone is told per feature.
  if (flaggedColours.length > 0 && Math.max(...changes.map(Math.abs)) >= 2) {
    if (Math.abs(b.recent_change_pct) >= 2 && together(changes, b.recent_change_pct)) {
      const c = features.contrast;
      const group = [b, ...flaggedColours];
      const withContrast =
        c.status !== "ok" && together([c.recent_change_pct, b.recent_change_pct], b.recent_change_pct);
      if (withContrast) group.push(c);
      const w = worstOf(group);
      out.push({
        level: w.level,
        weight: w.psi,
        text: `brightness ${direction(b.recent_change_pct)} (PSI ${w.psi.toFixed(2)}; ${withContrast ? "contrast and " : ""}all colours alike): ${HINTS.brightness}`,
      });
      told.add("brightness");
      if (withContrast) told.add("contrast");
    } else {
      const moved = COLOURS.filter((_, i) => Math.abs(changes[i] as number) >= 2).map(
        (c) => `${c} ${direction(features[c].recent_change_pct)}`,
      );
      const w = worstOf(flaggedColours);
      out.push({
        level: w.level,
        weight: w.psi,
        text: `colour cast: ${moved.join(", ")} (PSI ${w.psi.toFixed(2)}): check the lights and the camera's white balance`,
      });
    }
    for (const c of COLOURS) told.add(c);
  }
  for (const name of FEATURE_NAMES) {
    const f = features[name];
    if (f.status === "ok" || told.has(name)) continue;
    const how =
      Math.abs(f.recent_change_pct) < 1 ? "distribution changed, mean about the same" : direction(f.recent_change_pct);
    out.push({ level: f.status, weight: f.psi, text: `${name} ${how} (PSI ${f.psi.toFixed(2)}): ${HINTS[name]}` });
  }
  if (score.status !== "ok") {
    out.push({
      level: score.status,
      weight: score.psi,
      text: `model score distribution shifted, mean ${score.mean.toFixed(2)} vs ${score.ref_mean.toFixed(2)} (PSI ${score.psi.toFixed(2)}): ${HINTS.score}`,
    });
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (reject.status !== "ok") {
    out.push({
      level: reject.status,
      weight: Math.abs(reject.z) / 10,
      text: `reject rate ${pct(reject.observed)} vs ${pct(reject.expected)} expected (z ${reject.z.toFixed(1)}): check the parts and the model`,
    });
  }
  if (uncertain.status !== "ok") {
    out.push({
      level: uncertain.status,
      weight: uncertain.z / 10,
      text: `uncertain decisions ${pct(uncertain.observed)} vs ${pct(uncertain.expected)} expected (z ${uncertain.z.toFixed(1)}): the model is unsure of what it sees`,
    });
  }
  const order = (l: Level) => (l === "alarm" ? 0 : 1);
  return out.sort((a, b) => order(a.level) - order(b.level) || b.weight - a.weight).map((r) => r.text);
}

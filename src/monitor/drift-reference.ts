// What the line should look like to this model, from the manifest's reference statistics and the
// line's own facts (defect prevalence, threshold, uncertain band). Pure.
import type { Histogram, ReferenceStats } from "../model/manifest.js";
import { type RateBelief, smoothedProbs } from "./distance.js";

export interface DriftReference {
  features: Record<string, Histogram>;
  /** Expected score distribution on this line: the class histograms mixed at its prevalence. */
  score: { edges: number[]; probs: number[]; mean: number };
  /** Expected share of rejected frames and of uncertain decisions. */
  rejectRate: number;
  uncertainRate: number;
  /** The same two rates with how many frames' worth of reference evidence each rests on. */
  reject: RateBelief;
  uncertain: RateBelief;
  prevalence: number;
  /**
   * How many frames' worth of evidence the histograms rest on (the class mix's effective sample
   * size); infinite when unknown. A reference of a few hundred frames is itself a noisy sample.
   */
  frames: number;
  /** The same for the score histograms, which may rest on fewer frames (those never trained on). */
  scoreFrames: number;
}

export interface LineFacts {
  /** Share of defective parts on this line; the manifest's value unless configured. */
  prevalence: number | null;
  threshold: number;
  uncertainBand: number;
  uncertainAction: "pass" | "reject";
}

/** Share of a histogram's mass at or above x, interpolating linearly inside the bin. */
export function massAbove(h: { edges: readonly number[]; probs: readonly number[] }, x: number): number {
  let s = 0;
  for (let i = 0; i < h.probs.length; i++) {
    const lo = h.edges[i] as number;
    const hi = h.edges[i + 1] as number;
    const p = h.probs[i] as number;
    if (x <= lo) s += p;
    else if (x < hi) s += (p * (hi - x)) / (hi - lo);
  }
  return s;
}

/** Merges groups of adjacent bins so a window of a few hundred frames is not spread too thin. */
export function coarsen(h: { edges: readonly number[]; probs: readonly number[] }, factor: number) {
  const edges: number[] = [];
  const probs: number[] = [];
  for (let i = 0; i < h.probs.length; i += factor) {
    edges.push(h.edges[i] as number);
    let p = 0;
    for (let j = i; j < Math.min(i + factor, h.probs.length); j++) p += h.probs[j] as number;
    probs.push(p);
  }
  edges.push(h.edges[h.edges.length - 1] as number);
  return { edges, probs };
}

/**
 * Frames per class the reference was profiled on: recorded by newer profiles; for older ones,
 * recovered from the score means (the all-frames mean is the class means mixed at the data's
 * class shares). Null when neither is possible.
 */
export function classSamples(ref: ReferenceStats): { good: number; defect: number } | null {
  if (ref.class_samples) return ref.class_samples;
  const byClass = ref.score_by_class;
  if (!byClass || byClass.defect.mean === byClass.good.mean) return null;
  const share = (ref.score.mean - byClass.good.mean) / (byClass.defect.mean - byClass.good.mean);
  if (!(share > 0 && share < 1)) return null;
  const defect = Math.round(share * ref.samples);
  return { good: ref.samples - defect, defect };
}

/**
 * A line's rate from per-class rates each measured on `n` reference frames: the classes'
 * Jeffreys posteriors (a rate seen 0 times in 3000 frames is not 0, it is "probably below
 * 1/1000") mixed at the line's prevalence, summarised as one Beta belief by its mean and
 * variance. Without class counts the measured rate is taken as exact.
 */
export function mixedRate(
  good: { share: number; n: number | null },
  defect: { share: number; n: number | null },
  prevalence: number,
): RateBelief {
  if (good.n === null || defect.n === null || good.n <= 0 || defect.n <= 0) {
    return { mean: (1 - prevalence) * good.share + prevalence * defect.share, frames: Number.POSITIVE_INFINITY };
  }
  const post = (share: number, n: number) => {
    const mean = (share * n + 0.5) / (n + 1);
    return { mean, variance: (mean * (1 - mean)) / (n + 2) };
  };
  const g = post(good.share, good.n);
  const d = post(defect.share, defect.n);
  const mean = (1 - prevalence) * g.mean + prevalence * d.mean;
  const variance = (1 - prevalence) ** 2 * g.variance + prevalence ** 2 * d.variance;
  return { mean, frames: Math.max(1, (mean * (1 - mean)) / variance - 1) };
}

export function driftReference(ref: ReferenceStats, line: LineFacts): DriftReference {
  const prevalence = line.prevalence ?? ref.defect_prevalence;
  const byClass = ref.score_by_class;
  if (!byClass) {
    // Older manifests: one score histogram of the profiled data, and its reject rate.
    return {
      features: ref.features,
      score: { edges: ref.score.edges, probs: ref.score.probs, mean: ref.score.mean },
      rejectRate: ref.reject_rate,
      uncertainRate: 0,
      reject: { mean: ref.reject_rate, frames: Number.POSITIVE_INFINITY },
      uncertain: { mean: 0, frames: Number.POSITIVE_INFINITY },
      prevalence,
      frames: ref.samples,
      scoreFrames: ref.samples,
    };
  }
  const { good, defect } = byClass;
  const counts = classSamples(ref);
  const mix = good.probs.map((p, i) => (1 - prevalence) * p + prevalence * (defect.probs[i] as number));
  const rate = (share: (h: Histogram) => number) =>
    mixedRate(
      { share: share(good), n: counts?.good ?? null },
      { share: share(defect), n: counts?.defect ?? null },
      prevalence,
    );
  const lo = Math.max(0, line.threshold - line.uncertainBand);
  const hi = Math.min(1, line.threshold + line.uncertainBand);
  const uncertain =
    line.uncertainBand > 0
      ? rate((h) => Math.max(0, massAbove(h, lo) - massAbove(h, hi)))
      : { mean: 0, frames: Number.POSITIVE_INFINITY };
  // Rejected: at or above the threshold and not uncertain, plus the uncertain ones if they are rejected.
  const cut = line.uncertainAction === "reject" ? (line.uncertainBand > 0 ? lo : line.threshold) : hi;
  const reject = rate((h) => massAbove(h, cut));
  const fine = { edges: good.edges, probs: mix };
  const features = ref.features_by_class ? mixFeatures(ref.features, ref.features_by_class, prevalence) : ref.features;
  const coarse = coarsen(fine, Math.max(1, Math.round(mix.length / 10)));
  const scoreFrames = counts ? mixedSampleSize(counts, prevalence) : ref.samples;
  // Scores pile up at 0 and 1: a few hundred reference frames leave middle bins empty that a
  // line's window fills now and then. Smoothed as the window is, an empty bin is "rare", not "never".
  const score = { edges: coarse.edges, probs: smoothedShares(coarse.probs, scoreFrames) };
  return {
    features,
    score: { ...score, mean: (1 - prevalence) * good.mean + prevalence * defect.mean },
    rejectRate: reject.mean,
    uncertainRate: uncertain.mean,
    reject,
    uncertain,
    prevalence,
    // The features rest on all `samples` frames; the class counts are the score histograms'
    // (frames the model never trained on, when profiled so): same class shares assumed.
    frames: counts ? mixedSampleSize(scaled(counts, ref.samples), prevalence) : ref.samples,
    scoreFrames,
  };
}

/** Shares of a histogram of `n` frames smoothed as the window's counts are (smoothedProbs). */
export function smoothedShares(probs: readonly number[], n: number): number[] {
  if (!Number.isFinite(n) || n <= 0) return [...probs];
  return Array.from(
    smoothedProbs(
      probs.map((p) => p * n),
      n,
    ),
  );
}

function scaled(c: { good: number; defect: number }, total: number) {
  const k = total / (c.good + c.defect);
  return { good: c.good * k, defect: c.defect * k };
}

/**
 * Effective sample size of per-class histograms mixed at `prevalence`: a bin's share has the
 * variance of a plain histogram of this many frames ((1-p)²/n_good + p²/n_defect = 1/n).
 */
export function mixedSampleSize(counts: { good: number; defect: number }, prevalence: number): number {
  if (counts.good <= 0 || counts.defect <= 0)
    return Math.max(counts.good, counts.defect, 0) || Number.POSITIVE_INFINITY;
  return 1 / ((1 - prevalence) ** 2 / counts.good + prevalence ** 2 / counts.defect);
}

/**
 * The PSI a window would show against a reference of `frames` frames by the reference's own
 * sampling noise alone: n·PSI is about χ² with bins−1 degrees of freedom, so its mean is
 * (bins−1)/n. Not drift; the detector's limits sit this much higher.
 */
export function referenceNoisePsi(bins: number, frames: number): number {
  return Number.isFinite(frames) && frames > 0 ? Math.max(0, bins - 1) / frames : 0;
}

/** Feature histograms as this line should see them: per-class histograms mixed at its prevalence. */
export function mixFeatures(
  all: Record<string, Histogram>,
  byClass: { good: Record<string, Histogram>; defect: Record<string, Histogram> },
  prevalence: number,
): Record<string, Histogram> {
  const out: Record<string, Histogram> = {};
  for (const [name, h] of Object.entries(all)) {
    const g = byClass.good[name];
    const d = byClass.defect[name];
    if (!g || !d) {
      out[name] = h;
      continue;
    }
    out[name] = {
      ...h,
      probs: g.probs.map((p, i) => (1 - prevalence) * p + prevalence * (d.probs[i] as number)),
      mean: (1 - prevalence) * g.mean + prevalence * d.mean,
      // Law of total variance: within-class spread plus the spread of the class means.
      std: Math.sqrt(
        (1 - prevalence) * g.std ** 2 +
          prevalence * d.std ** 2 +
          prevalence * (1 - prevalence) * (g.mean - d.mean) ** 2,
      ),
    };
  }
  return out;
}

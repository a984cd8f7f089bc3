// What the line should look like to this model, from the manifest's reference statistics and the
// line's own facts (defect prevalence, threshold, uncertain band). Pure.
import type { Histogram, ReferenceStats } from "../model/manifest.js";

export interface DriftReference {
  features: Record<string, Histogram>;
  /** Expected score distribution on this line: the class histograms mixed at its prevalence. */
  score: { edges: number[]; probs: number[]; mean: number };
  /** Expected share of rejected frames and of uncertain decisions. */
  rejectRate: number;
  uncertainRate: number;
  prevalence: number;
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
      prevalence,
    };
  }
  const { good, defect } = byClass;
  const mix = good.probs.map((p, i) => (1 - prevalence) * p + prevalence * (defect.probs[i] as number));
  const above = (x: number) => (1 - prevalence) * massAbove(good, x) + prevalence * massAbove(defect, x);
  const lo = Math.max(0, line.threshold - line.uncertainBand);
  const hi = Math.min(1, line.threshold + line.uncertainBand);
  const uncertainRate = line.uncertainBand > 0 ? Math.max(0, above(lo) - above(hi)) : 0;
  // Rejected: at or above the threshold and not uncertain, plus the uncertain ones if they are rejected.
  const rejectRate =
    line.uncertainAction === "reject" ? above(line.uncertainBand > 0 ? lo : line.threshold) : above(hi);
  const fine = { edges: good.edges, probs: mix };
  const features = ref.features_by_class ? mixFeatures(ref.features, ref.features_by_class, prevalence) : ref.features;
  const score = coarsen(fine, Math.max(1, Math.round(mix.length / 10)));
  return {
    features,
    score: { ...score, mean: (1 - prevalence) * good.mean + prevalence * defect.mean },
    rejectRate,
    uncertainRate,
    prevalence,
  };
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

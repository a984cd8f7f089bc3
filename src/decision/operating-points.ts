// Classifier metrics and the operating-point table, in the terms a line manager uses:
// how much good product is thrown away, how many defects ship. Pure.
import type { ClassMetrics, OperatingPoint } from "../model/manifest.js";

export interface ScoredSample {
  /** Probability of the positive (defect) label. */
  score: number;
  /** Ground-truth: is this a defect? */
  positive: boolean;
  /** Defect type (or the good label), for per-type recall. */
  kind: string;
}

/** Thresholds listed in the table: fine near the ends, where inspection lines operate. */
export const TABLE_THRESHOLDS = [
  0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
  0.98, 0.99,
];

interface Counts {
  goods: number;
  defects: number;
  falseRejects: number;
  missed: number;
}

/** Rejected at `threshold`, or (with a band) uncertain and so rejected: `decide` with uncertain_action reject. */
const rejects = (score: number, threshold: number, band = 0) =>
  score >= threshold || Math.abs(score - threshold) < band;

function count(samples: readonly ScoredSample[], threshold: number, band = 0): Counts {
  const c: Counts = { goods: 0, defects: 0, falseRejects: 0, missed: 0 };
  for (const s of samples) {
    const reject = rejects(s.score, threshold, band);
    if (s.positive) {
      c.defects++;
      if (!reject) c.missed++;
    } else {
      c.goods++;
      if (reject) c.falseRejects++;
    }
  }
  return c;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Expected rejects per 1000 parts on a line where `prevalence` of parts are defective. */
export function rejectsPer1000(falseRejectRate: number, missedRate: number, prevalence: number): number {
  return 1000 * (falseRejectRate * (1 - prevalence) + (1 - missedRate) * prevalence);
}

export function operatingPoint(
  samples: readonly ScoredSample[],
  threshold: number,
  prevalence: number,
): OperatingPoint {
  const c = count(samples, threshold);
  const frr = ratio(c.falseRejects, c.goods);
  const mdr = ratio(c.missed, c.defects);
  return {
    threshold,
    false_reject_rate: frr,
    missed_defect_rate: mdr,
    rejects_per_1000: rejectsPer1000(frr, mdr, prevalence),
  };
}

export function operatingTable(
  samples: readonly ScoredSample[],
  prevalence: number,
  thresholds: readonly number[] = TABLE_THRESHOLDS,
): OperatingPoint[] {
  return thresholds.map((t) => operatingPoint(samples, t, prevalence));
}

/** Area under the ROC curve via the rank-sum (Mann-Whitney U) statistic, ties counted half. */
export function rocAuc(samples: readonly ScoredSample[]): number {
  const sorted = [...samples].sort((a, b) => a.score - b.score);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && (sorted[j] as ScoredSample).score === (sorted[i] as ScoredSample).score) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if ((sorted[k] as ScoredSample).positive) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    i = j;
  }
  const nNeg = sorted.length - nPos;
  if (nPos === 0 || nNeg === 0) return 0;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

function recallPerKind(samples: readonly ScoredSample[], threshold: number, band: number) {
  const perKind = new Map<string, { n: number; caught: number }>();
  for (const s of samples) {
    if (!s.positive) continue;
    const k = perKind.get(s.kind) ?? { n: 0, caught: 0 };
    k.n++;
    if (rejects(s.score, threshold, band)) k.caught++;
    perKind.set(s.kind, k);
  }
  const recall: Record<string, number> = {};
  const n: Record<string, number> = {};
  for (const [kind, k] of [...perKind].sort(([a], [b]) => a.localeCompare(b))) {
    recall[kind] = ratio(k.caught, k.n);
    n[kind] = k.n;
  }
  return { recall, n };
}

/**
 * Metrics at `threshold`; with `uncertainBand` > 0 also `on_line`: as the line acts by default,
 * rejecting the parts within the band too (more false rejects, fewer misses).
 */
export function classMetrics(samples: readonly ScoredSample[], threshold: number, uncertainBand = 0): ClassMetrics {
  const c = count(samples, threshold);
  const kinds = recallPerKind(samples, threshold, 0);
  const metrics: ClassMetrics = {
    samples: samples.length,
    accuracy: ratio(samples.length - c.falseRejects - c.missed, samples.length),
    threshold,
    false_reject_rate: ratio(c.falseRejects, c.goods),
    missed_defect_rate: ratio(c.missed, c.defects),
    roc_auc: rocAuc(samples),
    per_defect_recall: kinds.recall,
    per_defect_samples: kinds.n,
  };
  if (uncertainBand <= 0) return metrics;
  const l = count(samples, threshold, uncertainBand);
  return {
    ...metrics,
    on_line: {
      uncertain_band: uncertainBand,
      accuracy: ratio(samples.length - l.falseRejects - l.missed, samples.length),
      false_reject_rate: ratio(l.falseRejects, l.goods),
      missed_defect_rate: ratio(l.missed, l.defects),
      per_defect_recall: recallPerKind(samples, threshold, uncertainBand).recall,
    },
  };
}

/**
 * The default threshold for a line: among thresholds (0.001 grid) that miss at most
 * `maxMissedRate` of defects, those that reject the fewest good parts form a range; take its
 * middle, so the threshold keeps a margin on both sides instead of sitting on the edge of what
 * the calibration data happened to show.
 */
export function calibrateThreshold(samples: readonly ScoredSample[], maxMissedRate: number): number {
  let bestFrr = Number.POSITIVE_INFINITY;
  let lo = 0.001;
  let hi = 0.001;
  for (let k = 1; k < 1000; k++) {
    const t = k / 1000;
    const c = count(samples, t);
    if (ratio(c.missed, c.defects) > maxMissedRate) break; // the missed rate only grows with t
    const frr = ratio(c.falseRejects, c.goods);
    if (frr < bestFrr) {
      bestFrr = frr;
      lo = t;
    }
    hi = t;
  }
  return Math.round(((lo + hi) / 2) * 1000) / 1000;
}

/**
 * How many of `goods` good parts a share of false rejects allows: at least one when the share is
 * above 0, since a set of fewer than 1/share good parts cannot resolve it, and its single
 * highest-scoring good part would otherwise decide for every line.
 */
function allowedFalseRejects(goods: number, share: number): number {
  return share > 0 ? Math.max(1, Math.floor(share * goods + 1e-9)) : 0;
}

/** The lowest threshold (0.001 grid) that rejects at most `maxFalseReject` of the good parts (`allowedFalseRejects`). */
export function falseRejectFloor(samples: readonly ScoredSample[], maxFalseReject: number): number {
  const allowed = allowedFalseRejects(samples.filter((s) => !s.positive).length, maxFalseReject);
  for (let k = 1; k < 1000; k++) {
    if (count(samples, k / 1000).falseRejects <= allowed) return k / 1000;
  }
  return 0.999;
}

/**
 * One threshold for several calibration sets (the original line's, a new line's): the lowest of
 * their calibrated thresholds, so the missed defects stay within `maxMissedRate` on each, where a
 * pooled set would let the larger one hide the other's misses. With `maxFalseReject`, never below
 * the threshold that keeps every set's false rejects within that share: a few dozen of a new
 * line's defects can hold one the model cannot see at all, and chasing it would reject good parts
 * on every line.
 */
export function calibrateAcross(
  sets: readonly (readonly ScoredSample[])[],
  maxMissedRate: number,
  maxFalseReject: number | null = null,
): number {
  if (sets.length === 0) throw new Error("calibrateAcross needs at least one calibration set");
  const missTarget = Math.min(...sets.map((s) => calibrateThreshold(s, maxMissedRate)));
  if (maxFalseReject === null) return missTarget;
  return Math.max(missTarget, ...sets.map((s) => falseRejectFloor(s, maxFalseReject)));
}

/**
 * The widest uncertain band up to `band` (0.001 grid) around `threshold` whose uncertain good
 * parts, acted on as rejects (the safe `decision.uncertain_action`), add at most
 * `maxAddedFalseReject` of each set's good parts to its false rejects (`allowedFalseRejects`).
 * A fixed ±0.15 is narrow where a model's scores are polarized and rejects several percent of
 * good parts where they are not (a model retrained on a new line).
 */
export function fitBandToRejects(
  sets: readonly (readonly ScoredSample[])[],
  threshold: number,
  band: number,
  maxAddedFalseReject: number,
): number {
  const base = sets.map((s) => count(s, threshold));
  const allowed = base.map((c) => allowedFalseRejects(c.goods, maxAddedFalseReject));
  const fits = (b: number) =>
    sets.every(
      (s, i) => count(s, threshold, b).falseRejects - (base[i] as Counts).falseRejects <= (allowed[i] as number),
    );
  let k = Math.round(band * 1000);
  while (k > 0 && !fits(k / 1000)) k--;
  return k / 1000;
}

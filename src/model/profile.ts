// Reference statistics and the operating-point table of a model, from its evaluated frames. Pure.
import { classMetrics, operatingTable, TABLE_THRESHOLDS } from "../decision/operating-points.js";
import { FEATURE_NAMES } from "../monitor/frame-features.js";
import { histogram, quantileEdges } from "../monitor/histogram.js";
import type { EvaluatedFrame } from "./evaluate.js";
import type { ClassMetrics, Manifest, OperatingPoint, ReferenceStats } from "./manifest.js";

export const FEATURE_BINS = 10;
export const SCORE_EDGES = Array.from({ length: 11 }, (_, i) => i / 10);
/** Per-class score histograms: fine enough to integrate an uncertain band of a few hundredths. */
export const FINE_SCORE_EDGES = Array.from({ length: 51 }, (_, i) => i / 50);

export interface ProfileOptions {
  /** Share of defective parts on the line, for expected rejects per 1000 parts. */
  prevalence: number;
  /** Decision threshold; from the manifest unless recalibrated. */
  threshold: number;
  /** Name of the data set, recorded in the manifest. */
  dataName: string;
  /** The manifest's uncertain band: the metrics also say how the line acts with it (`on_line`). */
  uncertainBand?: number;
}

export interface Profile {
  metrics: ClassMetrics;
  operatingPoints: OperatingPoint[];
  reference: ReferenceStats;
}

export function buildProfile(frames: readonly EvaluatedFrame[], opts: ProfileOptions): Profile {
  const features: ReferenceStats["features"] = {};
  const good: ReferenceStats["features"] = {};
  const defect: ReferenceStats["features"] = {};
  for (const name of FEATURE_NAMES) {
    const values = frames.map((f) => f.features[name]);
    const edges = quantileEdges(values, FEATURE_BINS);
    features[name] = histogram(values, edges);
    good[name] = histogram(
      frames.filter((f) => !f.positive).map((f) => f.features[name]),
      edges,
    );
    defect[name] = histogram(
      frames.filter((f) => f.positive).map((f) => f.features[name]),
      edges,
    );
  }
  const scores = frames.map((f) => f.score);
  const metrics = classMetrics(frames, opts.threshold, opts.uncertainBand);
  return {
    metrics,
    // The default threshold always gets its own row.
    operatingPoints: operatingTable(
      frames,
      opts.prevalence,
      [...new Set([...TABLE_THRESHOLDS, opts.threshold])].sort((a, b) => a - b),
    ),
    reference: {
      samples: frames.length,
      data: opts.dataName,
      features,
      score: histogram(scores, SCORE_EDGES),
      score_by_class: {
        good: histogram(
          frames.filter((f) => !f.positive).map((f) => f.score),
          FINE_SCORE_EDGES,
        ),
        defect: histogram(
          frames.filter((f) => f.positive).map((f) => f.score),
          FINE_SCORE_EDGES,
        ),
      },
      features_by_class: { good, defect },
      class_samples: {
        good: frames.filter((f) => !f.positive).length,
        defect: frames.filter((f) => f.positive).length,
      },
      // What the line should see: the data set's class mix reweighted to the stated prevalence.
      reject_rate: expectedRejectRate(metrics, opts.prevalence),
      defect_prevalence: opts.prevalence,
    },
  };
}

/** The line's reject rate as the daemon counts it: uncertain parts are rejected too (the default action). */
function expectedRejectRate(m: ClassMetrics, prevalence: number): number {
  const r = m.on_line ?? m;
  return r.false_reject_rate * (1 - prevalence) + (1 - r.missed_defect_rate) * prevalence;
}

/**
 * A reference whose frame features come from `features` and whose scores (and the class counts
 * and reject rate that go with them) come from `scores`: a model is over-confident on the frames
 * it was trained on, so its scores are described on frames it never saw, while how the line
 * looks can use every frame.
 */
export function withScoresFrom(features: ReferenceStats, scores: ReferenceStats): ReferenceStats {
  return {
    ...features,
    data: `${features.data} (scores: ${scores.data})`,
    score: scores.score,
    ...(scores.score_by_class ? { score_by_class: scores.score_by_class } : {}),
    ...(scores.class_samples ? { class_samples: scores.class_samples } : {}),
    reject_rate: scores.reject_rate,
  };
}

export function applyProfile(manifest: Manifest, key: string, profile: Profile, fileBytes: number): Manifest {
  const previous = manifest.metrics?.[key];
  return {
    ...manifest,
    metrics: {
      ...manifest.metrics,
      [key]: {
        ...previous,
        description: previous?.description ?? "shipped artifact",
        file_bytes: fileBytes,
        test: profile.metrics,
      },
    },
    operating_points: profile.operatingPoints,
    reference: profile.reference,
  };
}

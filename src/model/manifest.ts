// The model manifest: the contract between the training recipe and the daemon.
// Written by the recipe, completed by `linesight model profile`, read at every model load.
import { z } from "zod";
import { UserFacingError } from "../errors.js";

export const MANIFEST_SCHEMA_VERSION = 1;

const rateSchema = z.number().min(0).max(1);

/** A defect kind's name: safe as a key, a folder name and a CSV cell. */
export const DEFECT_KIND = /^[a-z][a-z0-9_]{0,31}$/;
/** The kind a labeler can always choose: a defect the manifest does not name. */
export const OTHER_KIND = "other";

/** The kinds offered when labeling a defect: the manifest's, then "other". */
export function defectKinds(m: Pick<Manifest, "defect_kinds">): string[] {
  const named = (m.defect_kinds ?? []).filter((k) => k !== OTHER_KIND);
  return [...named, OTHER_KIND];
}

export const inputSpecSchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()).length(4),
  layout: z.enum(["NCHW", "NHWC"]),
  dtype: z.literal("float32"),
  color: z.enum(["RGB", "BGR"]),
  resize: z.strictObject({
    // fill: stretch to the input size; cover: crop to the aspect ratio first; contain: letterbox.
    mode: z.enum(["fill", "cover", "contain"]),
    // sharp's kernels, or "turbo-dct-box": libjpeg-turbo's DCT-scaled decode to the smallest
    // scale at or above the input, then an area average (native/jpeg-tensor; docs/models.md).
    kernel: z.enum(["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3", "turbo-dct-box"]),
  }),
  // tensor = (pixel * scale - mean[c]) / std[c], pixel in 0..255
  scale: z.number().positive(),
  mean: z.array(z.number()).length(3),
  std: z.array(z.number().positive()).length(3),
});
export type InputSpec = z.infer<typeof inputSpecSchema>;

export const outputSpecSchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()),
  kind: z.enum(["logits", "probabilities"]),
});
export type OutputSpec = z.infer<typeof outputSpecSchema>;

export const classMetricsSchema = z.strictObject({
  samples: z.number().int().nonnegative(),
  accuracy: rateSchema,
  threshold: z.number(),
  false_reject_rate: rateSchema,
  missed_defect_rate: rateSchema,
  roc_auc: rateSchema,
  per_defect_recall: z.record(z.string(), rateSchema),
  // Defective frames of each kind behind per_defect_recall (for its confidence interval).
  per_defect_samples: z.record(z.string(), z.number().int().nonnegative()).optional(),
  // As the line acts by default: parts within the uncertain band are rejected too.
  on_line: z
    .strictObject({
      uncertain_band: z.number().nonnegative(),
      accuracy: rateSchema,
      false_reject_rate: rateSchema,
      missed_defect_rate: rateSchema,
      per_defect_recall: z.record(z.string(), rateSchema),
    })
    .optional(),
});
export type ClassMetrics = z.infer<typeof classMetricsSchema>;

export const artifactMetricsSchema = z.strictObject({
  description: z.string(),
  file_bytes: z.number().int().positive(),
  macs: z.number().int().positive().optional(),
  params: z.number().int().positive().optional(),
  test: classMetricsSchema,
  // The same metrics on the frames shipped with the model for its demo (the recipe's bundled
  // footage), so what the demo shows and what the tests assert are recorded with the model.
  footage: classMetricsSchema.extend({ data: z.string().min(1) }).optional(),
  // A model retrained on device samples (`model:build --from-export`): the same metrics on the
  // share of them held out of training.
  device: classMetricsSchema.extend({ data: z.string().min(1) }).optional(),
  // Frames rendered with a seed neither training nor the footage used: the honest figure for a
  // model whose recipe was tuned while looking at its test split.
  fresh: classMetricsSchema.extend({ data: z.string().min(1) }).optional(),
});
export type ArtifactMetrics = z.infer<typeof artifactMetricsSchema>;

export const operatingPointSchema = z.strictObject({
  threshold: z.number(),
  false_reject_rate: rateSchema,
  missed_defect_rate: rateSchema,
  rejects_per_1000: z.number().nonnegative(),
});
export type OperatingPoint = z.infer<typeof operatingPointSchema>;

export const histogramSchema = z.strictObject({
  edges: z.array(z.number()).min(2),
  // probabilities per bin; first and last bins are open-ended (below edges[1], above the last inner edge)
  probs: z.array(rateSchema),
  mean: z.number(),
  std: z.number().nonnegative(),
  min: z.number(),
  max: z.number(),
  quantiles: z.strictObject({ p01: z.number(), p50: z.number(), p99: z.number() }),
});
export type Histogram = z.infer<typeof histogramSchema>;

export const referenceSchema = z.strictObject({
  samples: z.number().int().positive(),
  data: z.string(),
  features: z.record(z.string(), histogramSchema),
  score: histogramSchema,
  // Score histograms per true class (fine bins), so serving can mix them at its own line's
  // defect prevalence and threshold: expected score distribution, reject and uncertain rates.
  score_by_class: z.strictObject({ good: histogramSchema, defect: histogramSchema }).optional(),
  // Frame features per true class, on the same edges as `features`: defects change how a frame
  // looks (a burn darkens it), so the reference is mixed at the line's prevalence too.
  features_by_class: z
    .strictObject({
      good: z.record(z.string(), histogramSchema),
      defect: z.record(z.string(), histogramSchema),
    })
    .optional(),
  // Frames per true class behind the per-class histograms: how much evidence a rare rate rests on.
  class_samples: z
    .strictObject({ good: z.number().int().nonnegative(), defect: z.number().int().nonnegative() })
    .optional(),
  reject_rate: rateSchema,
  defect_prevalence: rateSchema,
});
export type ReferenceStats = z.infer<typeof referenceSchema>;

export const manifestSchema = z.strictObject({
  schema_version: z.literal(MANIFEST_SCHEMA_VERSION),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, '.', '_' or '-'"),
  version: z.string().min(1),
  created: z.string().min(1),
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
  task: z.literal("binary-classification"),
  labels: z.array(z.string().min(1)).length(2),
  positive_label: z.string().min(1),
  // What kinds of the positive label people can name when they label (e.g. crack, chip): the
  // labeling page offers them, the audit reports recall per kind, retraining sees them.
  defect_kinds: z
    .array(z.string().regex(DEFECT_KIND, "lower-case letters, digits and '_', starting with a letter"))
    .max(20)
    .optional(),
  input: inputSpecSchema,
  output: outputSpecSchema,
  decision: z.strictObject({
    threshold: z.number().min(0).max(1),
    uncertain_band: z.number().min(0).max(0.5),
    policy: z.string(),
  }),
  optimization: z.strictObject({
    pruning: z.record(z.string(), z.unknown()),
    quantization: z.record(z.string(), z.unknown()),
  }),
  training: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), artifactMetricsSchema).optional(),
  operating_points: z.array(operatingPointSchema).optional(),
  reference: referenceSchema.optional(),
  card: z.strictObject({
    summary: z.string(),
    intended_use: z.string(),
    limitations: z.array(z.string()),
    training_data: z.string(),
  }),
});
export type Manifest = z.infer<typeof manifestSchema>;

export class ManifestError extends UserFacingError {}

/** Validates parsed JSON; the error lists every problem with its key path. */
export function parseManifest(json: unknown, source: string): Manifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ManifestError(`${source} is not a valid model manifest:\n${problems.join("\n")}`);
  }
  const m = result.data;
  if (!m.labels.includes(m.positive_label)) {
    throw new ManifestError(
      `${source}: positive_label "${m.positive_label}" is not one of labels [${m.labels.join(", ")}]`,
    );
  }
  return m;
}

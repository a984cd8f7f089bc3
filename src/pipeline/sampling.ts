// Which decided frames are kept as samples for labeling, and why. Pure.
import type { Decision } from "../decision/decide.js";
import type { SampleReason } from "../store/types.js";

export interface SamplingPolicy {
  storeRejects: boolean;
  storeUncertain: boolean;
  /** Random share of ALL frames, kept regardless of the decision: unbiased accuracy estimates. */
  auditFraction: number;
}

/**
 * The audit draw comes first and ignores the decision, so audit samples are a fair sample of
 * the line (including passed parts, where missed defects hide).
 */
export function sampleReason(d: Decision, p: SamplingPolicy, random: () => number): SampleReason | null {
  if (p.auditFraction > 0 && random() < p.auditFraction) return "audit";
  if (d.uncertain && p.storeUncertain) return "uncertain";
  if (d.action === "reject" && p.storeRejects) return "reject";
  return null;
}

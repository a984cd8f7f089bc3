// Which decided frames are kept as samples for labeling, and why. Pure.
import type { Decision } from "../decision/decide.js";
import type { SampleReason } from "./types.js";

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
export function sampleReason(
  d: Decision,
  p: SamplingPolicy,
  random: () => number,
  outOfDistribution = false,
): SampleReason | null {
  if (p.auditFraction > 0 && random() < p.auditFraction) return "audit";
  // Unlike anything the model was profiled on: its decision is a guess, so a label is worth most.
  if (outOfDistribution) return "ood";
  if (d.uncertain && p.storeUncertain) return "uncertain";
  if (d.action === "reject" && p.storeRejects) return "reject";
  return null;
}

/**
 * At most `perMinute` events in any minute, refilled continuously (token bucket), so a bumped
 * camera that makes every frame out-of-distribution cannot flood the sample store.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perMinute: number,
    now: number,
  ) {
    this.tokens = perMinute;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.last) / 60000) * this.perMinute);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

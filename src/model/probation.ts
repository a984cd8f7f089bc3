// Probation after a promotion: the watched rates of the new model and the verdict on them, and
// what a start during probation means (a crash loop starts on `previous`, like greenboot). Pure.

export interface ProbationLimits {
  durationS: number;
  minFrames: number;
  maxRejectRateIncrease: number;
  maxOodRate: number;
  /** Median frame-to-decision ms; null: not judged. */
  maxLatencyMs: number | null;
  maxRestarts: number;
}

/** What was seen of the promoted model since probation began. */
export interface ProbationTally {
  frames: number;
  rejects: number;
  ood: number;
  /** Median frame-to-decision time over the frames seen; null before the first. */
  latencyP50Ms: number | null;
}

/** The expected share of rejects for this model on this line; null when unknown (not judged). */
export type ExpectedRejectRate = number | null;

export type ProbationVerdict =
  | { status: "watching"; reason: string }
  | { status: "passed"; reason: string }
  | { status: "failed"; check: "reject_rate" | "ood_rate" | "latency"; reason: string };

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Judges the tally; `elapsedS` since probation began. */
export function judgeProbation(
  t: ProbationTally,
  expected: ExpectedRejectRate,
  limits: ProbationLimits,
  elapsedS: number,
): ProbationVerdict {
  if (t.frames >= limits.minFrames) {
    const rejectRate = t.rejects / t.frames;
    if (expected !== null && rejectRate - expected > limits.maxRejectRateIncrease)
      return {
        status: "failed",
        check: "reject_rate",
        reason: `reject rate ${pct(rejectRate)} (${t.rejects} of ${t.frames} frames) against the ${pct(expected)} expected of this model, more than ${pct(limits.maxRejectRateIncrease)} above (model.probation.max_reject_rate_increase)`,
      };
    const oodRate = t.ood / t.frames;
    if (oodRate > limits.maxOodRate)
      return {
        status: "failed",
        check: "ood_rate",
        reason: `${pct(oodRate)} of frames (${t.ood} of ${t.frames}) out of the model's reference range, over ${pct(limits.maxOodRate)} (model.probation.max_ood_rate)`,
      };
    if (limits.maxLatencyMs !== null && t.latencyP50Ms !== null && t.latencyP50Ms > limits.maxLatencyMs)
      return {
        status: "failed",
        check: "latency",
        reason: `median frame-to-decision time ${t.latencyP50Ms.toFixed(1)} ms over ${limits.maxLatencyMs} ms (model.probation.max_latency_ms)`,
      };
  }
  if (elapsedS < limits.durationS)
    return { status: "watching", reason: `${t.frames} frames in ${Math.floor(elapsedS)} s of ${limits.durationS} s` };
  if (t.frames < limits.minFrames)
    return {
      status: "passed",
      reason: `probation time over with only ${t.frames} frames (model.probation.min_frames ${limits.minFrames}): nothing went wrong that could be seen`,
    };
  return { status: "passed", reason: `${t.frames} frames in ${limits.durationS} s within every limit` };
}

/** The durable record of a probation (probation.json in the model store). */
export interface ProbationRecord {
  /** The promoted model (name@version) under watch. */
  id: string;
  /** What it replaced: where a rollback goes. */
  previous: string | null;
  started_at: string;
  until: string;
  /** Daemon starts since the promotion (the first start after it counts as one). */
  starts: number;
}

/**
 * What a daemon start does with a probation record: nothing (no record, or for another model,
 * or over), count this start, or roll back (too many starts: the model likely crashes the daemon).
 */
export function probationAtStart(
  r: ProbationRecord | null,
  active: string | null,
  now: Date,
  maxRestarts: number,
): { action: "none" } | { action: "count"; record: ProbationRecord } | { action: "rollback"; reason: string } {
  if (!r || r.id !== active || now.getTime() >= Date.parse(r.until)) return { action: "none" };
  const starts = r.starts + 1;
  if (starts > maxRestarts && r.previous)
    return {
      action: "rollback",
      reason: `the daemon started ${starts} times while ${r.id} was on probation (model.probation.max_restarts ${maxRestarts}): starting on ${r.previous}`,
    };
  return { action: "count", record: { ...r, starts } };
}

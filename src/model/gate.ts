// The gate: is a candidate model at least as good as the active one on this line's labeled
// frames? Both models' decisions on the same frames, each at its own threshold, compared per
// error kind with counts, Wilson intervals and McNemar's exact test on the paired differences.
// Pure.
import { type RateEstimate, wilson } from "../monitor/audit-accuracy.js";

export interface PairedScore {
  file: string;
  /** Ground truth: the part is defective (should be rejected). */
  positive: boolean;
  active: number;
  candidate: number;
}

export interface GateOptions {
  activeThreshold: number;
  candidateThreshold: number;
  /** model.gate.max_missed_defect_increase: absolute increase tolerated. */
  maxMissedDefectIncrease: number;
  maxFalseRejectIncrease: number;
  /** model.gate.significance: one-sided level of McNemar's test for "worse". */
  significance: number;
  minDefects: number;
  minGood: number;
  tooFewLabels: "refuse" | "accept";
}

/** model.gate (configuration keys) as the gate's limits; the thresholds come from the models. */
export function gateLimits(g: {
  max_missed_defect_increase: number;
  max_false_reject_increase: number;
  significance: number;
  min_defects: number;
  min_good: number;
  too_few_labels: "refuse" | "accept";
}): Omit<GateOptions, "activeThreshold" | "candidateThreshold"> {
  return {
    maxMissedDefectIncrease: g.max_missed_defect_increase,
    maxFalseRejectIncrease: g.max_false_reject_increase,
    significance: g.significance,
    minDefects: g.min_defects,
    minGood: g.min_good,
    tooFewLabels: g.too_few_labels,
  };
}

export interface ModelErrors {
  threshold: number;
  missed_defects: number;
  false_rejects: number;
  missed_defect_rate: RateEstimate;
  false_reject_rate: RateEstimate;
}

/** Paired comparison of one error kind on the frames where it can happen (defects, or good parts). */
export interface PairedComparison {
  frames: number;
  both_wrong: number;
  /** Errors the candidate makes that the active model does not. */
  only_candidate_wrong: number;
  /** Errors the active model makes that the candidate fixes. */
  only_active_wrong: number;
  /** Candidate rate minus active rate; null without frames. */
  difference: number | null;
  /** McNemar exact, one-sided: the chance of this many (or more) new errors if both models were equally good. */
  p_worse: number;
  /** McNemar exact, two-sided. */
  p_two_sided: number;
}

export interface GateReport {
  verdict: "pass" | "refuse";
  /** Why refused; empty on pass. */
  reasons: string[];
  /** Things the reader should know that did not refuse (e.g. accepted with too few labels). */
  notes: string[];
  labels: { defects: number; good: number; missing_defects: number; missing_good: number };
  active: ModelErrors;
  candidate: ModelErrors;
  missed_defects: PairedComparison;
  false_rejects: PairedComparison;
  options: GateOptions;
}

/** P(X >= k) for X ~ Binomial(n, 1/2), summed in log space (exact for any n we meet). */
export function binomialHalfUpperTail(k: number, n: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let logPmf = -n * Math.LN2; // P(X = 0)
  let tail = 0;
  for (let i = 0; i < n; i++) {
    if (i >= k) tail += Math.exp(logPmf);
    logPmf += Math.log(n - i) - Math.log(i + 1);
  }
  tail += Math.exp(logPmf); // i = n
  return Math.min(1, tail);
}

/** McNemar's exact test on b (only candidate wrong) vs c (only active wrong). */
export function mcnemarExact(b: number, c: number): { p_worse: number; p_two_sided: number } {
  const n = b + c;
  const upper = binomialHalfUpperTail(b, n);
  const lower = binomialHalfUpperTail(n - b, n); // P(X <= b) by symmetry
  return { p_worse: round(upper), p_two_sided: round(Math.min(1, 2 * Math.min(upper, lower))) };
}

function errorsOf(frames: readonly PairedScore[], which: "active" | "candidate", threshold: number): ModelErrors {
  let missed = 0;
  let falseRejects = 0;
  let defects = 0;
  for (const f of frames) {
    const rejected = f[which] >= threshold;
    if (f.positive) {
      defects++;
      if (!rejected) missed++;
    } else if (rejected) falseRejects++;
  }
  return {
    threshold,
    missed_defects: missed,
    false_rejects: falseRejects,
    missed_defect_rate: wilson(missed, defects),
    false_reject_rate: wilson(falseRejects, frames.length - defects),
  };
}

function paired(frames: readonly PairedScore[], o: GateOptions, positive: boolean): PairedComparison {
  // An error: a defect passed (positive) or a good part rejected (negative).
  const wrong = (score: number, threshold: number) => (positive ? score < threshold : score >= threshold);
  let both = 0;
  let onlyCandidate = 0;
  let onlyActive = 0;
  let n = 0;
  for (const f of frames) {
    if (f.positive !== positive) continue;
    n++;
    const a = wrong(f.active, o.activeThreshold);
    const c = wrong(f.candidate, o.candidateThreshold);
    if (a && c) both++;
    else if (c) onlyCandidate++;
    else if (a) onlyActive++;
  }
  return {
    frames: n,
    both_wrong: both,
    only_candidate_wrong: onlyCandidate,
    only_active_wrong: onlyActive,
    difference: n === 0 ? null : round((onlyCandidate - onlyActive) / n),
    ...mcnemarExact(onlyCandidate, onlyActive),
  };
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`);

export function gate(frames: readonly PairedScore[], o: GateOptions): GateReport {
  const defects = frames.filter((f) => f.positive).length;
  const good = frames.length - defects;
  const labels = {
    defects,
    good,
    missing_defects: Math.max(0, o.minDefects - defects),
    missing_good: Math.max(0, o.minGood - good),
  };
  const active = errorsOf(frames, "active", o.activeThreshold);
  const candidate = errorsOf(frames, "candidate", o.candidateThreshold);
  const missed = paired(frames, o, true);
  const falseRejects = paired(frames, o, false);
  const reasons: string[] = [];
  const notes: string[] = [];

  if (labels.missing_defects > 0 || labels.missing_good > 0) {
    const need =
      `${labels.missing_defects} more labeled defects and ${labels.missing_good} more labeled good parts ` +
      `(have ${defects} of model.gate.min_defects ${o.minDefects}, ${good} of min_good ${o.minGood})`;
    if (o.tooFewLabels === "refuse") reasons.push(`too few labels to judge: needs ${need}`);
    else notes.push(`judged on too few labels (model.gate.too_few_labels: accept); would need ${need}`);
  }
  const margin = (kind: string, cmp: PairedComparison, a: ModelErrors, c: ModelErrors, max: number, key: string) => {
    const ar = a[kind === "defects" ? "missed_defect_rate" : "false_reject_rate"];
    const cr = c[kind === "defects" ? "missed_defect_rate" : "false_reject_rate"];
    const verb = kind === "defects" ? "misses" : "falsely rejects";
    const what = kind === "defects" ? "defects" : "good parts";
    if (cmp.difference !== null && cmp.difference > max)
      reasons.push(
        `the candidate ${verb} ${pct(cr.value)} of ${what} (${pct(cr.low)}–${pct(cr.high)}) against the active model's ` +
          `${pct(ar.value)} (${pct(ar.low)}–${pct(ar.high)}): ${(cmp.difference * 100).toFixed(2)} points worse, ` +
          `over the margin of ${(max * 100).toFixed(2)} points (model.gate.${key}: ${max})`,
      );
    if (cmp.p_worse < o.significance)
      reasons.push(
        `significantly worse on ${what} (McNemar exact, one-sided p = ${cmp.p_worse.toPrecision(3)} < ${o.significance}): ` +
          `of ${cmp.frames} ${what}, the candidate ` +
          (kind === "defects"
            ? `misses ${cmp.only_candidate_wrong} that the active model catches, and catches ${cmp.only_active_wrong} that it misses`
            : `rejects ${cmp.only_candidate_wrong} that the active model passes, and passes ${cmp.only_active_wrong} that it rejects`),
      );
  };
  margin("defects", missed, active, candidate, o.maxMissedDefectIncrease, "max_missed_defect_increase");
  margin("good", falseRejects, active, candidate, o.maxFalseRejectIncrease, "max_false_reject_increase");
  return {
    verdict: reasons.length === 0 ? "pass" : "refuse",
    reasons,
    notes,
    labels,
    active,
    candidate,
    missed_defects: missed,
    false_rejects: falseRejects,
    options: o,
  };
}

/** The report as a person reads it. */
export function formatGateReport(r: GateReport, names: { active: string; candidate: string }): string {
  const row = (name: string, e: ModelErrors) =>
    `  ${name.padEnd(28)} threshold ${String(e.threshold).padEnd(7)}  missed defects ${e.missed_defects}/${e.missed_defect_rate.n} ` +
    `${pct(e.missed_defect_rate.value)} [${pct(e.missed_defect_rate.low)}, ${pct(e.missed_defect_rate.high)}]  ` +
    `false rejects ${e.false_rejects}/${e.false_reject_rate.n} ${pct(e.false_reject_rate.value)} ` +
    `[${pct(e.false_reject_rate.low)}, ${pct(e.false_reject_rate.high)}]`;
  const cmp = (what: string, c: PairedComparison) =>
    `  ${what.padEnd(15)} on ${c.frames}: both wrong ${c.both_wrong}, only candidate wrong ${c.only_candidate_wrong}, ` +
    `only active wrong ${c.only_active_wrong}; McNemar p(worse) ${c.p_worse.toPrecision(3)}, two-sided ${c.p_two_sided.toPrecision(3)}`;
  return [
    `gate: ${r.verdict === "pass" ? "PASS" : "REFUSED"} (${r.labels.defects} labeled defects, ${r.labels.good} good parts; 95% Wilson intervals)`,
    row(`active ${names.active}`, r.active),
    row(`candidate ${names.candidate}`, r.candidate),
    "paired, same frames:",
    cmp("defects", r.missed_defects),
    cmp("good parts", r.false_rejects),
    ...r.reasons.map((x) => `refused: ${x}`),
    ...r.notes.map((x) => `note: ${x}`),
  ].join("\n");
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}

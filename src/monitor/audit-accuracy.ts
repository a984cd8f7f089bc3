// The model's real accuracy on the line, from audit samples (a random share of ALL frames,
// whatever the decision) that people labeled. Pure. Rates come with Wilson score intervals,
// which stay inside 0–1 and behave with few samples or rates near 0, unlike p ± 1.96·se.

/** What the line did with audited parts vs what people say they were. */
export interface AuditCounts {
  /** Defective, rejected. */
  truePositive: number;
  /** Good, rejected: a false reject. */
  falsePositive: number;
  /** Good, passed. */
  trueNegative: number;
  /** Defective, passed: a missed defect. */
  falseNegative: number;
  /** Defective parts whose labeler named the defect kind, by kind: how many the line caught and missed. */
  byKind: Record<string, { caught: number; missed: number }>;
}

export interface RateEstimate {
  /** Observed share; null when there is nothing to divide by. */
  value: number | null;
  /** 95% Wilson interval; null with no samples. */
  low: number | null;
  high: number | null;
  /** Samples behind the estimate (the denominator). */
  n: number;
}

export interface AuditAccuracy {
  /** Labeled audit samples (skips excluded). */
  samples: number;
  accuracy: RateEstimate;
  /** Share of good parts rejected. */
  false_reject_rate: RateEstimate;
  /** Share of defective parts passed. */
  missed_defect_rate: RateEstimate;
  /** Share of each named defect kind the line rejected (kinds people named on audit samples). */
  recall_by_kind: Record<string, RateEstimate>;
}

const Z95 = 1.959963984540054;

/** Wilson score interval for k successes in n trials. */
export function wilson(k: number, n: number, z = Z95): RateEstimate {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && n >= 0 && k <= n))
    throw new RangeError(`wilson: need integers 0 <= k <= n, got k=${k} n=${n}`);
  if (n === 0) return { value: null, low: null, high: null, n: 0 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Exact ends: with k = 0 the low end is 0, with k = n the high end is 1 (rounding would miss them).
  return {
    value: round(p),
    low: k === 0 ? 0 : round(Math.max(0, centre - half)),
    high: k === n ? 1 : round(Math.min(1, centre + half)),
    n,
  };
}

export function auditAccuracy(c: AuditCounts): AuditAccuracy {
  const good = c.trueNegative + c.falsePositive;
  const defective = c.truePositive + c.falseNegative;
  const n = good + defective;
  return {
    samples: n,
    accuracy: wilson(c.truePositive + c.trueNegative, n),
    false_reject_rate: wilson(c.falsePositive, good),
    missed_defect_rate: wilson(c.falseNegative, defective),
    recall_by_kind: Object.fromEntries(
      Object.entries(c.byKind)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([kind, k]) => [kind, wilson(k.caught, k.caught + k.missed)]),
    ),
  };
}

/**
 * Tallies labeled audit samples. `rejected`: what the line did; `label`: the person's answer;
 * `kind`: the defect kind they named, if any (recall per kind).
 * Every label other than the good (negative) one is a defect, so labelers may name defect
 * types and they all count as "should have been rejected".
 */
export function tallyAudit(
  rows: Iterable<{ rejected: boolean; label: string; kind?: string | null }>,
  goodLabel: string,
): AuditCounts {
  const c: AuditCounts = { truePositive: 0, falsePositive: 0, trueNegative: 0, falseNegative: 0, byKind: {} };
  for (const r of rows) {
    const defective = r.label !== goodLabel;
    if (defective && r.kind) {
      const k = c.byKind[r.kind] ?? { caught: 0, missed: 0 };
      c.byKind[r.kind] = k;
      if (r.rejected) k.caught++;
      else k.missed++;
    }
    if (defective && r.rejected) c.truePositive++;
    else if (defective) c.falseNegative++;
    else if (r.rejected) c.falsePositive++;
    else c.trueNegative++;
  }
  return c;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

// Score -> what the line does with the part. Pure.

export interface DecisionPolicy {
  threshold: number;
  /** Scores within ±band of the threshold are "uncertain": worth a human look. */
  uncertainBand: number;
  /** What the line does with an uncertain part. */
  uncertainAction: "pass" | "reject";
  negativeLabel: string;
  positiveLabel: string;
}

export interface Decision {
  /** The model's label at the threshold. */
  label: string;
  action: "pass" | "reject";
  uncertain: boolean;
}

export function decide(score: number, p: DecisionPolicy): Decision {
  const positive = score >= p.threshold;
  const uncertain = Math.abs(score - p.threshold) < p.uncertainBand;
  const label = positive ? p.positiveLabel : p.negativeLabel;
  return { label, action: uncertain ? p.uncertainAction : positive ? "reject" : "pass", uncertain };
}

/**
 * A band that reaches 0 or 1 makes every confident decision on that side "uncertain" (stored,
 * counted, and acted on as uncertain_action): almost always a mistake worth a warning.
 */
export function bandWarning(p: Pick<DecisionPolicy, "threshold" | "uncertainBand">): string | null {
  const { threshold: t, uncertainBand: b } = p;
  if (b <= 0) return null;
  if (t + b >= 1 || t - b <= 0) {
    return (
      `the uncertain band ±${b} around threshold ${t} reaches ${t + b >= 1 ? "1" : "0"}: every confident ` +
      `${t + b >= 1 ? "reject" : "pass"} counts as uncertain. Set decision.uncertain_band below ${Math.min(t, 1 - t).toFixed(3)}`
    );
  }
  return null;
}

/** The widest band up to `band` that stays inside (0, 1): at most half the way to the nearer end. */
export function fitBand(band: number, threshold: number): number {
  return Math.min(band, Math.floor(Math.min(threshold, 1 - threshold) * 500) / 1000);
}

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

// Per-stage latency percentiles over a fixed window of recent frames: constant memory,
// percentiles computed only when a report is made (not per frame).

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

export class LatencyWindow {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;
  count = 0;

  constructor(size = 2048) {
    this.values = new Float64Array(size);
  }

  record(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % this.values.length;
    if (this.filled < this.values.length) this.filled++;
    this.count++;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.filled).sort();
    const at = (q: number) =>
      this.filled === 0 ? 0 : (sorted[Math.min(this.filled - 1, Math.floor(q * this.filled))] as number);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      p50: round(at(0.5)),
      p95: round(at(0.95)),
      p99: round(at(0.99)),
      max: round(this.filled === 0 ? 0 : (sorted[this.filled - 1] as number)),
      count: this.count,
    };
  }
}

export const STAGES = ["queue", "preprocess", "infer", "decide", "end_to_end"] as const;
export type Stage = (typeof STAGES)[number];

export class StageTimings {
  readonly windows = Object.fromEntries(STAGES.map((s) => [s, new LatencyWindow()])) as Record<Stage, LatencyWindow>;

  record(stage: Stage, ms: number): void {
    this.windows[stage].record(ms);
  }

  summary(): Record<Stage, LatencySummary> {
    return Object.fromEntries(STAGES.map((s) => [s, this.windows[s].summary()])) as Record<Stage, LatencySummary>;
  }
}

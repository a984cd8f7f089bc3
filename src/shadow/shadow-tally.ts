// Shadow mode's account of one candidate: how often it took the same action as the active model on
// the same frame, which way it disagreed, what it skipped and how long it took. Pure: the part
// (src/parts/model-shadow.ts) feeds it and reads the report.
import type { Level } from "../monitor/hysteresis.js";
import { LatencyWindow } from "../monitor/latency.js";

/** Which model: the same shape as ActiveModel's identity (the monitor layer does not import the pipeline). */
export interface Identity {
  name: string;
  version: string;
  sha256: string;
}

/** The tally as shadow-control.ts's ShadowReport has it (field for field; checked where it is used). */
export interface ShadowAccount {
  candidate: Identity;
  since: string;
  frames: number;
  dropped: number;
  agree: number;
  agreement: number | null;
  disagreements: { candidate_rejects: number; candidate_passes: number };
  latency_ms: { p50: number | null; p99: number | null };
  drift: Level | null;
}

export type Action = "pass" | "reject";

/** How the candidate's action compares with the active model's on one frame. */
export type Comparison = "agree" | "candidate_rejects" | "candidate_passes";

export function compareActions(active: Action, candidate: Action): Comparison {
  if (active === candidate) return "agree";
  return candidate === "reject" ? "candidate_rejects" : "candidate_passes";
}

export class ShadowTally {
  private frames = 0;
  private dropped = 0;
  private agree = 0;
  private candidateRejects = 0;
  private candidatePasses = 0;
  private readonly latency = new LatencyWindow();

  constructor(
    private readonly candidate: Identity,
    /** ISO time the candidate started shadowing. */
    private readonly since: string,
  ) {}

  /** One frame both models decided; `latencyMs` is the candidate's own time for it. */
  record(active: Action, candidate: Action, latencyMs: number): Comparison {
    const c = compareActions(active, candidate);
    this.frames++;
    if (c === "agree") this.agree++;
    else if (c === "candidate_rejects") this.candidateRejects++;
    else this.candidatePasses++;
    this.latency.record(latencyMs);
    return c;
  }

  /** A live frame the candidate skipped because it was still busy with an earlier one. */
  drop(): void {
    this.dropped++;
  }

  report(drift: Level | null): ShadowAccount {
    const latency = this.latency.summary();
    const timed = this.latency.count > 0;
    return {
      candidate: { ...this.candidate },
      since: this.since,
      frames: this.frames,
      dropped: this.dropped,
      agree: this.agree,
      agreement: this.frames > 0 ? Math.round((this.agree / this.frames) * 1e4) / 1e4 : null,
      disagreements: { candidate_rejects: this.candidateRejects, candidate_passes: this.candidatePasses },
      latency_ms: { p50: timed ? latency.p50 : null, p99: timed ? latency.p99 : null },
      drift,
    };
  }
}

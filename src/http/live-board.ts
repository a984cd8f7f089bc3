// What the operator screen shows, kept up to date from the decision sink in O(1) per frame:
// counters, rate windows, the newest frame and the newest rejects (frames held in memory, so
// the live view never touches SQLite). snapshot() builds the message the browsers get.
import type { AuditAccuracy } from "../monitor/audit-accuracy.js";
import { RateWindow, type WindowRate } from "./rate-window.js";
import { type StatusInputs, type StatusLine, statusLines } from "./status-text.js";

export interface LiveDecision {
  seq: number;
  /** When the camera delivered the frame and when it was decided, ms since epoch. */
  capturedAt: number;
  decidedAt: number;
  label: string;
  score: number;
  threshold: number;
  action: "pass" | "reject";
  uncertain: boolean;
  ood: boolean;
  latencyMs: number;
  /** The frame as JPEG, made on first request (raw frames are encoded only when someone looks). */
  jpeg: () => Promise<Uint8Array | null>;
}

export interface LiveSnapshot {
  decision: Omit<LiveDecision, "jpeg"> | null;
  counters: { inspected: number; rejected: number; uncertain: number };
  rates: { minute: WindowRate; hour: WindowRate; expected: number | null };
  fps: number;
  latency_ms: { p50: number; p95: number } | null;
  rejects: Omit<LiveDecision, "jpeg">[];
  status: Record<"camera" | "model" | "drift" | "broker", StatusLine> & {
    line?: StatusLine;
    shadow?: StatusLine;
    gate?: StatusLine;
  };
  audit: AuditAccuracy | null;
}

export interface BoardStatus extends StatusInputs {
  /** Reject rate the model expects on this line; null when unknown. */
  expectedRejectRate: number | null;
  latency: { p50: number; p95: number } | null;
}

const STRIP = 12;
const FPS_WINDOW_S = 5;

export class LiveBoard {
  private readonly window = new RateWindow();
  private latest: LiveDecision | null = null;
  private readonly rejects: LiveDecision[] = [];
  private readonly counters = { inspected: 0, rejected: 0, uncertain: 0 };
  audit: AuditAccuracy | null = null;

  observe(d: LiveDecision): void {
    this.latest = d;
    this.counters.inspected++;
    if (d.action === "reject") this.counters.rejected++;
    if (d.uncertain) this.counters.uncertain++;
    this.window.observe(d.decidedAt, d.action === "reject");
    if (d.action === "reject") {
      this.rejects.unshift(d);
      if (this.rejects.length > STRIP) this.rejects.pop();
    }
  }

  /** The newest frame, or a recent reject, by sequence number. */
  async jpeg(seq: number): Promise<Uint8Array | null> {
    const d = this.latest?.seq === seq ? this.latest : this.rejects.find((r) => r.seq === seq);
    return d ? d.jpeg() : null;
  }

  snapshot(now: number, status: BoardStatus): LiveSnapshot {
    const fpsWindow = this.window.over(now - 1000, FPS_WINDOW_S);
    return {
      decision: this.latest ? withoutJpeg(this.latest) : null,
      counters: { ...this.counters },
      rates: {
        minute: this.window.over(now, 60),
        hour: this.window.over(now, 3600),
        expected: status.expectedRejectRate,
      },
      // Whole seconds only (the current one is still filling).
      fps: Math.round((fpsWindow.inspected / FPS_WINDOW_S) * 10) / 10,
      latency_ms: status.latency,
      rejects: this.rejects.map(withoutJpeg),
      status: statusLines(status),
      audit: this.audit,
    };
  }
}

function withoutJpeg(d: LiveDecision): Omit<LiveDecision, "jpeg"> {
  const { jpeg: _jpeg, ...rest } = d;
  return rest;
}

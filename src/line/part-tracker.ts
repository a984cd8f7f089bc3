// Which part is where on the line, pure: trigger edges become parts, each part gets the first
// frame captured at least capture_delay after its edge, a decision on that frame (or the fail-safe,
// when none is there by the part's deadline) settles the part's fate, and the part stays in the
// FIFO of parts in flight until it reaches the reject actuator. Every part gets exactly one fate.
//
// All times are ms on the line clock (CLOCK_MONOTONIC, see mono-clock.ts); `now` is always passed
// in, so the tracker runs the same under a test's fake clock and in the output worker.

export type LineMode = "trigger" | "free_run";
export type PartAction = "pass" | "reject";
export type FailSafeAction = PartAction;

/** Why a part got its fate: its decision, or the reason the fail-safe was applied. */
export type FateCause = "decision" | "no_frame" | "no_decision" | "failed" | "paused";
export const FAIL_SAFE_CAUSES = ["no_frame", "no_decision", "failed", "paused"] as const;
export type FailSafeCause = (typeof FAIL_SAFE_CAUSES)[number];

/** What the model said about a part's frame. `model` identifies the model that decided. */
export interface Verdict {
  action: PartAction;
  score: number | null;
  model: string | null;
}

export interface PartFate {
  partId: number;
  edgeMs: number;
  ejectAtMs: number;
  /** true: the reject actuator fires for this part. */
  eject: boolean;
  cause: FateCause;
  frameSeq: number | null;
  /** The model's verdict; also kept when it came too late to count (cause no_decision). */
  verdict: Verdict | null;
  /** When the fate was settled. */
  settledMs: number;
}

export interface Part {
  id: number;
  /** The trigger edge (trigger mode) or the frame's capture time (free-run). */
  edgeMs: number;
  /** When the part reaches the reject actuator: edge + eject delay. */
  ejectAtMs: number;
  /** The last moment a decision still counts: after it, the fail-safe applies. */
  deadlineMs: number;
  frameSeq: number | null;
  frameMs: number | null;
  fate: PartFate | null;
}

export interface PartTrackerOptions {
  mode: LineMode;
  /** Edges closer than this to the previous accepted edge are bounce, not parts. */
  debounceMs: number;
  /** A part's frame is the first captured at least this long after its edge. */
  captureDelayMs: number;
  /** From the trigger edge (or, free-run, the frame's capture) to the reject actuator. */
  ejectDelayMs: number;
  failSafe: FailSafeAction;
  /** The deadline is this long before the eject time: the time the output needs to commit. */
  commitLeadMs: number;
  /** More parts in flight than this means the trigger input is chattering: refused, counted. */
  maxInFlight?: number;
}

export interface LineCounters {
  /** Trigger edges seen, bounce included. */
  triggers: number;
  debounced: number;
  /** Triggers refused because maxInFlight parts were already in flight. */
  overflow: number;
  parts: number;
  /** Parts whose frame never came (the camera could not keep up with the triggers). */
  missed: number;
  ejected: number;
  passed: number;
  byDecision: number;
  failSafe: number;
  failSafeByCause: Record<FailSafeCause, number>;
  /** Decisions that arrived after their part's deadline (the fail-safe had been applied). */
  lateDecisions: number;
  /** Decisions on frames that belong to no part (between parts, or unknown). */
  unmatchedDecisions: number;
  /** Frames that belong to no part (trigger mode). */
  unassignedFrames: number;
}

const GONE_KEPT = 256;

/** Every counter at zero: a tracker's start, or what a report shows before the first part. */
export function emptyLineCounters(): LineCounters {
  return {
    triggers: 0,
    debounced: 0,
    overflow: 0,
    parts: 0,
    missed: 0,
    ejected: 0,
    passed: 0,
    byDecision: 0,
    failSafe: 0,
    failSafeByCause: { no_frame: 0, no_decision: 0, failed: 0, paused: 0 },
    lateDecisions: 0,
    unmatchedDecisions: 0,
    unassignedFrames: 0,
  };
}

export type TriggerResult = { part: Part } | { refused: "debounce" | "overflow" };

export class PartTracker {
  readonly counters: LineCounters = emptyLineCounters();
  /** Parts in flight, oldest first (edge order). */
  private readonly parts: Part[] = [];
  private nextId = 1;
  private lastEdgeMs: number | null = null;
  private paused = false;
  private readonly maxInFlight: number;
  /** Frames of parts that already left, so a verdict on one counts as late, not unknown. */
  private readonly gone = new Set<number>();

  constructor(readonly options: PartTrackerOptions) {
    if (options.commitLeadMs < 0 || options.ejectDelayMs < 0 || options.captureDelayMs < 0 || options.debounceMs < 0)
      throw new RangeError("part tracker: delays must not be negative");
    this.maxInFlight = options.maxInFlight ?? 1000;
  }

  /** Parts between trigger and actuator, oldest first. */
  inFlight(): readonly Part[] {
    return this.parts;
  }

  /** Parts in flight still waiting for their fate. */
  get awaiting(): number {
    let n = 0;
    for (const p of this.parts) if (!p.fate) n++;
    return n;
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** A trigger edge (trigger mode): a new part, or bounce. */
  trigger(edgeMs: number): TriggerResult {
    if (this.options.mode !== "trigger") throw new Error("part tracker: trigger edges are for trigger mode");
    this.counters.triggers++;
    // Edges arriving out of order (earlier than the last accepted) are bounce too.
    if (this.lastEdgeMs !== null && edgeMs - this.lastEdgeMs < this.options.debounceMs) {
      this.counters.debounced++;
      return { refused: "debounce" };
    }
    if (this.parts.length >= this.maxInFlight) {
      this.counters.overflow++;
      return { refused: "overflow" };
    }
    this.lastEdgeMs = edgeMs;
    return { part: this.open(edgeMs) };
  }

  /**
   * A frame the camera captured (trigger mode): the part it shows, or null when it shows none.
   * Frames must come in capture order and after the edges before them. Parts whose window this
   * frame closes without a frame of their own are settled by the fail-safe (`missed`).
   */
  frame(seq: number, capturedMs: number): { part: Part | null; missed: PartFate[] } {
    if (this.options.mode !== "trigger") return { part: null, missed: [] };
    // The newest part whose frame window has opened by the capture time.
    let i = this.parts.length - 1;
    while (i >= 0 && (this.parts[i] as Part).edgeMs + this.options.captureDelayMs > capturedMs) i--;
    const missed: PartFate[] = [];
    // Older parts still without a frame: their window (up to the next part's) has closed.
    for (let j = 0; j < i; j++) {
      const p = this.parts[j] as Part;
      if (p.frameSeq === null && !p.fate) missed.push(this.failSafe(p, "no_frame", capturedMs));
    }
    const part = i >= 0 ? (this.parts[i] as Part) : undefined;
    if (!part || part.frameSeq !== null || part.fate || capturedMs > part.deadlineMs) {
      this.counters.unassignedFrames++;
      return { part: null, missed };
    }
    part.frameSeq = seq;
    part.frameMs = capturedMs;
    return { part, missed };
  }

  /**
   * The model's verdict on frame `seq`. Trigger mode: settles the part that frame shows, if its
   * deadline has not passed. Free-run: the frame is the part (`capturedMs` is needed).
   * Returns the fate it settled (the fail-safe's when past the deadline), or null when the part
   * had its fate already or there is no such part.
   */
  decision(seq: number, verdict: Verdict, nowMs: number, capturedMs?: number): PartFate | null {
    if (this.options.mode === "trigger" && this.gone.has(seq)) {
      this.counters.lateDecisions++;
      return null;
    }
    const part = this.partForFrame(seq, capturedMs);
    if (!part) {
      this.counters.unmatchedDecisions++;
      return null;
    }
    if (part.fate) {
      this.counters.lateDecisions++;
      return null;
    }
    // Past the deadline and advance() not yet called: the fail-safe fate, settled here.
    if (nowMs > part.deadlineMs) {
      this.counters.lateDecisions++;
      return this.failSafe(part, this.paused ? "paused" : "no_decision", nowMs, verdict);
    }
    return this.settle(part, verdict.action === "reject", "decision", nowMs, verdict);
  }

  /** The decision on frame `seq` failed (preprocessing or inference error): fail-safe now. */
  failure(seq: number, nowMs: number, capturedMs?: number): PartFate | null {
    const part = this.partForFrame(seq, capturedMs);
    if (!part || part.fate) return null;
    return this.failSafe(part, "failed", nowMs);
  }

  /**
   * Moves time on: parts past their deadline without a fate get the fail-safe; parts past the
   * actuator leave the FIFO. Returns the fates settled here.
   */
  advance(nowMs: number): PartFate[] {
    const settled: PartFate[] = [];
    for (const p of this.parts) {
      if (!p.fate && nowMs >= p.deadlineMs) {
        const cause: FailSafeCause = this.paused ? "paused" : p.frameSeq === null ? "no_frame" : "no_decision";
        settled.push(this.failSafe(p, cause, nowMs));
      }
    }
    while (this.parts.length > 0) {
      const head = this.parts[0] as Part;
      if (!head.fate || nowMs < head.ejectAtMs) break;
      this.parts.shift();
      if (head.frameSeq !== null && this.options.mode === "trigger") {
        this.gone.add(head.frameSeq);
        // Sets iterate in insertion order: drop the oldest.
        if (this.gone.size > GONE_KEPT) this.gone.delete(this.gone.values().next().value as number);
      }
    }
    return settled;
  }

  /** When advance() next has something to do, or null with no part in flight. */
  nextDueMs(): number | null {
    let due: number | null = null;
    for (const p of this.parts) {
      const t = p.fate ? p.ejectAtMs : p.deadlineMs;
      if (due === null || t < due) due = t;
    }
    return due;
  }

  private open(edgeMs: number): Part {
    const ejectAtMs = edgeMs + this.options.ejectDelayMs;
    const part: Part = {
      id: this.nextId++,
      edgeMs,
      ejectAtMs,
      deadlineMs: ejectAtMs - this.options.commitLeadMs,
      frameSeq: null,
      frameMs: null,
      fate: null,
    };
    this.counters.parts++;
    // Keep edge order even if edges arrive out of order.
    let i = this.parts.length;
    while (i > 0 && (this.parts[i - 1] as Part).edgeMs > edgeMs) i--;
    this.parts.splice(i, 0, part);
    return part;
  }

  private partForFrame(seq: number, capturedMs: number | undefined): Part | undefined {
    if (this.options.mode === "trigger") return this.parts.find((p) => p.frameSeq === seq);
    if (capturedMs === undefined) throw new Error("part tracker: free-run decisions need the frame's capture time");
    const part = this.open(capturedMs);
    part.frameSeq = seq;
    part.frameMs = capturedMs;
    return part;
  }

  private failSafe(part: Part, cause: FailSafeCause, nowMs: number, verdict: Verdict | null = null): PartFate {
    this.counters.failSafe++;
    this.counters.failSafeByCause[cause]++;
    if (cause === "no_frame") this.counters.missed++;
    return this.settle(part, this.options.failSafe === "reject", cause, nowMs, verdict);
  }

  private settle(part: Part, eject: boolean, cause: FateCause, nowMs: number, verdict: Verdict | null): PartFate {
    const fate: PartFate = {
      partId: part.id,
      edgeMs: part.edgeMs,
      ejectAtMs: part.ejectAtMs,
      eject,
      cause,
      frameSeq: part.frameSeq,
      verdict,
      settledMs: nowMs,
    };
    part.fate = fate;
    if (cause === "decision") this.counters.byDecision++;
    if (eject) this.counters.ejected++;
    else this.counters.passed++;
    return fate;
  }
}

// Fail-safe fates as events, pure: the first one at once, then at most one digest per interval, so
// a stalled pipeline (every part failing safe, 20 a second) makes one event every few seconds
// instead of a flood.
import type { FailSafeCause, PartFate } from "../line/part-tracker.js";
import type { Notice } from "./part.js";

const CAUSE_WORDS: Record<FailSafeCause, string> = {
  no_frame: "no frame from the camera",
  no_decision: "no decision in time",
  failed: "the decision failed",
  paused: "inspection paused",
};

export class FailSafeDigest {
  private byCause: Record<FailSafeCause, number> = { no_frame: 0, no_decision: 0, failed: 0, paused: 0 };
  private ejected = 0;
  private passed = 0;
  private sinceMs: number | null = null;
  private lastSentMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  /** A fate; returns the notice to send now, if one is due. */
  add(fate: PartFate, nowMs: number): Notice | null {
    if (fate.cause === "decision") return null;
    this.byCause[fate.cause]++;
    if (fate.eject) this.ejected++;
    else this.passed++;
    this.sinceMs ??= nowMs;
    return nowMs - this.lastSentMs >= this.everyMs ? this.take(nowMs) : null;
  }

  /** Called periodically: the digest of what was held back, once the interval is over. */
  flush(nowMs: number): Notice | null {
    return this.sinceMs !== null && nowMs - this.lastSentMs >= this.everyMs ? this.take(nowMs) : null;
  }

  private take(nowMs: number): Notice {
    const parts = this.ejected + this.passed;
    const seconds = Math.max(0, Math.round((nowMs - (this.sinceMs ?? nowMs)) / 1000));
    const causes = (Object.keys(this.byCause) as FailSafeCause[])
      .filter((c) => this.byCause[c] > 0)
      .map((c) => `${this.byCause[c]} ${CAUSE_WORDS[c]}`);
    const what = this.passed === 0 ? "rejected" : this.ejected === 0 ? "passed" : "decided";
    const notice: Notice = {
      type: "line_fail_safe",
      severity: "warning",
      message: `${parts} part(s) ${what} by the fail-safe${seconds > 0 ? ` in ${seconds} s` : ""}: ${causes.join(", ")}`,
      data: { parts, ejected: this.ejected, passed: this.passed, by_cause: { ...this.byCause }, seconds },
    };
    this.byCause = { no_frame: 0, no_decision: 0, failed: 0, paused: 0 };
    this.ejected = 0;
    this.passed = 0;
    this.sinceMs = null;
    this.lastSentMs = nowMs;
    return notice;
  }
}

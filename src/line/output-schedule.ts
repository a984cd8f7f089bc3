// When the output lines change, pure: reject pulses (overlapping pulses merge into one longer
// pulse, so a line never drops for a moment between two parts) and the heartbeat's toggles.
// The output worker asks what is due at `now` and drives the lines; `now` is always passed in.

export type PulseEvent =
  /** The line goes active for `partId`'s pulse, due at `scheduledMs`. */
  | { type: "on"; partId: number; scheduledMs: number }
  /** `partId`'s pulse started while the line was already active: the pulse was lengthened. */
  | { type: "merged"; partId: number; scheduledMs: number }
  | { type: "off"; scheduledMs: number };

export class PulseSchedule {
  /** Pending pulse starts, earliest first. */
  private readonly pending: { partId: number; startMs: number }[] = [];
  /** While the line is active: when it goes inactive. */
  private onUntil: number | null = null;

  constructor(private readonly pulseMs: number) {
    if (!(pulseMs > 0)) throw new RangeError("pulse length must be positive");
  }

  get active(): boolean {
    return this.onUntil !== null;
  }

  /** Pulses waiting to start. */
  get queued(): number {
    return this.pending.length;
  }

  schedule(partId: number, startMs: number): void {
    let i = this.pending.length;
    while (i > 0 && (this.pending[i - 1] as { startMs: number }).startMs > startMs) i--;
    this.pending.splice(i, 0, { partId, startMs });
  }

  nextDueMs(): number | null {
    const s = this.pending[0]?.startMs ?? Number.POSITIVE_INFINITY;
    const t = Math.min(s, this.onUntil ?? Number.POSITIVE_INFINITY);
    return Number.isFinite(t) ? t : null;
  }

  /**
   * The line really went active at `atMs` (read after the write returned): the pulse lasts
   * pulse_ms from then, so a write that was slow to happen never shortens it.
   */
  wentActiveAt(atMs: number): void {
    if (this.onUntil !== null) this.onUntil = Math.max(this.onUntil, atMs + this.pulseMs);
  }

  /** Everything due by `nowMs`, in time order. */
  due(nowMs: number): PulseEvent[] {
    const out: PulseEvent[] = [];
    for (;;) {
      const head = this.pending[0];
      const s = head?.startMs ?? Number.POSITIVE_INFINITY;
      const e = this.onUntil ?? Number.POSITIVE_INFINITY;
      if (Math.min(s, e) > nowMs) break;
      if (head && s <= e) {
        this.pending.shift();
        if (this.onUntil === null) {
          // A late start still gets its full length: the actuator needs pulse_ms to act.
          // wentActiveAt() moves the end again once the write has really happened.
          this.onUntil = Math.max(s, nowMs) + this.pulseMs;
          out.push({ type: "on", partId: head.partId, scheduledMs: s });
        } else {
          this.onUntil = Math.max(this.onUntil, s + this.pulseMs);
          out.push({ type: "merged", partId: head.partId, scheduledMs: s });
        }
      } else {
        out.push({ type: "off", scheduledMs: e });
        this.onUntil = null;
      }
    }
    return out;
  }
}

/**
 * The heartbeat output toggles once per period while the main thread shows it is alive (its feed
 * counter moved since the previous tick); `ready` is held only while it does. A hung or dead
 * daemon therefore stops the heartbeat within two periods, and drops `ready`.
 */
export class Heartbeat {
  private nextTickMs: number;
  private lastFeed = -1;
  private staleTicks = 0;
  level = false;
  /** Toggles made so far (the heartbeat counter the PLC sees). */
  count = 0;

  constructor(
    private readonly periodMs: number,
    startMs: number,
    /** Periods without a feed after which the main thread counts as hung. */
    private readonly staleAfter = 2,
  ) {
    if (!(periodMs > 0)) throw new RangeError("heartbeat period must be positive");
    this.nextTickMs = startMs + periodMs;
  }

  nextDueMs(): number {
    return this.nextTickMs;
  }

  /** True while the main thread has fed within `staleAfter` periods. */
  get alive(): boolean {
    return this.staleTicks < this.staleAfter;
  }

  /** At a tick: toggle if fed since the last one. Returns whether the level changed. */
  tick(nowMs: number, feed: number): boolean {
    if (nowMs < this.nextTickMs) return false;
    // Skip ticks missed while this thread itself was held up: one toggle per call.
    while (this.nextTickMs <= nowMs) this.nextTickMs += this.periodMs;
    if (feed !== this.lastFeed) {
      this.lastFeed = feed;
      this.staleTicks = 0;
      this.level = !this.level;
      this.count++;
      return true;
    }
    this.staleTicks++;
    return false;
  }
}

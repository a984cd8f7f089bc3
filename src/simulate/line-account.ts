// The simulated line's book of parts, pure: every part the simulator put on the belt, the fate the
// line gave it, and what the ejector actually did at the part's eject time. A part is closed once
// its pulse would be over; then it must have exactly one fate, and the ejector must have fired for
// it if and only if that fate was "eject". Checked against the part's true label too (the model's
// own mistakes are reported, they are not the line's).

export interface SimPart {
  /** 0-based, in belt order. */
  index: number;
  /** The trigger edge, line clock (ms). */
  edgeMs: number;
  /**
   * On a live line (a kernel's GPIO) the edge happened during the write that raised it, in
   * [edgeMs, edgeToMs]: the line's own timestamp within that window identifies the part and is its
   * edge. Without it the line must report edgeMs exactly.
   */
  edgeToMs?: number;
  /** The footage file shown as this part's frame, and its true label. */
  file: string;
  defect: boolean | null;
}

/** What the account needs of a fate (src/line/part-tracker.ts PartFate). */
export interface FateSeen {
  edgeMs: number;
  eject: boolean;
  cause: string;
}

export interface AccountOptions {
  ejectDelayMs: number;
  pulseMs: number;
  /** A pulse is on time when it starts within this of the eject time. */
  toleranceMs: number;
  /** A pulse starting up to this late still counts as the part's (and as late). */
  lateMs: number;
  /** How long after a part's pulse would end it is closed (reports arrive with some delay). */
  graceMs: number;
}

export interface LineAccountSummary {
  /** Parts put on the belt. */
  parts: number;
  /** Parts whose pulse time is over and that were checked. */
  closed: number;
  ejected: number;
  passed: number;
  model_rejects: number;
  fail_safe_rejects: number;
  fail_safe_passes: number;
  /** Closed parts without a fate: must be 0. */
  unaccounted: number;
  /** Fates beyond a part's first, and fates for no known part: must be 0. */
  duplicate_fates: number;
  unknown_fates: number;
  /** Reject pulses the ejector recorded (starts of the line going active). */
  pulses: number;
  /** Ejected parts the ejector did not fire for, passed parts it fired for, pulses for no part: must be 0. */
  ejected_without_pulse: number;
  passed_with_pulse: number;
  pulses_without_part: number;
  /** Pulse start against the part's eject time, ms (parts that got a pulse of their own). */
  pulse_start_error_max_ms: number;
  /** Pulses that started more than the tolerance late (still the part's; timing is a benchmark's business). */
  late_pulses: number;
  /** Against the true labels (the footage's labels.csv); unknown labels are not counted. */
  truth: { defects_ejected: number; defects_passed: number; good_ejected: number; good_passed: number };
  /** Every closed part had one fate and the ejector agreed with every fate. */
  ok: boolean;
}

interface Entry {
  part: SimPart;
  ejectAtMs: number;
  fate: FateSeen | null;
}

interface Pulse {
  startMs: number;
  endMs: number | null;
  matched: boolean;
}

export class LineAccount {
  private readonly open: Entry[] = [];
  private readonly pulseLog: Pulse[] = [];
  private active = false;
  private readonly s: LineAccountSummary = {
    parts: 0,
    closed: 0,
    ejected: 0,
    passed: 0,
    model_rejects: 0,
    fail_safe_rejects: 0,
    fail_safe_passes: 0,
    unaccounted: 0,
    duplicate_fates: 0,
    unknown_fates: 0,
    pulses: 0,
    ejected_without_pulse: 0,
    passed_with_pulse: 0,
    pulses_without_part: 0,
    pulse_start_error_max_ms: 0,
    late_pulses: 0,
    truth: { defects_ejected: 0, defects_passed: 0, good_ejected: 0, good_passed: 0 },
    ok: true,
  };

  constructor(private readonly o: AccountOptions) {}

  add(part: SimPart): void {
    const e: Entry = { part, ejectAtMs: part.edgeMs + this.o.ejectDelayMs, fate: null };
    this.open.push(e);
    this.s.parts++;
  }

  /** A fate the line reported (matched to its part by the edge time the simulator raised). */
  fate(f: FateSeen): void {
    // Windows follow each other (one write at a time): at most one part's holds the edge.
    const e = this.open.find((x) => f.edgeMs >= x.part.edgeMs && f.edgeMs <= (x.part.edgeToMs ?? x.part.edgeMs));
    if (!e) this.s.unknown_fates++;
    else if (e.fate) this.s.duplicate_fates++;
    else {
      e.fate = f;
      // The kernel's stamp is when the edge happened: the part reaches the jet delay_ms after it.
      e.ejectAtMs = f.edgeMs + this.o.ejectDelayMs;
    }
  }

  /** The reject output's level changed (active = the actuator is on). */
  level(active: boolean, timeMs: number): void {
    if (active === this.active) return;
    this.active = active;
    if (active) {
      this.pulseLog.push({ startMs: timeMs, endMs: null, matched: false });
      this.s.pulses++;
    } else {
      const last = this.pulseLog[this.pulseLog.length - 1];
      if (last && last.endMs === null) last.endMs = timeMs;
    }
  }

  /** Closes the parts whose pulse time is over by `nowMs`. */
  settle(nowMs: number): void {
    const { pulseMs, graceMs } = this.o;
    while (this.open.length > 0) {
      const e = this.open[0] as Entry;
      if (nowMs < e.ejectAtMs + pulseMs + graceMs) break;
      this.open.shift();
      this.close(e);
    }
    // Pulses wholly before the oldest open part can match nothing more.
    const horizon = (this.open[0]?.ejectAtMs ?? nowMs - pulseMs - graceMs) - this.o.toleranceMs - this.o.lateMs;
    while (this.pulseLog.length > 0) {
      const p = this.pulseLog[0] as Pulse;
      if (p.endMs === null || p.endMs >= horizon) break;
      this.pulseLog.shift();
      if (!p.matched) this.s.pulses_without_part++;
    }
  }

  summary(): LineAccountSummary {
    const s = this.s;
    s.ok =
      s.unaccounted === 0 &&
      s.duplicate_fates === 0 &&
      s.unknown_fates === 0 &&
      s.ejected_without_pulse === 0 &&
      s.passed_with_pulse === 0 &&
      s.pulses_without_part === 0;
    return { ...s, truth: { ...s.truth } };
  }

  private close(e: Entry): void {
    const s = this.s;
    s.closed++;
    const f = e.fate;
    if (!f) {
      s.unaccounted++;
      return;
    }
    const t = e.ejectAtMs;
    const tol = this.o.toleranceMs;
    // Its own pulse (started near the eject time), or a pulse already on for the part before (merged).
    const own = this.pulseLog.find((p) => p.startMs >= t - tol && p.startMs <= t + this.o.lateMs);
    const covering = own ?? this.pulseLog.find((p) => p.startMs <= t && (p.endMs === null || p.endMs > t));
    if (f.eject) {
      s.ejected++;
      if (f.cause === "decision") s.model_rejects++;
      else s.fail_safe_rejects++;
      if (covering) covering.matched = true;
      else s.ejected_without_pulse++;
      if (own) {
        const error = Math.abs(own.startMs - t);
        s.pulse_start_error_max_ms = Math.max(s.pulse_start_error_max_ms, Math.round(error * 1000) / 1000);
        if (error > tol) s.late_pulses++;
      }
    } else {
      s.passed++;
      if (f.cause !== "decision") s.fail_safe_passes++;
      if (covering) {
        s.passed_with_pulse++;
        covering.matched = true; // counted once, as this part's
      }
    }
    const d = e.part.defect;
    if (d === true) f.eject ? s.truth.defects_ejected++ : s.truth.defects_passed++;
    else if (d === false) f.eject ? s.truth.good_ejected++ : s.truth.good_passed++;
  }
}

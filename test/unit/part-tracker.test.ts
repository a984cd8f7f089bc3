import { describe, expect, it } from "vitest";
import { type PartFate, PartTracker, type PartTrackerOptions, type Verdict } from "../../src/line/part-tracker.js";

const reject: Verdict = { action: "reject", score: 0.9, model: "round-parts@1" };
const pass: Verdict = { action: "pass", score: 0.1, model: "round-parts@1" };

function tracker(o: Partial<PartTrackerOptions> = {}): PartTracker {
  return new PartTracker({
    mode: "trigger",
    debounceMs: 5,
    captureDelayMs: 10,
    ejectDelayMs: 300,
    failSafe: "reject",
    commitLeadMs: 2,
    ...o,
  });
}

function partOf(r: ReturnType<PartTracker["trigger"]>) {
  if (!("part" in r)) throw new Error(`refused: ${r.refused}`);
  return r.part;
}

describe("part tracker, trigger mode", () => {
  it("makes a part per edge with its eject time and deadline, and ignores bounce", () => {
    const t = tracker();
    const a = partOf(t.trigger(1000));
    expect(a).toMatchObject({ id: 1, edgeMs: 1000, ejectAtMs: 1300, deadlineMs: 1298 });
    expect(t.trigger(1003)).toEqual({ refused: "debounce" });
    expect(t.trigger(999)).toEqual({ refused: "debounce" });
    const b = partOf(t.trigger(1005));
    expect(b.id).toBe(2);
    expect(t.counters).toMatchObject({ triggers: 4, debounced: 2, parts: 2 });
    expect(t.inFlight().map((p) => p.id)).toEqual([1, 2]);
  });

  it("gives a part the first frame captured at least capture_delay after its edge, and no other", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    expect(t.frame(1, 1005).part).toBeNull(); // before the delay: not this part's
    expect(t.frame(2, 1010).part?.id).toBe(1);
    expect(t.frame(3, 1020).part).toBeNull(); // the part already has its frame
    expect(t.counters.unassignedFrames).toBe(2);
    const fate = t.decision(2, reject, 1050);
    expect(fate).toMatchObject({ partId: 1, eject: true, cause: "decision", frameSeq: 2, verdict: reject });
    // A second decision for the same part changes nothing.
    expect(t.decision(2, pass, 1060)).toBeNull();
    expect(t.counters).toMatchObject({ ejected: 1, passed: 0, byDecision: 1, failSafe: 0 });
  });

  it("counts a part as missed when the next part's frame comes first, and applies the fail-safe to it", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    partOf(t.trigger(1020)); // before part 1 got a frame
    const r = t.frame(7, 1035); // after both windows opened: the newer part's frame
    expect(r.part?.id).toBe(2);
    expect(r.missed).toEqual([expect.objectContaining({ partId: 1, cause: "no_frame", eject: true })]);
    expect(t.counters).toMatchObject({ missed: 1, failSafe: 1, ejected: 1 });
    // A frame captured in part 1's window but delivered late no longer counts for it.
    expect(t.frame(6, 1012).part).toBeNull();
  });

  it("assigns frames by capture time even when several parts wait for theirs", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    partOf(t.trigger(1020));
    expect(t.frame(1, 1015).part?.id).toBe(1); // in part 1's window [1010, 1030)
    expect(t.frame(2, 1030).part?.id).toBe(2);
    expect(t.counters.missed).toBe(0);
  });

  it("applies the fail-safe at the deadline to a part without a decision, and counts a late decision", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    t.frame(1, 1010);
    expect(t.nextDueMs()).toBe(1298);
    expect(t.advance(1297)).toEqual([]);
    const [fate] = t.advance(1298);
    expect(fate).toMatchObject({ partId: 1, eject: true, cause: "no_decision", settledMs: 1298 });
    expect(t.decision(1, pass, 1299)).toBeNull();
    expect(t.counters).toMatchObject({ lateDecisions: 1, failSafe: 1, ejected: 1, passed: 0 });
    // The part stays in flight until it reaches the actuator.
    expect(t.inFlight()).toHaveLength(1);
    expect(t.nextDueMs()).toBe(1300);
    t.advance(1300);
    expect(t.inFlight()).toHaveLength(0);
    expect(t.nextDueMs()).toBeNull();
  });

  it("counts a verdict for a part that already passed the actuator as late, and one for no part as unmatched", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    t.frame(1, 1010);
    t.advance(1300);
    expect(t.inFlight()).toHaveLength(0);
    expect(t.decision(1, pass, 1400)).toBeNull();
    expect(t.decision(99, pass, 1400)).toBeNull();
    expect(t.counters).toMatchObject({ lateDecisions: 1, unmatchedDecisions: 1 });
  });

  it("treats a decision after the deadline as late even when advance() was not called in time", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    t.frame(1, 1010);
    expect(t.decision(1, pass, 1299)).toMatchObject({ cause: "no_decision", eject: true, verdict: pass });
    expect(t.counters.lateDecisions).toBe(1);
  });

  it("fail-safe pass lets undecided parts through", () => {
    const t = tracker({ failSafe: "pass" });
    partOf(t.trigger(1000));
    const [fate] = t.advance(1298);
    expect(fate).toMatchObject({ eject: false, cause: "no_frame" });
    expect(t.counters).toMatchObject({ passed: 1, missed: 1, failSafe: 1 });
  });

  it("applies the fail-safe to a failed decision at once, and names a pause as the cause", () => {
    const t = tracker();
    partOf(t.trigger(1000));
    t.frame(1, 1010);
    expect(t.failure(1, 1020)).toMatchObject({ partId: 1, cause: "failed", eject: true });
    partOf(t.trigger(1100));
    t.frame(2, 1110);
    t.setPaused(true);
    expect(t.advance(1398)).toEqual([expect.objectContaining({ partId: 2, cause: "paused" })]);
    expect(t.counters.failSafeByCause).toEqual({ no_frame: 0, no_decision: 0, failed: 1, paused: 1 });
  });

  it("gives every part exactly one fate under random triggers, frames, drops and decision delays", () => {
    // A seeded walk: triggers faster and slower than the camera, frames lost, decisions late.
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const t = tracker({ ejectDelayMs: 120, captureDelayMs: 5, debounceMs: 3 });
    const fates = new Map<number, PartFate[]>();
    const note = (f: PartFate | null | undefined) => {
      if (f) fates.set(f.partId, [...(fates.get(f.partId) ?? []), f]);
    };
    const decisions: { at: number; seq: number; v: Verdict }[] = [];
    let now = 0;
    let seq = 0;
    let edges = 0;
    for (let step = 0; step < 20000; step++) {
      now += rnd() * 4;
      if (rnd() < 0.08) {
        const r = t.trigger(now - rnd() * 2);
        if ("part" in r) edges++;
      }
      if (rnd() < 0.25) {
        const r = t.frame(++seq, now);
        for (const f of r.missed) note(f);
        if (r.part && rnd() < 0.9) decisions.push({ at: now + rnd() * 150, seq, v: rnd() < 0.3 ? reject : pass });
      }
      decisions.sort((a, b) => a.at - b.at);
      while (decisions.length > 0 && (decisions[0]?.at ?? 0) <= now) {
        const d = decisions.shift();
        if (d) note(t.decision(d.seq, d.v, d.at));
      }
      for (const f of t.advance(now)) note(f);
    }
    for (const f of t.advance(now + 1000)) note(f);
    expect(t.inFlight()).toHaveLength(0);
    expect(fates.size).toBe(edges);
    for (const [, list] of fates) expect(list).toHaveLength(1);
    const c = t.counters;
    expect(c.ejected + c.passed).toBe(c.parts);
    expect(c.byDecision + c.failSafe).toBe(c.parts);
    expect(c.failSafe).toBeGreaterThan(0);
    expect(c.byDecision).toBeGreaterThan(0);
    expect(c.missed).toBe(c.failSafeByCause.no_frame);
  });
});

describe("part tracker, free-run", () => {
  it("makes each decided frame a part, ejected delay_ms after its capture", () => {
    const t = tracker({ mode: "free_run" });
    const fate = t.decision(5, reject, 1040, 1000);
    expect(fate).toMatchObject({ partId: 1, eject: true, cause: "decision", ejectAtMs: 1300, frameSeq: 5 });
    expect(t.decision(6, pass, 1080, 1033)).toMatchObject({ partId: 2, eject: false });
    expect(() => t.trigger(1)).toThrow(/trigger mode/);
  });

  it("fail-safes a decision that comes after the frame's deadline", () => {
    const t = tracker({ mode: "free_run" });
    expect(t.decision(5, pass, 1400, 1000)).toMatchObject({ cause: "no_decision", eject: true });
    expect(t.counters).toMatchObject({ lateDecisions: 1, failSafe: 1, parts: 1 });
  });

  it("needs the capture time", () => {
    expect(() => tracker({ mode: "free_run" }).decision(1, pass, 0)).toThrow(/capture time/);
  });
});

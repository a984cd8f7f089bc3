// The output worker with the simulated line: the same code that drives GPIO, except the final
// read/write of the wires. Real worker thread, real clock; asserts behaviour, not timing targets
// (those are in bench/line-output.ts).
import { afterEach, describe, expect, it } from "vitest";
import { LineSetupError } from "../../src/line/backend.js";
import { LineIo, type LineIoOptions } from "../../src/line/line-io.js";
import { monoNowMs, monoToPerfMs } from "../../src/line/mono-clock.js";
import type { PartFate, Verdict } from "../../src/line/part-tracker.js";
import { SimulatedWires } from "../../src/line/simulated-wires.js";

const reject: Verdict = { action: "reject", score: 0.93, model: "round-parts@test" };
const pass: Verdict = { action: "pass", score: 0.04, model: "round-parts@test" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let running: LineIo[] = [];
afterEach(async () => {
  await Promise.all(running.map((l) => l.stop()));
  running = [];
});

function options(wires: SimulatedWires, o: Partial<LineIoOptions["tracker"]> = {}): LineIoOptions {
  return {
    tracker: {
      mode: "trigger",
      debounceMs: 5,
      captureDelayMs: 10,
      ejectDelayMs: 200,
      failSafe: "reject",
      commitLeadMs: 1,
      ...o,
    },
    triggerEdge: "rising",
    pulseMs: 20,
    heartbeatMs: 50,
    outputs: { reject: { activeLow: false }, ready: { activeLow: false }, heartbeat: { activeLow: false } },
    backend: { kind: "simulated", wires },
  };
}

async function start(o: LineIoOptions): Promise<LineIo> {
  const line = await LineIo.start(o);
  running.push(line);
  return line;
}

/** Waits for the part's assignment message for frame `seq`. */
async function assigned(line: LineIo, seq: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const a = line.partOf(seq);
    if (a) return a.partId;
    await sleep(2);
  }
  throw new Error(`frame ${seq} was never assigned to a part`);
}

describe("line output worker with the simulated line", () => {
  it("ejects exactly the rejected and fail-safe parts, each at its eject time, never early", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires));
    const fates: PartFate[] = [];
    line.on("fate", (f) => fates.push(f));
    const t0 = monoNowMs() + 20;
    // Six parts 40 ms apart: reject, pass, reject, no decision, failed decision, no frame at all.
    const plan = ["reject", "pass", "reject", "none", "failed", "noframe"] as const;
    for (let i = 0; i < plan.length; i++) {
      const edge = t0 + i * 40;
      while (monoNowMs() < edge + 12) await sleep(1);
      wires.part(edge);
      if (plan[i] === "noframe") continue;
      const seq = 100 + i;
      await sleep(3);
      line.frame(seq, monoToPerfMs(edge + 12)); // captured 12 ms after the edge
      expect(await assigned(line, seq)).toBe(i + 1);
      if (plan[i] === "reject") line.decision(seq, reject, monoToPerfMs(edge + 12));
      if (plan[i] === "pass") line.decision(seq, pass, monoToPerfMs(edge + 12));
      if (plan[i] === "failed") line.failure(seq, monoToPerfMs(edge + 12));
    }
    while (monoNowMs() < t0 + 5 * 40 + 200 + 60) await sleep(10);

    const byPart = new Map(fates.map((f) => [f.partId, f]));
    expect(fates).toHaveLength(6);
    expect([...byPart.values()].sort((a, b) => a.partId - b.partId).map((f) => [f.partId, f.eject, f.cause])).toEqual([
      [1, true, "decision"],
      [2, false, "decision"],
      [3, true, "decision"],
      [4, true, "no_decision"],
      [5, true, "failed"],
      [6, true, "no_frame"],
    ]);
    const pulses = wires.pulses("reject");
    expect(pulses).toHaveLength(5);
    const ejected = fates.filter((f) => f.eject).sort((a, b) => a.ejectAtMs - b.ejectAtMs);
    for (const [i, p] of pulses.entries()) {
      const due = ejected[i]?.ejectAtMs ?? Number.NaN;
      expect(p.startMs).toBeGreaterThanOrEqual(due);
      expect(p.endMs).not.toBeNull();
      // At least pulse_ms between the two writes, however late the first one happened.
      expect((p.endMs ?? 0) - p.startMs).toBeGreaterThanOrEqual(20);
    }
    const s = line.stats();
    expect(s.counters).toMatchObject({ parts: 6, ejected: 5, passed: 1, missed: 1, failSafe: 3, byDecision: 3 });
    expect(s.rejectsFired).toBe(5);
    expect(s.edgeToDecision.count).toBe(3);
    expect(s.pulseError.count).toBe(5);
  });

  it("applies the fail-safe on time and drops ready while the main thread is blocked", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires, { ejectDelayMs: 150 }));
    line.setReady(true);
    await sleep(200); // heartbeat running, ready on
    expect(wires.level("ready")).toBe(true);
    const beatsBefore = wires.writes.filter((w) => w.line === "heartbeat").length;
    expect(beatsBefore).toBeGreaterThanOrEqual(2);

    // Two parts whose frames were decided by nobody: the main thread hangs right after the edges.
    const edge = monoNowMs();
    wires.part(edge);
    wires.part(edge + 30);
    await sleep(5);
    const blockStart = monoNowMs();
    while (monoNowMs() < blockStart + 500) {
      // a hung main thread: no timers, no messages
    }
    const blockEnd = monoNowMs();
    await sleep(100);

    const pulses = wires.pulses("reject");
    expect(pulses).toHaveLength(2);
    // Both fired by the worker while the main thread was still blocked.
    for (const p of pulses) {
      expect(p.startMs).toBeGreaterThan(blockStart);
      expect(p.startMs).toBeLessThan(blockEnd);
    }
    // The heartbeat stopped during the block, at most one toggle after its feed stopped, and ready dropped.
    const during = wires.writes.filter((w) => w.timeMs > blockStart + 1 && w.timeMs < blockEnd);
    expect(during.filter((w) => w.line === "heartbeat").length).toBeLessThanOrEqual(2);
    expect(during.some((w) => w.line === "ready" && w.level === false)).toBe(true);
    // After it: heartbeat and ready are back.
    await sleep(150);
    expect(wires.writes.filter((w) => w.line === "heartbeat" && w.timeMs > blockEnd).length).toBeGreaterThanOrEqual(1);
    expect(wires.level("ready")).toBe(true);
    expect(line.stats().counters.failSafeByCause.no_frame).toBe(2);
  });

  it("triggers faster than the camera: the parts without a frame are missed, fail-safe rejected, none merged, none left", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires, { ejectDelayMs: 120, captureDelayMs: 5, debounceMs: 2 }));
    const fates: PartFate[] = [];
    line.on("fate", (f) => fates.push(f));
    const t0 = monoNowMs() + 10;
    // 60 parts 10 ms apart (100/s); the camera delivers a frame every 30 ms, each decided "pass".
    let seq = 0;
    for (let i = 0; i < 60; i++) {
      const edge = t0 + i * 10;
      while (monoNowMs() < edge + 6) await sleep(1);
      wires.part(edge, 1);
      if (i % 3 === 0) {
        await sleep(2); // the edge is read before the frame that follows it
        const s = ++seq;
        line.frame(s, monoToPerfMs(edge + 6));
        line.decision(s, pass, monoToPerfMs(edge + 6));
      }
    }
    while (monoNowMs() < t0 + 600 + 120 + 80) await sleep(10);
    const s = line.stats();
    expect(s.counters.parts).toBe(60);
    expect(fates).toHaveLength(60);
    expect(new Set(fates.map((f) => f.partId)).size).toBe(60);
    expect(s.counters.missed).toBe(40);
    expect(s.counters.passed).toBe(20);
    expect(s.counters.ejected).toBe(40);
    expect(fates.filter((f) => f.cause === "no_frame").every((f) => f.eject)).toBe(true);
    expect(s.inFlight).toBe(0);
    // Every fail-safe reject was driven (parts 10 ms apart with 20 ms pulses merge on the wire).
    expect(s.rejectsFired).toBe(40);
  });

  it("inference stalled: every part past its deadline is fail-safe rejected; a late verdict changes nothing", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires, { ejectDelayMs: 80 }));
    const t0 = monoNowMs();
    for (let i = 0; i < 5; i++) {
      wires.part(t0 + i * 30);
      await sleep(15);
      line.frame(i + 1, monoToPerfMs(t0 + i * 30 + 12));
      await sleep(15);
    }
    await sleep(150);
    // The model answers at last: too late for all of them.
    for (let i = 0; i < 5; i++) line.decision(i + 1, pass, monoToPerfMs(t0 + i * 30 + 12));
    await sleep(50);
    const c = line.stats().counters;
    expect(c).toMatchObject({ parts: 5, ejected: 5, passed: 0, lateDecisions: 5 });
    expect(c.failSafeByCause.no_decision).toBe(5);
    expect(wires.pulses("reject")).toHaveLength(5);
  });

  it("free-run: each decided frame is a part, ejected delay_ms after its capture", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires, { mode: "free_run", ejectDelayMs: 80 }));
    const captured = monoNowMs();
    line.decision(1, reject, monoToPerfMs(captured));
    line.decision(2, pass, monoToPerfMs(captured + 33));
    line.decision(3, reject, monoToPerfMs(captured + 66));
    await sleep(250);
    const pulses = wires.pulses("reject");
    expect(pulses).toHaveLength(2);
    expect(pulses[0]?.startMs).toBeGreaterThanOrEqual(captured + 80);
    expect(pulses[1]?.startMs).toBeGreaterThanOrEqual(captured + 66 + 80);
    expect(line.stats().counters).toMatchObject({ parts: 3, ejected: 2, passed: 1 });
  });

  it("drives active-low outputs inverted, idle high", async () => {
    const wires = new SimulatedWires();
    const o = options(wires, { mode: "free_run", ejectDelayMs: 30 });
    o.outputs.reject = { activeLow: true };
    const line = await start(o);
    expect(wires.level("reject")).toBe(true);
    line.decision(1, reject, monoToPerfMs(monoNowMs()));
    await sleep(120);
    expect(wires.pulses("reject", true)).toHaveLength(1);
    expect(wires.level("reject")).toBe(true);
  });

  it("ignores a decision without a valid capture time instead of keeping a part in flight forever", async () => {
    const wires = new SimulatedWires();
    const line = await start(options(wires, { mode: "free_run", ejectDelayMs: 30 }));
    line.decision(1, reject, Number.NaN);
    line.decision(2, reject, monoToPerfMs(monoNowMs()));
    await sleep(100);
    expect(line.stats().counters.parts).toBe(1);
    expect(wires.pulses("reject")).toHaveLength(1);
  });

  it("says why when the lines cannot be had", async () => {
    const wires = new SimulatedWires("gpiochip with label pinctrl-rp1 not found");
    await expect(LineIo.start(options(wires))).rejects.toThrow(LineSetupError);
    await expect(LineIo.start(options(new SimulatedWires("line 17 busy")))).rejects.toThrow(/line 17 busy/);
  });

  it("releases the lines with every output inactive on stop", async () => {
    const wires = new SimulatedWires();
    const line = await LineIo.start(options(wires));
    line.setReady(true);
    await sleep(120);
    expect(wires.level("ready")).toBe(true);
    await line.stop();
    await sleep(20);
    expect(wires.level("ready")).toBe(false);
    expect(wires.level("reject")).toBe(false);
  });
});

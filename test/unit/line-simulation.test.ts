// The simulated line's book-keeping and what the daemon says about the line: the account that
// proves every part one fate and the ejector agreeing, the fail-safe digest that must not flood,
// the live view's line status in plain words, and the --simulate-line config.

import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { footageLabels, type TriggeredReplaySource } from "../../src/camera/triggered-replay-source.js";
import { simulatedLineConfig } from "../../src/cli/run.js";
import { parseConfig } from "../../src/config/load.js";
import { lineSchema } from "../../src/config/schema.js";
import { lineStatus } from "../../src/http/status-text.js";
import { monoNowMs } from "../../src/line/mono-clock.js";
import type { PartFate } from "../../src/line/part-tracker.js";
import { FailSafeDigest } from "../../src/parts/line-notices.js";
import type { ConveyorWires } from "../../src/simulate/conveyor-wires.js";
import { LineAccount } from "../../src/simulate/line-account.js";
import { LineSimulator } from "../../src/simulate/line-simulator.js";

const DELAY = 250;
const PULSE = 20;

function account() {
  const a = new LineAccount({ ejectDelayMs: DELAY, pulseMs: PULSE, toleranceMs: 5, lateMs: 20, graceMs: 100 });
  // Four parts 50 ms apart: two defects, two good.
  const defects = [true, false, true, false];
  defects.forEach((defect, index) => {
    a.add({ index, edgeMs: 1000 + index * 50, file: `f${index}.jpg`, defect });
  });
  return a;
}

/** The ejector firing for the part whose edge was at `edgeMs`, `lateMs` after its eject time. */
function pulse(a: LineAccount, edgeMs: number, lateMs = 0.3) {
  a.level(true, edgeMs + DELAY + lateMs);
  a.level(false, edgeMs + DELAY + lateMs + PULSE);
}

describe("simulated line account", () => {
  it("a clean run: every part one fate, the ejector fired exactly for the ejected ones", () => {
    const a = account();
    a.fate({ edgeMs: 1000, eject: true, cause: "decision" });
    a.fate({ edgeMs: 1050, eject: false, cause: "decision" });
    a.fate({ edgeMs: 1100, eject: true, cause: "no_decision" });
    a.fate({ edgeMs: 1150, eject: false, cause: "decision" });
    pulse(a, 1000);
    pulse(a, 1100, 1.5);
    a.settle(1150 + DELAY + PULSE + 100);
    const s = a.summary();
    expect(s).toMatchObject({
      parts: 4,
      closed: 4,
      ejected: 2,
      passed: 2,
      model_rejects: 1,
      fail_safe_rejects: 1,
      unaccounted: 0,
      pulses: 2,
      ok: true,
    });
    expect(s.ejected).toBe(s.model_rejects + s.fail_safe_rejects);
    expect(s.pulse_start_error_max_ms).toBeCloseTo(1.5);
    expect(s.truth).toEqual({ defects_ejected: 2, defects_passed: 0, good_ejected: 0, good_passed: 2 });
  });

  it("catches each way a line can go wrong", () => {
    const a = account();
    a.fate({ edgeMs: 1000, eject: true, cause: "decision" }); // ejected, but no pulse
    a.fate({ edgeMs: 1050, eject: false, cause: "decision" }); // passed, but the jet fired
    a.fate({ edgeMs: 1050, eject: false, cause: "decision" }); // a second fate
    a.fate({ edgeMs: 999, eject: false, cause: "decision" }); // no such part
    // part at 1100: no fate at all; part at 1150 passed, and a pulse for no part
    a.fate({ edgeMs: 1150, eject: false, cause: "decision" });
    pulse(a, 1050);
    a.level(true, 1150 + DELAY + 30);
    a.level(false, 1150 + DELAY + 50);
    a.settle(1150 + DELAY + PULSE + 200);
    expect(a.summary()).toMatchObject({
      ejected_without_pulse: 1,
      passed_with_pulse: 1,
      duplicate_fates: 1,
      unknown_fates: 1,
      unaccounted: 1,
      pulses_without_part: 1,
      ok: false,
    });
  });

  it("keeps parts open until their pulse is over", () => {
    const a = account();
    a.settle(1000 + DELAY);
    expect(a.summary()).toMatchObject({ parts: 4, closed: 0, unaccounted: 0 });
  });

  it("a live line: the kernel's stamp within the write's window is the part's, and its edge", () => {
    const a = new LineAccount({ ejectDelayMs: DELAY, pulseMs: PULSE, toleranceMs: 5, lateMs: 20, graceMs: 100 });
    // Two writes of the photo-eye's pull, each taking 3 ms.
    a.add({ index: 0, edgeMs: 1000, edgeToMs: 1003, file: "a.jpg", defect: true });
    a.add({ index: 1, edgeMs: 1500, edgeToMs: 1503, file: "b.jpg", defect: false });
    a.fate({ edgeMs: 1002.5, eject: true, cause: "decision" });
    a.fate({ edgeMs: 1503, eject: false, cause: "decision" });
    a.fate({ edgeMs: 1503.01, eject: true, cause: "decision" }); // outside every window
    // On time for the kernel's edge (1002.5 + DELAY), 2.5 ms "late" for the write's start.
    a.level(true, 1002.5 + DELAY + 0.2);
    a.level(false, 1002.5 + DELAY + PULSE);
    a.settle(1503 + DELAY + PULSE + 100);
    const s = a.summary();
    expect(s).toMatchObject({ closed: 2, ejected: 1, passed: 1, unaccounted: 0, unknown_fates: 1, late_pulses: 0 });
    expect(s.pulse_start_error_max_ms).toBeCloseTo(0.2);
  });
});

/** Conveyor wires that record when each edge was raised; `live` as a kernel's line. */
class RecordingWires implements ConveyorWires {
  readonly name = "recording";
  onWrite: ConveyorWires["onWrite"] = null;
  readonly edges: { rising: boolean; atMs: number; stampMs: number }[] = [];
  constructor(readonly live: boolean) {}
  edge(timeMs: number, rising: boolean) {
    const now = monoNowMs();
    const stampMs = this.live ? now : timeMs;
    this.edges.push({ rising, atMs: now, stampMs });
    return { fromMs: stampMs, toMs: stampMs };
  }
  poll() {}
  close() {}
}

describe("the simulated conveyor", () => {
  async function belt(live: boolean) {
    const c = lineSchema.parse({
      enabled: true,
      backend: live ? "gpio" : "simulated",
      gpio_chip: "sim",
      trigger: { source: "gpio", line: "trigger" },
      reject: { line: "reject", delay_ms: 200 },
      simulation: { parts_per_s: 20, parts: 4, gpio_sim: live },
    });
    const wires = new RecordingWires(live);
    const camera = { footage: [{ file: "a.jpg", label: "good", data: Buffer.alloc(0) }], capture() {} };
    const sim = new LineSimulator(
      c,
      wires,
      camera as unknown as TriggeredReplaySource,
      "good",
      pino({ level: "silent" }),
      () => {},
    );
    sim.start();
    // The main thread busy for 200 ms just as the parts are due (4 parts' worth at 20/s).
    await new Promise((r) => setTimeout(r, 950));
    const until = monoNowMs() + 200;
    while (monoNowMs() < until) {}
    await new Promise((r) => setTimeout(r, 400));
    sim.stop();
    return wires.edges.filter((e) => e.rising).map((e) => e.stampMs);
  }
  const gaps = (t: number[]) => t.slice(1).map((x, i) => x - (t[i] as number));

  it("simulated wires: parts due while the thread was busy are stamped at their own times", async () => {
    const stamps = await belt(false);
    expect(stamps).toHaveLength(4);
    for (const g of gaps(stamps)) expect(g).toBeCloseTo(50, 6);
  });

  it("a live line: a late tick delays the belt, it never bunches the parts", async () => {
    const stamps = await belt(true);
    expect(stamps).toHaveLength(4);
    for (const g of gaps(stamps)) expect(g).toBeGreaterThanOrEqual(49);
  });
});

function fate(cause: PartFate["cause"], eject = true): PartFate {
  return { partId: 1, edgeMs: 0, ejectAtMs: 300, eject, cause, frameSeq: null, verdict: null, settledMs: 0 };
}

describe("fail-safe events", () => {
  it("the first at once, then one digest per interval however many parts fail safe", () => {
    const d = new FailSafeDigest(10_000);
    expect(d.add(fate("decision"), 0)).toBeNull();
    const first = d.add(fate("no_decision"), 1000);
    expect(first).toMatchObject({ type: "line_fail_safe", data: { parts: 1, ejected: 1 } });
    // A stalled pipeline at 20 parts/s for 9 s: nothing more until the interval is over.
    const sent = [];
    for (let t = 1050; t < 10_000; t += 50) sent.push(d.add(fate("paused"), t));
    expect(sent.every((n) => n === null)).toBe(true);
    expect(d.flush(10_500)).toBeNull();
    const digest = d.flush(11_000);
    expect(digest?.data).toMatchObject({ parts: 179, ejected: 179, by_cause: { paused: 179, no_decision: 0 } });
    expect(digest?.message).toMatch(/^179 part\(s\) rejected by the fail-safe in 10 s: 179 inspection paused/);
    expect(d.flush(30_000)).toBeNull(); // nothing held back
  });
});

describe("line status in plain words", () => {
  const ok = {
    failed: false,
    ready: true,
    online: true,
    paused: false,
    parts: 120,
    ejected: 40,
    failSafe: 0,
    failSafeAction: "reject" as const,
    recentFailSafe: false,
    missed: 0,
  };
  it("says what the line does and what is wrong", () => {
    expect(lineStatus(ok)).toEqual({
      light: "ok",
      title: "Reject output",
      text: "Ready: 120 parts, 40 ejected, each at its time",
    });
    expect(lineStatus({ ...ok, online: false }).text).toMatch(/^Offline \(set by the PLC\): every part is rejected/);
    expect(lineStatus({ ...ok, paused: true, failSafeAction: "pass" }).text).toMatch(
      /every part is passed uninspected/,
    );
    expect(lineStatus({ ...ok, recentFailSafe: true, failSafe: 7, missed: 2 }).light).toBe("warn");
    expect(lineStatus({ failed: true })).toMatchObject({ light: "alarm", text: expect.stringMatching(/^NOT driven/) });
  });
});

describe("--simulate-line", () => {
  const config = (line: object = {}) => parseConfig({ device: { id: "a" }, line }, "t.yaml", "/etc/linesight").config;

  it("the demo line: photo-eye, triggered camera, jet 250 ms downstream, Modbus on 127.0.0.1:5020", () => {
    const l = simulatedLineConfig(config(), null);
    expect(l).toMatchObject({
      enabled: true,
      backend: "simulated",
      trigger: { source: "gpio", capture_delay_ms: 10 },
      reject: { delay_ms: 250, pulse_ms: 20 },
      modbus: { enabled: true, host: "127.0.0.1", port: 5020 },
      simulation: { parts_per_s: 10 },
    });
    expect(simulatedLineConfig(config(), 20).simulation.parts_per_s).toBe(20);
  });

  it("a config's own simulated line is kept", () => {
    const own = config({ backend: "simulated", reject: { delay_ms: 400, pulse_ms: 30 } });
    expect(simulatedLineConfig(own, null)).toMatchObject({ enabled: true, reject: { delay_ms: 400 } });
  });

  it("the simulated conveyor on a gpio-sim chip: backend gpio, its chip and lines kept", () => {
    const onChip = config({
      backend: "gpio",
      gpio_chip: "linesight-line",
      trigger: { source: "gpio", line: "trigger" },
      reject: { line: "reject" },
      simulation: { gpio_sim: true },
    });
    expect(simulatedLineConfig(onChip, 2)).toMatchObject({
      enabled: true,
      backend: "gpio",
      gpio_chip: "linesight-line",
      simulation: { gpio_sim: true, parts_per_s: 2 },
    });
    // It drives a photo-eye that the chardev backend reads: not with the simulated backend.
    expect(() => config({ enabled: true, backend: "simulated", simulation: { gpio_sim: true } })).toThrow(
      /line\.simulation\.gpio_sim.*needs backend gpio/,
    );
  });

  it("reads the footage's true labels", () => {
    const labels = footageLabels("file,label,defect\na.jpg,good,good\nb.jpg,defect,chip\n");
    expect([...labels]).toEqual([
      ["a.jpg", "good"],
      ["b.jpg", "defect"],
    ]);
    expect(footageLabels(null).size).toBe(0);
  });
});

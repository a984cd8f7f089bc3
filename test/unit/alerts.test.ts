import { describe, expect, it } from "vitest";
import { AlertBook, type AlertCheck, checkDevice, ProgressClock } from "../../src/monitor/alerts.js";

const limits = { cameraStallS: 5, inferenceStallS: 10, diskLowMb: 500, temperatureHighC: 80 };

function readings(over: Partial<Parameters<typeof checkDevice>[0]> = {}) {
  const progress = new ProgressClock(0);
  progress.update(0, 0, 0);
  return {
    now: 0,
    cameraExpected: true,
    inferenceExpected: true,
    progress,
    diskFreeMb: 10_000,
    temperatureC: 50,
    throttledProblems: [] as string[],
    ...over,
  };
}

const stateOf = (checks: AlertCheck[], name: string) => checks.find((c) => c.name === name)?.state;

describe("device alert conditions", () => {
  it("a camera with no frame for longer than its stall limit is stalled, unless stopped on purpose", () => {
    const r = readings({ now: 6000 });
    expect(stateOf(checkDevice(r, limits), "camera_stalled")).toBe("bad");
    expect(stateOf(checkDevice({ ...r, now: 4000 }, limits), "camera_stalled")).toBe("fine");
    expect(stateOf(checkDevice({ ...r, cameraExpected: false }, limits), "camera_stalled")).toBe("fine");
  });

  it("inference is stalled when frames arrive but none is decided; a stalled camera is not an inference stall", () => {
    const progress = new ProgressClock(0);
    progress.update(0, 10, 10);
    progress.update(11_000, 60, 10); // frames kept coming, decisions stopped at t=0
    const r = readings({ now: 11_000, progress });
    expect(stateOf(checkDevice(r, limits), "inference_stalled")).toBe("bad");
    expect(stateOf(checkDevice({ ...r, inferenceExpected: false }, limits), "inference_stalled")).toBe("fine");

    const quiet = new ProgressClock(0);
    quiet.update(0, 10, 10); // nothing arrives, nothing decided
    const c = checkDevice(readings({ now: 11_000, progress: quiet }), limits);
    expect(stateOf(c, "inference_stalled")).toBe("fine");
    expect(stateOf(c, "camera_stalled")).toBe("bad");
  });

  it("disk and temperature have a margin between raising and clearing", () => {
    expect(stateOf(checkDevice(readings({ diskFreeMb: 400 }), limits), "disk_low")).toBe("bad");
    expect(stateOf(checkDevice(readings({ diskFreeMb: 520 }), limits), "disk_low")).toBe("between");
    expect(stateOf(checkDevice(readings({ diskFreeMb: 600 }), limits), "disk_low")).toBe("fine");
    expect(stateOf(checkDevice(readings({ temperatureC: 81 }), limits), "temperature_high")).toBe("bad");
    expect(stateOf(checkDevice(readings({ temperatureC: 77 }), limits), "temperature_high")).toBe("between");
    expect(stateOf(checkDevice(readings({ temperatureC: 74 }), limits), "temperature_high")).toBe("fine");
  });

  it("leaves out what the platform cannot measure", () => {
    const names = checkDevice(readings({ diskFreeMb: null, temperatureC: null, throttledProblems: null }), limits).map(
      (c) => c.name,
    );
    expect(names).toEqual(["camera_stalled", "inference_stalled"]);
  });
});

describe("AlertBook hysteresis", () => {
  const check = (state: AlertCheck["state"]): AlertCheck => ({
    name: "temperature_high",
    state,
    severity: "warning",
    message: "temperature high: 82.0 °C",
  });

  it("raises after N bad checks in a row, once, and clears only after M fine checks in a row", () => {
    const book = new AlertBook({ raiseAfter: 2, clearAfter: 3 });
    expect(book.update([check("bad")])).toEqual([]);
    expect(book.update([check("fine")])).toEqual([]); // the streak is broken
    expect(book.update([check("bad")])).toEqual([]);
    const raised = book.update([check("bad")]);
    expect(raised).toMatchObject([{ name: "temperature_high", active: true, severity: "warning" }]);
    expect(book.names).toEqual(["temperature_high"]);
    expect(book.update([check("bad")])).toEqual([]); // not announced twice

    // Readings between the limits keep the alert: no flapping around the threshold.
    for (const s of ["fine", "fine", "between", "fine", "fine"] as const) expect(book.update([check(s)])).toEqual([]);
    const cleared = book.update([check("fine")]);
    expect(cleared).toMatchObject([{ name: "temperature_high", active: false, severity: "info" }]);
    expect(cleared[0]?.message).toContain("cleared");
    expect(book.names).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import type { Frame } from "../../src/camera/frame.js";
import { FrameSlot } from "../../src/camera/frame-slot.js";
import { ProgressWatchdog, watchdogIntervalMs } from "../../src/service/watchdog.js";

const frame = (seq: number): Frame => ({ seq, data: Buffer.alloc(1), capturedAt: 0, capturedMono: 0 });

describe("FrameSlot", () => {
  it("hands the newest frame over and counts the ones it replaced", async () => {
    const slot = new FrameSlot();
    slot.put(frame(1));
    slot.put(frame(2));
    slot.put(frame(3));
    expect((await slot.take())?.seq).toBe(3);
    expect(slot.dropped).toBe(2);
    expect(slot.received).toBe(3);
  });

  it("wakes a waiting consumer without dropping", async () => {
    const slot = new FrameSlot();
    const taken = slot.take();
    slot.put(frame(7));
    expect((await taken)?.seq).toBe(7);
    expect(slot.dropped).toBe(0);
  });

  it("returns null to a waiting consumer when closed", async () => {
    const slot = new FrameSlot();
    const taken = slot.take();
    slot.close();
    expect(await taken).toBeNull();
  });
});

describe("watchdog", () => {
  it("pings at half the systemd timeout, only for this process", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000" }, 42)).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "7" }, 42)).toBeNull();
    expect(watchdogIntervalMs({}, 42)).toBeNull();
  });

  it("feeds the watchdog only when frames were decided since the last check", () => {
    let pings = 0;
    const wd = new ProgressWatchdog(() => pings++);
    expect(wd.check(5, false)).toBe(true);
    expect(wd.check(5, false)).toBe(false); // stalled camera or hung inference
    expect(wd.check(9, false)).toBe(true);
    expect(wd.check(9, true)).toBe(true); // paused on purpose is healthy
    expect(pings).toBe(3);
  });
});

import { describe, expect, it } from "vitest";
import { Heartbeat, PulseSchedule } from "../../src/line/output-schedule.js";

describe("reject pulse schedule", () => {
  it("turns the line on at each part's time and off pulse_ms later", () => {
    const s = new PulseSchedule(30);
    s.schedule(2, 200);
    s.schedule(1, 100);
    expect(s.nextDueMs()).toBe(100);
    expect(s.due(99)).toEqual([]);
    expect(s.due(100)).toEqual([{ type: "on", partId: 1, scheduledMs: 100 }]);
    expect(s.active).toBe(true);
    expect(s.nextDueMs()).toBe(130);
    expect(s.due(131)).toEqual([{ type: "off", scheduledMs: 130 }]);
    // Started late, it still lasts pulse_ms.
    expect(s.due(210)).toEqual([{ type: "on", partId: 2, scheduledMs: 200 }]);
    expect(s.nextDueMs()).toBe(240);
    expect(s.due(240)).toEqual([{ type: "off", scheduledMs: 240 }]);
    expect(s.nextDueMs()).toBeNull();
  });

  it("times the pulse from the write that really turned the line on", () => {
    const s = new PulseSchedule(30);
    s.schedule(1, 100);
    expect(s.due(100)).toEqual([{ type: "on", partId: 1, scheduledMs: 100 }]);
    s.wentActiveAt(100.4); // the write returned 0.4 ms after the tick
    expect(s.nextDueMs()).toBe(130.4);
    expect(s.due(130.3)).toEqual([]);
    expect(s.due(130.4)).toEqual([{ type: "off", scheduledMs: 130.4 }]);
  });

  it("merges overlapping pulses instead of dropping the line between them", () => {
    const s = new PulseSchedule(30);
    s.schedule(1, 100);
    s.schedule(2, 120);
    expect(s.due(100)).toEqual([{ type: "on", partId: 1, scheduledMs: 100 }]);
    expect(s.due(120)).toEqual([{ type: "merged", partId: 2, scheduledMs: 120 }]);
    expect(s.nextDueMs()).toBe(150);
    expect(s.due(150)).toEqual([{ type: "off", scheduledMs: 150 }]);
  });

  it("refuses a pulse length of zero", () => {
    expect(() => new PulseSchedule(0)).toThrow(/positive/);
  });
});

describe("heartbeat", () => {
  it("toggles once per period while fed, and stops within two periods when the feed stops", () => {
    const h = new Heartbeat(100, 0);
    expect(h.tick(50, 1)).toBe(false); // not yet due
    expect(h.tick(100, 1)).toBe(true);
    expect(h.level).toBe(true);
    expect(h.tick(200, 2)).toBe(true);
    expect(h.level).toBe(false);
    expect(h.count).toBe(2);
    // The main thread stops feeding.
    expect(h.tick(300, 2)).toBe(false);
    expect(h.alive).toBe(true);
    expect(h.tick(400, 2)).toBe(false);
    expect(h.alive).toBe(false);
    expect(h.tick(500, 3)).toBe(true);
    expect(h.alive).toBe(true);
  });

  it("makes one toggle for ticks missed while its own thread was held up", () => {
    const h = new Heartbeat(100, 0);
    expect(h.tick(750, 1)).toBe(true);
    expect(h.nextDueMs()).toBe(800);
  });
});

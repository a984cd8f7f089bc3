import { describe, expect, it } from "vitest";
import { RateWindow } from "../../src/http/rate-window.js";

describe("RateWindow", () => {
  it("counts the last minute and the last hour separately", () => {
    const w = new RateWindow();
    const t0 = 1_800_000_000_000;
    // 30 minutes ago: 10 parts, all rejected. Now: 100 parts, 5 rejected.
    for (let i = 0; i < 10; i++) w.observe(t0 - 30 * 60_000, true);
    for (let i = 0; i < 100; i++) w.observe(t0 - 30_000 + i * 100, i % 20 === 0);
    const now = t0;
    expect(w.over(now, 60)).toEqual({ inspected: 100, rejected: 5, rate: 0.05 });
    expect(w.over(now, 3600)).toEqual({ inspected: 110, rejected: 15, rate: 15 / 110 });
  });

  it("forgets seconds older than the window, even when their slot is reused", () => {
    const w = new RateWindow(60);
    const t0 = 1_800_000_000_000;
    w.observe(t0, true);
    // Exactly one window later the same slot holds a new second: the old count must not leak in.
    w.observe(t0 + 60_000, false);
    expect(w.over(t0 + 60_000, 60)).toEqual({ inspected: 1, rejected: 0, rate: 0 });
    expect(w.over(t0 + 10 * 60_000, 60)).toEqual({ inspected: 0, rejected: 0, rate: null });
  });
});

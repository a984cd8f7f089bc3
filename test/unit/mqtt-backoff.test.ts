import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/mqtt/backoff.js";

describe("reconnect backoff", () => {
  it("doubles from 1 s to a 30 s ceiling and starts over after reset", () => {
    const b = new Backoff();
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it("does not overflow after very many attempts", () => {
    const b = new Backoff(1000, 30_000);
    for (let i = 0; i < 10_000; i++) b.next();
    expect(b.next()).toBe(30_000);
  });
});

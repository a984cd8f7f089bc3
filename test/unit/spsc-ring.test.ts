import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { SpscRing } from "../../src/line/spsc-ring.js";

describe("shared-memory message ring", () => {
  it("passes messages in order across the wrap-around, and refuses (counting) when full", () => {
    const buf = SpscRing.allocate(64);
    const producer = new SpscRing(buf);
    const consumer = new SpscRing(buf);
    for (let round = 0; round < 50; round++) {
      expect(producer.push({ round, s: "é".repeat(round % 7) })).toBe(true);
      expect(producer.push([round])).toBe(true);
      expect(consumer.pop()).toEqual({ round, s: "é".repeat(round % 7) });
      expect(consumer.pop()).toEqual([round]);
      expect(consumer.pop()).toBeUndefined();
    }
    expect(producer.push({ big: "x".repeat(30) })).toBe(true);
    expect(producer.push({ big: "x".repeat(30) })).toBe(false);
    expect(producer.dropped).toBe(1);
    expect(consumer.pop()).toEqual({ big: "x".repeat(30) });
  });

  it("carries every message from another thread intact", async () => {
    const buf = SpscRing.allocate(1024);
    const consumer = new SpscRing(buf);
    // The producer: the compiled ring in another thread (npm run build), retrying while full.
    const compiled = pathToFileURL(join(import.meta.dirname, "../../dist/src/line/spsc-ring.js")).href;
    const code = `
      const { workerData } = require("node:worker_threads");
      import(${JSON.stringify(compiled)}).then(({ SpscRing }) => {
        const ring = new SpscRing(workerData);
        for (let i = 0; i < 20000; i++) while (!ring.push({ i, pad: "y".repeat(i % 50) }));
      });`;
    const w = new Worker(code, { eval: true, workerData: buf });
    const got: number[] = [];
    while (got.length < 20000) {
      const m = consumer.pop() as { i: number; pad: string } | undefined;
      if (m) {
        expect(m.pad).toBe("y".repeat(m.i % 50));
        got.push(m.i);
      } else await new Promise((r) => setImmediate(r));
    }
    await w.terminate();
    expect(got.every((v, i) => v === i)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { MemoryEventOutbox } from "../../src/mqtt/event-outbox.js";

const msg = (n: number) => ({ name: "event" as const, body: `e${n}` });

describe("in-memory event outbox", () => {
  it("gives messages back in order", () => {
    const o = new MemoryEventOutbox(10);
    for (let i = 1; i <= 3; i++) o.push(msg(i));
    expect(o.size).toBe(3);
    expect([o.shift()?.body, o.shift()?.body, o.shift()?.body, o.shift()]).toEqual(["e1", "e2", "e3", undefined]);
    expect(o.dropped).toBe(0);
  });

  it("keeps the newest when full, dropping and counting the oldest", () => {
    const o = new MemoryEventOutbox(3);
    for (let i = 1; i <= 5; i++) o.push(msg(i));
    expect(o.size).toBe(3);
    expect(o.dropped).toBe(2);
    expect([o.shift()?.body, o.shift()?.body, o.shift()?.body]).toEqual(["e3", "e4", "e5"]);
  });

  it("holds 500 by default", () => {
    const o = new MemoryEventOutbox();
    for (let i = 0; i < 600; i++) o.push(msg(i));
    expect(o.size).toBe(500);
    expect(o.dropped).toBe(100);
  });
});

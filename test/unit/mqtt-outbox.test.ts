import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryOutbox, type Outbox, type OutboxLimits } from "../../src/store/outbox.js";
import { SqliteOutbox } from "../../src/store/outbox-store.js";
import { ThreadedOutbox } from "../../src/store/threaded-outbox.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), "linesight-outbox-"));
  dirs.push(d);
  return join(d, "outbox.db");
}

const msg = (n: number) => ({ name: "event" as const, body: `e${n}` });
const bodies = (o: Outbox) => o.next(0, 1000).map((e) => e.body);

const kinds: [string, (limits?: OutboxLimits) => Outbox][] = [
  ["in memory", (l) => new MemoryOutbox(l)],
  ["SQLite", (l) => SqliteOutbox.open(tempPath(), l)],
  ["SQLite, written by a worker thread", (l) => ThreadedOutbox.open(tempPath(), l)],
];

describe.each(kinds)("outbox (%s)", (_kind, make) => {
  it("gives messages back oldest first, from any cursor, until removed", () => {
    const o = make();
    for (let i = 1; i <= 5; i++) o.push(msg(i));
    expect(o.size).toBe(5);
    expect(o.bytes).toBe(10);
    const first = o.next(0, 2);
    expect(first.map((e) => e.body)).toEqual(["e1", "e2"]);
    expect(o.next(first[1]?.id ?? 0, 10).map((e) => e.body)).toEqual(["e3", "e4", "e5"]);
    o.remove(first[0]?.id ?? -1);
    o.remove(first[0]?.id ?? -1); // twice: ignored
    expect(bodies(o)).toEqual(["e2", "e3", "e4", "e5"]);
    expect(o.size).toBe(4);
    expect(o.bytes).toBe(8);
    o.close();
  });

  it("never reuses an id after draining, so a replay cursor cannot skip new messages", () => {
    const o = make();
    o.push(msg(1));
    const [a] = o.next(0, 1);
    o.remove(a?.id ?? -1);
    expect(o.size).toBe(0);
    o.push(msg(2));
    expect(o.next(a?.id ?? 0, 10).map((e) => e.body)).toEqual(["e2"]);
    o.close();
  });

  it("keeps the newest when the count limit is reached, dropping and counting the oldest", () => {
    const o = make({ maxMessages: 3, maxBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) o.push(msg(i));
    expect(bodies(o)).toEqual(["e3", "e4", "e5"]);
    expect(o.dropped).toBe(2);
    o.close();
  });

  it("keeps the newest when the byte limit is reached (bytes as UTF-8)", () => {
    const o = make({ maxMessages: 100, maxBytes: 10 });
    o.push({ name: "health", body: "ééé" }); // 6 bytes
    o.push({ name: "health", body: "abcd" }); // 10 in all
    expect(o.dropped).toBe(0);
    o.push({ name: "health", body: "x" }); // 11: the oldest goes
    expect(bodies(o)).toEqual(["abcd", "x"]);
    expect(o.bytes).toBe(5);
    expect(o.dropped).toBe(1);
    o.close();
  });

  it("says whether a topic has messages waiting", () => {
    const o = make();
    o.push({ name: "health", body: "{}" });
    expect(o.has("health")).toBe(true);
    expect(o.has("state")).toBe(false);
    o.close();
  });
});

describe("SQLite outbox", () => {
  it("survives closing and reopening (a daemon restart) with order, size and bytes intact", () => {
    const path = tempPath();
    const a = SqliteOutbox.open(path);
    for (let i = 1; i <= 3; i++) a.push(msg(i));
    a.remove(a.next(0, 1)[0]?.id ?? -1);
    a.close();
    const b = SqliteOutbox.open(path);
    expect(bodies(b)).toEqual(["e2", "e3"]);
    expect(b.size).toBe(2);
    expect(b.bytes).toBe(4);
    expect(b.oldestQueuedAt()).toBeGreaterThan(Date.now() - 60_000);
    b.close();
  });

  it("applies lowered limits to what an earlier run left", () => {
    const path = tempPath();
    const a = SqliteOutbox.open(path);
    for (let i = 1; i <= 10; i++) a.push(msg(i));
    a.close();
    const b = SqliteOutbox.open(path, { maxMessages: 4, maxBytes: 1 << 20 });
    expect(bodies(b)).toEqual(["e7", "e8", "e9", "e10"]);
    expect(b.dropped).toBe(6);
    b.close();
  });

  it("refuses a file that is not a database, naming the path", () => {
    const path = tempPath();
    writeFileSync(path, "this is not SQLite ".repeat(100));
    expect(() => SqliteOutbox.open(path)).toThrow(path);
  });
});

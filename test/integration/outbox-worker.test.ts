// The MQTT outbox written from a worker thread (issue 14, item 9): the thread that decides frames
// never waits for the disk, yet what was queued survives a restart and a kill -9, in order.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteOutbox } from "../../src/store/outbox-store.js";
import { ThreadedOutbox } from "../../src/store/threaded-outbox.js";
import { ROOT } from "../helpers/daemon.js";
import { sleep, until } from "../helpers/mosquitto.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath(): string {
  const d = mkdtempSync(join(tmpdir(), "linesight-outbox-worker-"));
  dirs.push(d);
  return join(d, "outbox.db");
}
const bodies = (o: { next(a: number, l: number): { body: string }[] }) => o.next(0, 100_000).map((e) => e.body);

describe("ThreadedOutbox", () => {
  it("survives closing and reopening with order, ids and removals intact", () => {
    const path = tempPath();
    const a = ThreadedOutbox.open(path);
    for (let i = 1; i <= 500; i++) a.push({ name: "health", body: `m${i}` });
    for (const e of a.next(0, 500)) if (e.id % 2 === 1) a.remove(e.id);
    const ids = a.next(0, 500).map((e) => e.id);
    a.close();
    const b = ThreadedOutbox.open(path);
    expect(b.next(0, 1000).map((e) => e.id)).toEqual(ids);
    expect(bodies(b)).toEqual(Array.from({ length: 250 }, (_, i) => `m${2 * (i + 1)}`));
    expect(b.bytes).toBe(ids.reduce((s, _id, i) => s + `m${2 * (i + 1)}`.length, 0));
    // Ids never go back, even after everything was delivered.
    for (const e of b.next(0, 1000)) b.remove(e.id);
    b.push({ name: "health", body: "after" });
    expect(b.next(0, 1)[0]?.id).toBe(501);
    b.close();
    const c = ThreadedOutbox.open(path);
    expect(bodies(c)).toEqual(["after"]);
    c.close();
  });

  it("what a process killed with SIGKILL had queued is there when it starts again, in order", async () => {
    const path = tempPath();
    const child = spawn(process.execPath, [join(ROOT, "test/fixtures/outbox-pusher.mjs"), path, "2000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await until(() => out.includes("pushed"), 20_000, "the child's pushes");
    await sleep(200); // the worker's commits take well under a millisecond each
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const after = ThreadedOutbox.open(path);
    expect(bodies(after)).toEqual(Array.from({ length: 2000 }, (_, i) => `m${i + 1}`));
    after.close();
  });

  it("while the disk cannot be written (the database locked for 2 s), push returns at once and nothing is lost", async () => {
    const path = tempPath();
    const outbox = ThreadedOutbox.open(path);
    outbox.push({ name: "health", body: "first" });
    await until(() => outbox.writer().uncommitted === 0, 5_000, "the first commit");
    // Another connection holds the write lock: the worker's next commit must wait, as on a
    // stalled SD card. The main-thread SqliteOutbox (busy timeout 0) would fail or wait here.
    const blocker = new Database(path);
    blocker.exec("BEGIN IMMEDIATE");
    const slowest = { ms: 0 };
    for (let i = 1; i <= 100; i++) {
      const t = performance.now();
      outbox.push({ name: "health", body: `during-${i}` });
      slowest.ms = Math.max(slowest.ms, performance.now() - t);
      if (i % 10 === 0) await sleep(200);
    }
    expect(slowest.ms).toBeLessThan(5);
    expect(outbox.writer().uncommitted).toBeGreaterThan(0);
    expect(outbox.size).toBe(101);
    blocker.exec("COMMIT");
    blocker.close();
    await until(() => outbox.writer().uncommitted === 0, 10_000, "the backlog committed");
    expect(outbox.writer().lastError).toBeNull();
    outbox.close();
    const check = SqliteOutbox.open(path);
    expect(bodies(check)).toEqual(["first", ...Array.from({ length: 100 }, (_, i) => `during-${i + 1}`)]);
    check.close();
  });

  it("the main-thread SqliteOutbox, as the daemon used it before, cannot queue while the disk is held", () => {
    const path = tempPath();
    const outbox = SqliteOutbox.open(path);
    const blocker = new Database(path);
    blocker.exec("BEGIN IMMEDIATE");
    try {
      expect(() => outbox.push({ name: "health", body: "x" })).toThrow(/locked|busy/i);
    } finally {
      blocker.exec("ROLLBACK");
      blocker.close();
      outbox.close();
    }
  });
});

// What the durable MQTT outbox costs the main thread: one push and one remove (on PUBACK) per
// QoS 1 message, with real health-sized payloads, on this disk; also the replay read (100
// oldest), as on reconnect after an outage. Both ways: SQLite written on the main thread (as the
// daemon did before) and ThreadedOutbox (a worker writes, the daemon now).
//
//   node dist/bench/outbox.js [--messages 5000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import type { Outbox } from "../src/store/outbox.js";
import { SqliteOutbox } from "../src/store/outbox-store.js";
import { ThreadedOutbox } from "../src/store/threaded-outbox.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({ options: { messages: { type: "string", default: "5000" } } });
const n = Number(values.messages);
// A health report is ~2 KB of JSON.
const body = JSON.stringify({ schema: 1, pad: "x".repeat(2000) });

/** One outbox's main-thread cost: push, then remove on the (simulated) PUBACK, then a replay read. */
async function measure(outbox: Outbox<string>, settle: () => Promise<void>) {
  const push: number[] = [];
  const remove: number[] = [];
  const replay: number[] = [];
  // Online: each message is pushed, then removed on its PUBACK.
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    outbox.push({ name: "health", body });
    push.push(performance.now() - t);
    const [e] = outbox.next(0, 1);
    t = performance.now();
    outbox.remove(e?.id ?? -1);
    remove.push(performance.now() - t);
    // A health report every few ms rather than every 10 s: the worker gets time to commit.
    if (i % 50 === 0) await settle();
  }
  // Outage: n messages pile up; the reconnect reads them 100 at a time.
  for (let i = 0; i < n; i++) outbox.push({ name: "health", body });
  for (let after = 0; ; ) {
    const t = performance.now();
    const batch = outbox.next(after, 100);
    replay.push(performance.now() - t);
    if (batch.length === 0) break;
    after = batch[batch.length - 1]?.id ?? after;
  }
  return { push, remove, replay };
}

const row = (what: string, xs: number[]) =>
  `${what.padEnd(36)} p50 ${percentile(xs, 0.5).toFixed(3)} ms  p99 ${percentile(xs, 0.99).toFixed(3)} ms  max ${Math.max(...xs).toFixed(3)} ms`;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

const dir = mkdtempSync(join(tmpdir(), "linesight-bench-outbox-"));
try {
  console.log(`outbox, ${n} messages of ${body.length} bytes`);
  const direct = SqliteOutbox.open(join(dir, "direct.db"));
  const d = await measure(direct, tick);
  direct.close();
  console.log("SQLite on the main thread (before):");
  console.log(row("  push (INSERT + commit)", d.push));
  console.log(row("  remove on PUBACK (DELETE)", d.remove));
  console.log(row("  replay read, 100 rows", d.replay));

  const threaded = ThreadedOutbox.open(join(dir, "threaded.db"));
  const w = await measure(threaded, tick);
  while (threaded.writer().uncommitted > 0) await tick();
  console.log("Worker thread writes, main thread keeps the queue (the daemon now):");
  console.log(row("  push (main thread)", w.push));
  console.log(row("  remove on PUBACK (main thread)", w.remove));
  console.log(row("  replay read, 100 rows (main thread)", w.replay));
  console.log(`  worker: slowest commit ${threaded.writer().maxCommitMs.toFixed(3)} ms (not on the main thread)`);
  // A stalled disk: another connection holds the write lock for 1 s, so the worker's commit waits
  // as it would on an SD card that stops answering. The main thread keeps pushing meanwhile.
  for (const e of threaded.next(0, 100_000)) threaded.remove(e.id);
  while (threaded.writer().uncommitted > 0) await tick();
  const blocker = new Database(join(dir, "threaded.db"));
  blocker.exec("BEGIN IMMEDIATE");
  const held: number[] = [];
  const heldUntil = performance.now() + 1000;
  while (performance.now() < heldUntil) {
    const t = performance.now();
    threaded.push({ name: "health", body });
    held.push(performance.now() - t);
    await tick();
  }
  const backlog = threaded.writer().uncommitted;
  blocker.exec("COMMIT");
  blocker.close();
  while (threaded.writer().uncommitted > 0) await tick();
  console.log(row(`  push while the disk is held 1 s (${held.length})`, held));
  console.log(
    `  worker: ${backlog} changes waited, then committed; slowest commit ${threaded.writer().maxCommitMs.toFixed(1)} ms`,
  );
  const closeStart = performance.now();
  threaded.close();
  console.log(`  close (waits for the last commit): ${(performance.now() - closeStart).toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

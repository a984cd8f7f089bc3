// What the durable MQTT outbox costs the main thread: one push (INSERT, one WAL commit) and one
// remove (DELETE on PUBACK) per QoS 1 message, with real health-sized payloads, on this disk.
// Also the replay read (100 oldest), as on reconnect after an outage.
//
//   node dist/bench/outbox.js [--messages 5000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { SqliteOutbox } from "../src/store/outbox-store.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({ options: { messages: { type: "string", default: "5000" } } });
const n = Number(values.messages);
// A health report is ~2 KB of JSON.
const body = JSON.stringify({ schema: 1, pad: "x".repeat(2000) });

const dir = mkdtempSync(join(tmpdir(), "linesight-bench-outbox-"));
try {
  const outbox = SqliteOutbox.open(join(dir, "outbox.db"));
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
  outbox.close();
  const row = (what: string, xs: number[]) =>
    `${what.padEnd(28)} p50 ${percentile(xs, 0.5).toFixed(3)} ms  p99 ${percentile(xs, 0.99).toFixed(3)} ms  max ${Math.max(...xs).toFixed(3)} ms`;
  console.log(`outbox, ${n} messages of ${body.length} bytes`);
  console.log(row("push (INSERT + commit)", push));
  console.log(row("remove on PUBACK (DELETE)", remove));
  console.log(row("replay read, 100 rows", replay));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

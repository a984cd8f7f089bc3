// Worker thread entry of ThreadedOutbox: the only code that writes the outbox database while the
// daemon runs, so a slow disk (an SD card at a WAL checkpoint) never stalls the thread that
// decides frames. Operations arrive in order; those that arrive together are committed together.
import { parentPort, workerData } from "node:worker_threads";
import { openWalDatabase } from "./open-wal-database.js";
import { OUTBOX_MIGRATIONS } from "./outbox-store.js";
import { migrate } from "./schema.js";

export type OutboxOp =
  | { op: "push"; id: number; name: string; body: string; queuedAt: number }
  | { op: "remove"; ids: number[] }
  | { op: "close" };

export type OutboxWorkerMessage =
  | { type: "committed"; ops: number; ms: number }
  | { type: "error"; message: string }
  | { type: "closed"; error?: string };

export interface OutboxWorkerData {
  path: string;
  /** Int32Array(1) over shared memory: set to 1 and notified once closed, for a synchronous close(). */
  closedFlag: SharedArrayBuffer;
}

const port = parentPort;
if (port) {
  const { path, closedFlag } = workerData as OutboxWorkerData;
  const flag = new Int32Array(closedFlag);
  const post = (m: OutboxWorkerMessage) => port.postMessage(m);
  const db = openWalDatabase(path, { journalSizeLimitBytes: 4 * 1024 * 1024, busyTimeoutMs: 5000 });
  migrate(db, OUTBOX_MIGRATIONS);
  const insert = db.prepare("INSERT INTO outbox (id, topic, body, queued_at) VALUES (?, ?, ?, ?)");
  const remove = db.prepare("DELETE FROM outbox WHERE id = ?");
  const apply = db.transaction((ops: OutboxOp[]) => {
    for (const o of ops) {
      if (o.op === "push") insert.run(o.id, o.name, o.body, o.queuedAt);
      else if (o.op === "remove") for (const id of o.ids) remove.run(id);
    }
  });
  let pending: OutboxOp[] = [];
  let scheduled = false;
  let failing = false;

  const finish = () => {
    let error: string | undefined;
    try {
      db.close();
    } catch (err) {
      error = (err as Error).message;
    }
    post({ type: "closed", ...(error ? { error } : {}) });
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    port.close();
  };

  const flush = () => {
    scheduled = false;
    const ops = pending;
    pending = [];
    const closing = ops.some((o) => o.op === "close");
    const t0 = performance.now();
    try {
      apply(ops);
      failing = false;
      post({ type: "committed", ops: ops.filter((o) => o.op !== "close").length, ms: performance.now() - t0 });
    } catch (err) {
      // E.g. a full disk: said once per failing stretch; delivery goes on from the main thread's copy.
      if (!failing) post({ type: "error", message: (err as Error).message });
      failing = true;
    }
    if (closing) finish();
  };

  port.on("message", (o: OutboxOp) => {
    pending.push(o);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

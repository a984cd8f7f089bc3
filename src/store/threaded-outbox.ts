// The durable outbox the daemon uses: the main thread keeps the queue in memory (push, next and
// remove cost microseconds and never touch the disk) and a worker thread writes every change to
// SQLite in the same order, committing what arrives together in one transaction. The database
// is read on the main thread only once, at open, to take over what a previous run left.
// A kill -9 loses only the changes the worker had not committed yet: those of the last moments
// (a commit takes ~0.1-1 ms here; docs/performance.md).
import { Worker } from "node:worker_threads";
import { workerScriptUrl } from "../worker-url.js";
import {
  checkLimits,
  DEFAULT_OUTBOX_LIMITS,
  type Outbox,
  type OutboxEntry,
  type OutboxLimits,
  type OutboxMessage,
} from "./outbox.js";
import { SqliteOutbox } from "./outbox-store.js";
import type { OutboxOp, OutboxWorkerData, OutboxWorkerMessage } from "./outbox-worker.js";

/** How long close() waits for the worker's last commit. */
const CLOSE_TIMEOUT_MS = 5000;

interface Entry<N extends string> extends OutboxEntry<N> {
  bytes: number;
  queuedAt: number;
}

export interface OutboxWriterStats {
  /** Changes handed to the worker and not yet committed. */
  uncommitted: number;
  /** Longest commit so far, ms. */
  maxCommitMs: number;
  /** The last commit error, or null. */
  lastError: string | null;
}

export class ThreadedOutbox<N extends string = string> implements Outbox<N> {
  /** Insertion order is id order: acknowledged (removed) entries leave from the front. */
  private readonly entries = new Map<number, Entry<N>>();
  private byteCount = 0;
  private droppedCount = 0;
  private uncommitted = 0;
  private maxCommitMs = 0;
  private lastError: string | null = null;
  private closed = false;
  /** Called with each commit error (the worker reports once per failing stretch). */
  onError: (message: string) => void = () => {};

  private constructor(
    readonly path: string,
    private readonly limits: OutboxLimits,
    private lastId: number,
    private readonly worker: Worker,
    private readonly closedFlag: Int32Array,
  ) {
    worker.on("message", (m: OutboxWorkerMessage) => {
      if (m.type === "committed") {
        this.uncommitted -= m.ops;
        this.maxCommitMs = Math.max(this.maxCommitMs, m.ms);
      } else if (m.type === "error") {
        this.lastError = m.message;
        this.onError(m.message);
      }
    });
    worker.on("error", (err) => {
      this.lastError = err.message;
      this.onError(err.message);
    });
    worker.unref();
  }

  /**
   * Opens (creating if needed) the outbox at `path` and takes over what a previous run left, then
   * hands the file to the worker. Synchronous: called once at start, before any frame.
   */
  static open<N extends string = string>(
    path: string,
    limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS,
  ): ThreadedOutbox<N> {
    checkLimits(limits);
    const previous = SqliteOutbox.open<N>(path, limits); // errors name the path; applies lowered limits
    let rows: OutboxEntry<N>[];
    let lastId: number;
    let oldest: number | null;
    try {
      rows = previous.next(0, Number.MAX_SAFE_INTEGER);
      lastId = previous.lastId();
      oldest = previous.oldestQueuedAt();
    } finally {
      previous.close();
    }
    const closedFlag = new SharedArrayBuffer(4);
    const data: OutboxWorkerData = { path, closedFlag };
    const worker = new Worker(workerScriptUrl("store/outbox-worker.js", import.meta.url), { workerData: data });
    const outbox = new ThreadedOutbox<N>(path, limits, lastId, worker, new Int32Array(closedFlag));
    for (const r of rows) outbox.keep({ ...r, bytes: Buffer.byteLength(r.body), queuedAt: oldest ?? Date.now() });
    return outbox;
  }

  push(m: OutboxMessage<N>): void {
    if (this.closed) throw new Error("the outbox is closed");
    const e: Entry<N> = {
      id: ++this.lastId,
      name: m.name,
      body: m.body,
      bytes: Buffer.byteLength(m.body),
      queuedAt: Date.now(),
    };
    this.keep(e);
    this.send({ op: "push", id: e.id, name: e.name, body: e.body, queuedAt: e.queuedAt });
    // Oldest out first: during a long outage the newest messages say most about the present.
    const dropped: number[] = [];
    while (this.entries.size > this.limits.maxMessages || this.byteCount > this.limits.maxBytes) {
      const oldest = this.entries.values().next().value;
      if (!oldest) break;
      this.forget(oldest);
      this.droppedCount++;
      dropped.push(oldest.id);
    }
    if (dropped.length > 0) this.send({ op: "remove", ids: dropped });
  }

  next(afterId: number, limit: number): OutboxEntry<N>[] {
    const out: OutboxEntry<N>[] = [];
    for (const e of this.entries.values()) {
      if (out.length >= limit) break;
      if (e.id > afterId) out.push({ id: e.id, name: e.name, body: e.body });
    }
    return out;
  }

  remove(id: number): void {
    const e = this.entries.get(id);
    if (!e || this.closed) return;
    this.forget(e);
    this.send({ op: "remove", ids: [id] });
  }

  has(name: N): boolean {
    for (const e of this.entries.values()) if (e.name === name) return true;
    return false;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** Time the oldest waiting message was queued (ms since epoch), or null when empty. */
  oldestQueuedAt(): number | null {
    return this.entries.values().next().value?.queuedAt ?? null;
  }

  writer(): OutboxWriterStats {
    return { uncommitted: this.uncommitted, maxCommitMs: this.maxCommitMs, lastError: this.lastError };
  }

  /**
   * Waits (blocking, at most 5 s) for the worker to commit everything and close the database:
   * called at shutdown, after the last message was queued.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage({ op: "close" } satisfies OutboxOp);
    Atomics.wait(this.closedFlag, 0, 0, CLOSE_TIMEOUT_MS);
    void this.worker.terminate();
  }

  private keep(e: Entry<N>): void {
    this.entries.set(e.id, e);
    this.byteCount += e.bytes;
  }

  private forget(e: Entry<N>): void {
    this.entries.delete(e.id);
    this.byteCount -= e.bytes;
  }

  private send(op: OutboxOp): void {
    this.uncommitted++;
    this.worker.postMessage(op);
  }
}

// Main-thread side of the sample store. The hot path only calls enqueue(): a push into a
// bounded ring buffer. Batches go to the store worker with their images transferred (moved, not
// copied); at most MAX_IN_FLIGHT batches are outstanding, so a stalled disk fills the queue and
// samples are dropped and counted, instead of memory growing or frames waiting.
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { workerStarted } from "../worker-started.js";
import { workerScriptUrl } from "../worker-url.js";
import { BoundedQueue } from "./bounded-queue.js";
import { StoreOpenError } from "./errors.js";
import type { DbFigures, FromWorker, ToWorker, WorkerConfig } from "./protocol.js";
import type { SampleRecord, StoreStats } from "./types.js";

export { StoreOpenError } from "./errors.js";
export type { SampleReason, SampleRecord, StoreStats } from "./types.js";

export interface SampleWriterOptions {
  path: string;
  /** Retention keeps the database's used pages under this. */
  maxBytes: number;
  logger: Logger;
  /** Samples waiting on the main thread; more are dropped. Default 256 (~4 MB of 15 KB JPEGs). */
  queueLimit?: number;
  /** Samples per insert transaction. Default 32. */
  batchSize?: number;
  /** Longest a partial batch waits before it is sent. Default 250 ms. */
  flushIntervalMs?: number;
}

/** Two batches in flight: the worker always has the next one ready while it commits. */
const MAX_IN_FLIGHT = 2;
/** An insert transaction slower than this is worth a warning (SD card wearing out or stalling). */
const SLOW_BATCH_MS = 1000;

/** The compiled store worker (see workerScriptUrl). */
export function storeWorkerUrl(base: string = import.meta.url): URL {
  return workerScriptUrl("store/store-worker.js", base);
}

export class SampleWriter {
  private readonly queue: BoundedQueue<SampleRecord>;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly logger: Logger;
  private inFlightBatches = 0;
  private inFlightSamples = 0;
  private written = 0;
  /** Callers of idOf() waiting for a frame's row id. */
  private readonly idWaiters = new Map<number, (id: number) => void>();
  private dropped = 0;
  private failed = 0;
  private retentionDeleted = 0;
  private failedBatches = 0;
  private figures: DbFigures;
  private state: "open" | "closing" | "closed" | "failed" = "open";
  private timer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    opts: SampleWriterOptions,
    figures: DbFigures,
  ) {
    this.queue = new BoundedQueue(opts.queueLimit ?? 256);
    this.batchSize = opts.batchSize ?? 32;
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    this.logger = opts.logger.child({ component: "store" });
    this.figures = figures;
    worker.on("message", (msg: FromWorker) => this.onMessage(msg));
    worker.on("error", (err) => this.logger.error({ err }, "sample store worker crashed"));
    this.exited = new Promise((resolve) => worker.once("exit", (code) => resolve(this.onExit(code))));
    // Do not hold the process open by itself; close() re-refs it while flushing.
    worker.unref();
  }

  /** Starts the worker; resolves once the database is open and migrated. Rejects with StoreOpenError. */
  static async open(opts: SampleWriterOptions): Promise<SampleWriter> {
    checkOptions(opts);
    const config: WorkerConfig = { path: opts.path, maxBytes: opts.maxBytes };
    const worker = new Worker(storeWorkerUrl(), { workerData: config });
    const ready = await workerStarted<FromWorker, Extract<FromWorker, { type: "ready" }>>(worker, {
      settle: (msg) =>
        msg.type === "ready"
          ? { value: msg }
          : msg.type === "open-failed"
            ? { error: new StoreOpenError(opts.path, msg.message) }
            : null,
      // The worker itself failed to load: not a problem with the path.
      failed: (err) =>
        new StoreOpenError(
          opts.path,
          `cannot open the sample store at ${opts.path}: its worker failed to start (${err.message}). ` +
            "Fix: reinstall linesight (npm ci); better-sqlite3's native module may be missing or built for another Node.js.",
          err,
        ),
      exited: (code) =>
        new StoreOpenError(
          opts.path,
          `cannot open the sample store at ${opts.path}: its worker exited (code ${code}) before opening it`,
        ),
    }).catch((err: unknown) => {
      void worker.terminate();
      throw err;
    });
    const writer = new SampleWriter(worker, opts, ready.figures);
    writer.logger.info(
      {
        path: opts.path,
        samples: ready.figures.samples,
        dbBytes: ready.figures.dbBytes,
        schema: ready.schemaTo,
        migratedFrom: ready.schemaFrom,
      },
      ready.schemaFrom === ready.schemaTo ? "sample store open" : "sample store open (schema migrated)",
    );
    return writer;
  }

  /**
   * O(1), never blocks. Takes ownership of `sample.image`: when its view covers a whole
   * ArrayBuffer, that buffer is moved to the worker and becomes empty (detached) here soon
   * after; otherwise (e.g. a slice of a bigger buffer) it is copied. Returns false, and counts
   * the sample as dropped, when the queue is full or the writer is closing.
   */
  enqueue(sample: SampleRecord): boolean {
    if (this.state !== "open" || !this.queue.push(sample)) {
      this.dropped++;
      // Powers of ten: a long disk stall logs a handful of lines, not one per frame.
      if (isPowerOfTen(this.dropped)) {
        this.logger.warn({ dropped: this.dropped, state: this.state }, "sample queue full or closed: dropping samples");
      }
      return false;
    }
    if (this.queue.length >= this.batchSize) {
      // Post outside the caller's stack: enqueue stays a push, the clone cost lands after the frame.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump(false);
        });
      }
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump(true);
      }, this.flushIntervalMs);
      this.timer.unref();
    }
    return true;
  }

  /**
   * The row id the sample of frame `seq` (enqueued before) got, or null if it was not written
   * within `timeoutMs` (refused, failed, or the writer closed).
   */
  idOf(seq: number, timeoutMs = 5_000): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idWaiters.delete(seq);
        resolve(null);
      }, timeoutMs);
      this.idWaiters.set(seq, (id) => {
        clearTimeout(timer);
        resolve(id);
      });
    });
  }

  /** Cached figures, updated by each worker reply. */
  stats(): StoreStats {
    return {
      queued: this.queue.length + this.inFlightSamples,
      written: this.written,
      dropped: this.dropped,
      failed: this.failed,
      dbBytes: this.figures.dbBytes,
      samples: this.figures.samples,
      retentionDeleted: this.retentionDeleted,
    };
  }

  /** Writes everything queued, checkpoints, closes the database and stops the worker. */
  async close(): Promise<void> {
    if (this.state === "open") {
      this.state = "closing";
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.worker.ref(); // an awaited promise alone does not keep Node alive
      // The queue is bounded, so sending it all at once is bounded too; the worker handles
      // messages in order, so 'close' arrives after the last batch.
      while (this.queue.length > 0) this.post(this.queue.take(this.batchSize));
      this.worker.postMessage({ type: "close" } satisfies ToWorker);
    }
    await this.exited;
  }

  private pump(partial: boolean): void {
    if (this.state !== "open") return;
    while (
      this.inFlightBatches < MAX_IN_FLIGHT &&
      (this.queue.length >= this.batchSize || (partial && this.queue.length > 0))
    ) {
      this.post(this.queue.take(this.batchSize));
    }
    // Leftovers (a partial batch, or batches held back by the in-flight cap) get a deadline.
    if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump(true);
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  private post(batch: SampleRecord[]): void {
    const transfer: ArrayBuffer[] = [];
    const samples = batch.map((s) => ({ ...s, image: transferable(s.image, transfer) }));
    try {
      this.worker.postMessage({ type: "batch", samples } satisfies ToWorker, transfer);
    } catch (err) {
      // e.g. a non-cloneable value in `features`: lose this batch, not the writer.
      this.failed += batch.length;
      this.logger.error({ err, count: batch.length }, "cannot send samples to the store worker");
      return;
    }
    this.inFlightBatches++;
    this.inFlightSamples += batch.length;
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case "written":
        this.settle(msg.count);
        if (this.idWaiters.size > 0) {
          for (const { seq, id } of msg.ids) {
            this.idWaiters.get(seq)?.(id);
            this.idWaiters.delete(seq);
          }
        }
        this.written += msg.written;
        this.failed += msg.failed;
        this.retentionDeleted += msg.retentionDeleted;
        this.figures = msg.figures;
        if (msg.firstError)
          this.logger.warn({ failed: msg.failed, error: msg.firstError }, "some samples were refused by the database");
        if (msg.retentionError)
          this.logger.error({ error: msg.retentionError }, "retention failed: the store may grow past its limit");
        if (msg.retentionDeleted > 0)
          this.logger.info(
            { deleted: msg.retentionDeleted, dbBytes: msg.figures.dbBytes },
            "retention deleted old samples",
          );
        if (msg.insertMs > SLOW_BATCH_MS)
          this.logger.warn(
            { ms: Math.round(msg.insertMs), count: msg.count },
            "slow sample insert: is the disk healthy?",
          );
        break;
      case "batch-failed":
        this.settle(msg.count);
        this.failed += msg.count;
        this.failedBatches++;
        if (isPowerOfTen(this.failedBatches)) {
          this.logger.error(
            { count: msg.count, failedBatches: this.failedBatches, error: msg.message },
            "could not store a batch of samples",
          );
        }
        break;
      case "closed":
        this.figures = msg.figures;
        if (msg.error) this.logger.warn({ error: msg.error }, "sample store closed with an error");
        break;
      default:
        break;
    }
  }

  private settle(count: number): void {
    this.inFlightBatches--;
    this.inFlightSamples -= count;
    this.pump(false);
  }

  private onExit(code: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.state === "closing" && this.inFlightSamples === 0) {
      this.state = "closed";
      this.logger.info({ written: this.written, dropped: this.dropped, failed: this.failed }, "sample store closed");
      return;
    }
    // Unexpected: whatever was on its way is lost; later samples are dropped and counted.
    this.state = "failed";
    this.failed += this.inFlightSamples + this.queue.length;
    this.queue.take(this.queue.length);
    this.inFlightBatches = 0;
    this.inFlightSamples = 0;
    this.logger.error({ code }, "sample store worker stopped unexpectedly: samples are no longer stored");
  }
}

/** Programming errors, caught before a worker starts (a zero batch size would loop forever). */
function checkOptions(o: SampleWriterOptions): void {
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new RangeError(`SampleWriter: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt("queueLimit", o.queueLimit);
  positiveInt("batchSize", o.batchSize);
  if (!(o.maxBytes > 0)) throw new RangeError(`SampleWriter: maxBytes must be positive, got ${o.maxBytes}`);
  if (o.flushIntervalMs !== undefined && !(o.flushIntervalMs >= 0))
    throw new RangeError(`SampleWriter: flushIntervalMs must be >= 0, got ${o.flushIntervalMs}`);
}

function isPowerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}

/**
 * The image itself when its buffer can be moved (view covers the whole ArrayBuffer, not yet in
 * this transfer list); otherwise a copy, which then is moved. Moving a shared buffer would empty
 * unrelated views (Node's small-Buffer pool, a slice of a stream chunk).
 */
function transferable(image: Uint8Array, transfer: ArrayBuffer[]): Uint8Array {
  const buf = image.buffer;
  const own =
    buf instanceof ArrayBuffer &&
    image.byteOffset === 0 &&
    image.byteLength === buf.byteLength &&
    !transfer.includes(buf);
  const out = own ? image : new Uint8Array(image);
  transfer.push(out.buffer as ArrayBuffer);
  return out;
}

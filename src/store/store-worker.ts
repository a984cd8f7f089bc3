// Worker thread entry: the only place the daemon touches SQLite, so a slow SD card or a long
// retention pass can never stall frame decisions. One writer, messages handled in order.
// Every failure is posted back to the main thread (which owns the logger); none is swallowed.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import type { DbFigures, FromWorker, ToWorker, WorkerConfig } from "./protocol.js";
import { SampleStore } from "./sample-store.js";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function serve(port: MessagePort, config: WorkerConfig): void {
  const post = (msg: FromWorker) => port.postMessage(msg);
  let store: SampleStore;
  try {
    store = SampleStore.open(config.path);
  } catch (err) {
    post({ type: "open-failed", message: message(err) });
    port.close();
    return;
  }
  // count(*) walks an index, so it is read once and then kept up to date from our own writes.
  let samples = store.count();
  const figures = (): DbFigures => ({ dbBytes: store.diskBytes(), samples });
  post({ type: "ready", figures: figures(), schemaFrom: store.schema.from, schemaTo: store.schema.to });

  port.on("message", (msg: ToWorker) => {
    if (msg.type === "close") {
      let error: string | undefined;
      try {
        store.close(); // checkpoint(TRUNCATE): the .db file alone is complete afterwards
      } catch (err) {
        error = message(err);
      }
      post({ type: "closed", figures: figures(), ...(error ? { error } : {}) });
      port.close(); // nothing else holds the event loop: the worker exits
      return;
    }
    const count = msg.samples.length;
    const t0 = performance.now();
    let written: number;
    let failed: number;
    let firstError: string | undefined;
    let ids: { seq: number; id: number }[];
    try {
      ({ written, failed, firstError, ids } = store.insertBatch(msg.samples));
    } catch (err) {
      post({ type: "batch-failed", count, message: message(err) });
      return;
    }
    const insertMs = performance.now() - t0;
    samples += written;
    // Checking the size is three PRAGMAs, so it runs after every batch; deleting only happens
    // when over the limit, and then goes down to 90% so it does not run again for a while.
    let retentionDeleted = 0;
    let retentionError: string | undefined;
    try {
      retentionDeleted = store.enforceRetention(config.maxBytes);
      if (retentionDeleted > 0) samples = store.count();
    } catch (err) {
      retentionError = message(err);
    }
    post({
      type: "written",
      count,
      written,
      failed,
      ids,
      retentionDeleted,
      insertMs,
      figures: figures(),
      ...(firstError ? { firstError } : {}),
      ...(retentionError ? { retentionError } : {}),
    });
  });
}

if (!parentPort) throw new Error("store-worker.ts must run as a worker thread (started by SampleWriter)");
serve(parentPort, workerData as WorkerConfig);

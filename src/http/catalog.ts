// Main-thread side of the catalog worker: each call is a message and a promise, so the labeling
// page's SQLite work never runs on the thread that decides frames. A worker that dies (an
// uncaught error, a native fault in its connection) answers what it held with "unavailable",
// is logged, and is started again with a growing delay; inspection never notices.
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { RestartBackoff } from "../camera/restart-backoff.js";
import { workerStarted } from "../worker-started.js";
import { workerScriptUrl } from "../worker-url.js";
import type { CatalogRequest, CatalogResponse, CatalogResults } from "./catalog-protocol.js";

type Op = Exclude<CatalogRequest["op"], "close">;
type ArgsOf<O extends Op> = Omit<Extract<CatalogRequest, { op: O }>, "id" | "op">;

/** The catalog cannot answer now (its worker died and is being restarted). */
export class CatalogUnavailableError extends Error {
  constructor(
    message: string,
    /** When to try again, in seconds. */
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

export interface CatalogStats {
  state: "up" | "restarting" | "closed";
  /** Times the worker died and was started again. */
  restarts: number;
  lastError: string | null;
}

/** 0.5 s doubling to 30 s; a worker that lived a minute forgets earlier deaths. */
const BACKOFF = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

export class Catalog {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private worker: Worker | null = null;
  private state: CatalogStats["state"] = "up";
  private restarts = 0;
  private lastError: string | null = null;
  private startedAt = Date.now();
  private retryAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly backoff = new RestartBackoff(BACKOFF);

  private constructor(
    private readonly path: string,
    private readonly goodLabel: string,
    private readonly log: Logger,
    worker: Worker,
  ) {
    this.adopt(worker);
  }

  /** Starts the worker on an existing database (the sample writer creates and migrates it first). */
  static async open(path: string, goodLabel: string, logger: Logger): Promise<Catalog> {
    const worker = await startWorker(path, goodLabel);
    return new Catalog(path, goodLabel, logger.child({ component: "catalog" }), worker);
  }

  stats(): CatalogStats {
    return { state: this.state, restarts: this.restarts, lastError: this.lastError };
  }

  call<O extends Op>(op: O, args: ArgsOf<O>): Promise<CatalogResults[O]> {
    const worker = this.worker;
    if (this.state === "closed") return Promise.reject(new Error("the sample catalog is closed"));
    if (this.state !== "up" || !worker) return Promise.reject(this.unavailable());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, op, ...args } as CatalogRequest);
    });
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.timer) clearTimeout(this.timer);
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    const exited = new Promise((r) => w.once("exit", r));
    w.postMessage({ id: -1, op: "close" } satisfies CatalogRequest);
    await exited;
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private unavailable(): CatalogUnavailableError {
    const s = Math.max(1, Math.ceil((this.retryAt - Date.now()) / 1000));
    return new CatalogUnavailableError(
      `the sample catalog stopped (${this.lastError ?? "unknown reason"}) and is being restarted: try again in ${s} s`,
      s,
    );
  }

  private adopt(worker: Worker): void {
    this.worker = worker;
    this.state = "up";
    this.startedAt = Date.now();
    worker.on("message", (res: CatalogResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(new Error(res.error));
    });
    // Without a listener an uncaught error in the worker would be an unhandled 'error' event
    // and stop the whole daemon; here it only stops the labeling page for a moment.
    worker.on("error", (err) => {
      this.lastError = err.message;
      this.log.error({ err: err.message }, "sample catalog worker failed");
    });
    worker.on("exit", (code) => this.exited(worker, code));
    worker.unref();
  }

  private exited(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = null;
    if (this.state === "closed") {
      this.failPending(new Error("the sample catalog is closed"));
      return;
    }
    this.lastError ??= `worker exited with code ${code}`;
    this.backoff.streamedFor(Date.now() - this.startedAt);
    this.scheduleRestart();
    this.failPending(this.unavailable());
  }

  private scheduleRestart(): void {
    const delay = this.backoff.next();
    this.state = "restarting";
    this.retryAt = Date.now() + delay;
    this.log.warn(
      { reason: this.lastError, retryInMs: delay },
      "sample catalog stopped; labeling page unavailable until it restarts",
    );
    this.timer = setTimeout(() => void this.restart(), delay);
    this.timer.unref();
  }

  private async restart(): Promise<void> {
    this.timer = null;
    if (this.state === "closed") return;
    try {
      const worker = await startWorker(this.path, this.goodLabel);
      // close() may have run while it started.
      if (this.isClosed()) {
        await worker.terminate();
        return;
      }
      this.restarts++;
      this.adopt(worker);
      this.log.info({ restarts: this.restarts }, "sample catalog restarted");
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.scheduleRestart();
    }
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** A worker that has opened the database and said so; rejects if it fails before that. */
async function startWorker(path: string, goodLabel: string): Promise<Worker> {
  const worker = new Worker(workerScriptUrl("http/catalog-worker.js", import.meta.url), {
    workerData: { path, goodLabel },
  });
  await workerStarted<CatalogResponse, void>(worker, {
    settle: (m) => (m.id === 0 ? { value: undefined } : null),
    failed: (err) => err,
    exited: (code) => new Error(`the catalog worker exited with code ${code} while starting`),
  });
  return worker;
}

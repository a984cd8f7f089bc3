// Main-thread side of the catalog worker: each call is a message and a promise, so the labeling
// page's SQLite work never runs on the thread that decides frames.
import { Worker } from "node:worker_threads";
import { workerScriptUrl } from "../worker-url.js";
import type { CatalogRequest, CatalogResponse, CatalogResults } from "./catalog-protocol.js";

type Op = Exclude<CatalogRequest["op"], "close">;
type ArgsOf<O extends Op> = Omit<Extract<CatalogRequest, { op: O }>, "id" | "op">;

export class Catalog {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (res: CatalogResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(new Error(res.error));
    });
    worker.on("exit", () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error("the sample catalog stopped"));
      this.pending.clear();
    });
    worker.unref();
  }

  /** Starts the worker on an existing database (the sample writer creates and migrates it first). */
  static async open(path: string, goodLabel: string): Promise<Catalog> {
    const worker = new Worker(workerScriptUrl("http/catalog-worker.js", import.meta.url), {
      workerData: { path, goodLabel },
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: CatalogResponse) => {
        if (m.id === 0) {
          worker.off("error", reject);
          resolve();
        }
      };
      worker.once("message", onMessage);
      worker.once("error", reject);
    });
    return new Catalog(worker);
  }

  call<O extends Op>(op: O, args: ArgsOf<O>): Promise<CatalogResults[O]> {
    if (this.closed) return Promise.reject(new Error("the sample catalog is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, ...args } as CatalogRequest);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise((r) => this.worker.once("exit", r));
    this.worker.postMessage({ id: -1, op: "close" } satisfies CatalogRequest);
    await exited;
  }
}

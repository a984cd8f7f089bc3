// A JPEG of a frame, for the stored samples and the live view. An encoded frame is already one.
// A raw frame is converted in a worker thread: a whole frame's YUV -> RGB is milliseconds of
// JavaScript (tens at 1080p on a Pi), which would stall the thread that decides frames. Only
// the frames someone keeps or looks at are encoded, and a bounded number at a time. Samples go
// first and wait (up to a memory bound); live-view frames beyond a couple are refused, so a
// viewer can cost a skipped frame on its screen, never a stored sample.
import { Worker } from "node:worker_threads";
import { workerScriptUrl } from "../worker-url.js";
import type { Frame } from "./frame.js";
import type { RawLayout } from "./yuv420.js";

export interface JpegJob {
  id: number;
  data: Uint8Array;
  layout: RawLayout;
}

export interface JpegResult {
  id: number;
  jpeg?: Uint8Array;
  error?: string;
}

export interface FrameJpegOptions {
  quality: number;
  /** Live-view frames waiting or being encoded at most; more are refused (null) and counted. */
  maxViewPending: number;
  /** Raw bytes of samples waiting at most (memory bound); a sample beyond it is refused and counted. */
  maxSampleBytes: number;
  /** Jobs handed to the worker at once: enough to keep it busy, few so a sample never waits behind many views. */
  inWorker: number;
}

export const DEFAULT_FRAME_JPEG: FrameJpegOptions = {
  quality: 90,
  maxViewPending: 2,
  // 21 raw 1080p frames, 170 at 640x480: a burst of rejects waits, memory stays bounded.
  maxSampleBytes: 64 * 1024 * 1024,
  inWorker: 2,
};

/** Who wants the JPEG: a stored sample must not be lost, a live-view frame may be skipped. */
export type JpegUse = "sample" | "view";

interface Job {
  id: number;
  frame: Frame;
  layout: RawLayout;
  use: JpegUse;
  resolve(jpeg: Uint8Array | null): void;
}

export class FrameJpegEncoder {
  /** Samples refused: more than maxSampleBytes were waiting (each is a lost sample). */
  samplesRefused = 0;
  /** Live-view frames refused because maxViewPending were already waiting or encoding. */
  viewsRefused = 0;
  failed = 0;
  private worker: Worker | null = null;
  private closing = false;
  private nextId = 1;
  private readonly opts: FrameJpegOptions;
  /** Waiting on this thread, samples ahead of views: a viewer never delays a sample by more than the jobs already in the worker. */
  private readonly samples: Job[] = [];
  private readonly views: Job[] = [];
  private sampleBytes = 0;
  /** Handed to the worker, by id. */
  private readonly running = new Map<number, Job>();

  constructor(opts: Partial<FrameJpegOptions> = {}) {
    this.opts = { ...DEFAULT_FRAME_JPEG, ...opts };
  }

  /** The frame as JPEG (an encoded frame as it is), or null if it could not be encoded now. */
  jpeg(frame: Frame, use: JpegUse = "sample"): Promise<Uint8Array | null> {
    const layout = frame.raw;
    if (!layout) return Promise.resolve(frame.data);
    if (this.closing) {
      if (use === "sample") this.samplesRefused++;
      else this.viewsRefused++;
      return Promise.resolve(null);
    }
    if (use === "view" && this.viewsPending() >= this.opts.maxViewPending) {
      this.viewsRefused++;
      return Promise.resolve(null);
    }
    if (use === "sample" && this.sampleBytes + frame.data.byteLength > this.opts.maxSampleBytes) {
      this.samplesRefused++;
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      const job: Job = { id: this.nextId++, frame, layout, use, resolve };
      if (use === "sample") {
        this.samples.push(job);
        this.sampleBytes += frame.data.byteLength;
      } else this.views.push(job);
      this.pump();
    });
  }

  /** Waiting and in the worker, for health and tests. */
  stats(): { samplesWaiting: number; viewsWaiting: number; inWorker: number } {
    return { samplesWaiting: this.samples.length, viewsWaiting: this.views.length, inWorker: this.running.size };
  }

  /** Lets the frames already handed over finish (a stopping daemon keeps its last samples). */
  async close(timeoutMs = 2000): Promise<void> {
    this.closing = true;
    for (const job of this.views.splice(0)) job.resolve(null);
    const until = Date.now() + timeoutMs;
    while (this.running.size + this.samples.length > 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    this.settleAll();
  }

  private viewsPending(): number {
    let n = this.views.length;
    for (const job of this.running.values()) if (job.use === "view") n++;
    return n;
  }

  /** Hands waiting jobs to the worker, samples first. */
  private pump(): void {
    while (this.running.size < this.opts.inWorker) {
      const job = this.samples.shift() ?? this.views.shift();
      if (!job) return;
      if (job.use === "sample") this.sampleBytes -= job.frame.data.byteLength;
      this.running.set(job.id, job);
      // A copy: the frame's buffer stays with the pipeline (the live view may still hold it).
      this.start().postMessage({ id: job.id, data: job.frame.data, layout: job.layout } satisfies JpegJob);
    }
  }

  /** Started at the first raw frame: cameras sending JPEG never pay for the thread. */
  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerScriptUrl("camera/frame-jpeg-worker.js", import.meta.url), {
      workerData: { quality: this.opts.quality },
    });
    worker.on("message", (r: JpegResult) => {
      const job = this.running.get(r.id);
      if (!job) return;
      this.running.delete(r.id);
      if (!r.jpeg) this.failed++;
      job.resolve(r.jpeg ?? null);
      this.pump();
    });
    // A crashed worker fails what it held; the next job starts a new one.
    worker.on("error", () => {});
    worker.on("exit", () => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const job of this.running.values()) {
        this.failed++;
        job.resolve(null);
      }
      this.running.clear();
      if (!this.closing) this.pump();
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settleAll(): void {
    for (const job of [...this.running.values(), ...this.samples.splice(0), ...this.views.splice(0)]) {
      this.failed++;
      job.resolve(null);
    }
    this.running.clear();
    this.sampleBytes = 0;
  }
}

/** A frame's JPEG made once, on first use (the live view asks for few of the frames it holds). */
export function lazyJpeg(frame: Frame, encoder: FrameJpegEncoder): () => Promise<Uint8Array | null> {
  if (!frame.raw) {
    const data = frame.data;
    return () => Promise.resolve(data);
  }
  // The raw frame is let go once its (much smaller) JPEG exists.
  let source: Frame | null = frame;
  let made: Promise<Uint8Array | null> | null = null;
  return () => {
    if (!made && source) {
      made = encoder.jpeg(source, "view").then((jpeg) => {
        if (jpeg) source = null;
        else made = null; // refused while busy: a later request may succeed
        return jpeg;
      });
    }
    return made ?? Promise.resolve(null);
  };
}

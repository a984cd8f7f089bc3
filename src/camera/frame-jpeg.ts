// A JPEG of a frame, for the stored samples and the live view. An encoded frame is already one.
// A raw frame is converted in a worker thread: a whole frame's YUV -> RGB is milliseconds of
// JavaScript (tens at 1080p on a Pi), which would stall the thread that decides frames. Only
// the frames someone keeps or looks at are encoded, and a bounded number at a time.
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
  /** Raw frames waiting for the worker at most; more are refused (null) and counted. */
  maxPending: number;
}

export class FrameJpegEncoder {
  /** Raw frames refused because the worker was busy with maxPending others. */
  refused = 0;
  failed = 0;
  private worker: Worker | null = null;
  private closing = false;
  private nextId = 1;
  private readonly pending = new Map<number, (jpeg: Uint8Array | null) => void>();

  constructor(private readonly opts: FrameJpegOptions = { quality: 90, maxPending: 8 }) {}

  /** The frame as JPEG (an encoded frame as it is), or null if it could not be encoded now. */
  jpeg(frame: Frame): Promise<Uint8Array | null> {
    const layout = frame.raw;
    if (!layout) return Promise.resolve(frame.data);
    if (this.closing || this.pending.size >= this.opts.maxPending) {
      this.refused++;
      return Promise.resolve(null);
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      // A copy: the frame's buffer stays with the pipeline (the live view may still hold it).
      this.start().postMessage({ id, data: frame.data, layout } satisfies JpegJob);
    });
  }

  /** Lets the frames already handed over finish (a stopping daemon keeps its last samples). */
  async close(timeoutMs = 2000): Promise<void> {
    this.closing = true;
    const until = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    this.settleAll();
  }

  /** Started at the first raw frame: cameras sending JPEG never pay for the thread. */
  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerScriptUrl("camera/frame-jpeg-worker.js", import.meta.url), {
      workerData: { quality: this.opts.quality },
    });
    worker.on("message", (r: JpegResult) => {
      const resolve = this.pending.get(r.id);
      if (!resolve) return;
      this.pending.delete(r.id);
      if (!r.jpeg) this.failed++;
      resolve(r.jpeg ?? null);
    });
    // A crashed worker fails what it held; the next frame starts a new one.
    worker.on("error", () => {});
    worker.on("exit", () => {
      if (this.worker === worker) this.worker = null;
      this.settleAll();
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settleAll(): void {
    for (const resolve of this.pending.values()) {
      this.failed++;
      resolve(null);
    }
    this.pending.clear();
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
      made = encoder.jpeg(source).then((jpeg) => {
        if (jpeg) source = null;
        else made = null; // refused while busy: a later request may succeed
        return jpeg;
      });
    }
    return made ?? Promise.resolve(null);
  };
}

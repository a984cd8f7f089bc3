import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { UserFacingError } from "../errors.js";
import { applyDrift, type DriftInjection, driftStrength } from "./drift-injection.js";
import type { FrameSlot } from "./frame-slot.js";
import { InProcessSource } from "./in-process-source.js";
import type { CameraSource } from "./source.js";

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png"]);

export interface ReplayOptions {
  path: string;
  fps: number;
  loop: boolean;
  /** A simulated change of the line from some frame on (demos and tests of drift detection). */
  drift?: DriftInjection | null;
}

export class ReplaySourceError extends UserFacingError {}

export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new ReplaySourceError(
      `camera.replay.path ${dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const images = names.filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  if (images.length === 0) {
    throw new ReplaySourceError(`camera.replay.path ${dir} has no .jpg/.jpeg/.png images`);
  }
  return images;
}

export class ReplaySource extends InProcessSource implements CameraSource {
  readonly kind = "replay";
  private files: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: ReplayOptions) {
    super();
  }

  async start(slot: FrameSlot): Promise<void> {
    this.files = await listImages(this.opts.path);
    this.stopped = false;
    this.setState("starting", `replaying ${this.files.length} images from ${this.opts.path} at ${this.opts.fps} fps`);
    const period = 1000 / this.opts.fps;
    const t0 = performance.now();
    let index = 0;
    let ticks = 0;
    // Each tick is scheduled against the start time, so the rate does not drift with timer jitter.
    const tick = async () => {
      if (this.stopped) return;
      if (index >= this.files.length) {
        if (!this.opts.loop) {
          this.setState("stopped", "end of footage");
          this.emit("end");
          return;
        }
        index = 0;
      }
      const name = this.files[index++] as string;
      try {
        let data: Buffer = await readFile(join(this.opts.path, name));
        const drift = this.opts.drift;
        const strength = drift ? driftStrength(drift, this.frames) : 0;
        // A frame sharp cannot read goes through as it is: the pipeline counts it as corrupt.
        if (drift && strength > 0) data = await applyDrift(data, drift, strength).catch(() => data);
        if (this.stopped) return;
        slot.put({ seq: this.frames++, data, capturedAt: Date.now(), capturedMono: performance.now(), origin: name });
        if (this.state !== "streaming") this.setState("streaming", "frames arriving");
      } catch (err) {
        this.setState("failed", `cannot read ${name}: ${(err as Error).message}`);
      }
      const next = t0 + ++ticks * period;
      this.timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.setState("stopped", "stopped");
  }
}

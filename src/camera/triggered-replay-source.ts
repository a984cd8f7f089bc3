import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseCsv } from "../dataset/csv.js";
import type { FrameSlot } from "./frame-slot.js";
import { InProcessSource } from "./in-process-source.js";
import { listImages } from "./replay-source.js";
import type { CameraSource } from "./source.js";

export interface FootageFrame {
  file: string;
  /** From labels.csv's `label` column; null without one. */
  label: string | null;
  data: Buffer;
}

/** `file,label,...` rows of the footage's labels.csv, if it has one (pure). */
export function footageLabels(csv: string | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!csv) return out;
  const [head, ...rows] = parseCsv(csv);
  const fi = head?.indexOf("file") ?? -1;
  const li = head?.indexOf("label") ?? -1;
  if (fi < 0 || li < 0) return out;
  for (const r of rows) if (r[fi] && r[li]) out.set(r[fi] as string, r[li] as string);
  return out;
}

export class TriggeredReplaySource extends InProcessSource implements CameraSource {
  readonly kind = "replay-triggered";
  footage: FootageFrame[] = [];
  private slot: FrameSlot | null = null;

  constructor(private readonly path: string) {
    super();
  }

  async start(slot: FrameSlot): Promise<void> {
    const files = await listImages(this.path);
    const labels = footageLabels(await readFile(join(this.path, "labels.csv"), "utf8").catch(() => null));
    // Held in memory: a trigger must not wait for a disk.
    this.footage = await Promise.all(
      files.map(async (file) => ({
        file,
        label: labels.get(file) ?? null,
        data: await readFile(join(this.path, file)),
      })),
    );
    this.slot = slot;
    this.setState("streaming", `triggered by the simulated line, ${files.length} frames from ${this.path}`);
  }

  /**
   * Delivers footage frame `index` (wrapping), taken at `takenMono` (performance.now() clock; default
   * now): a hardware-triggered camera stamps the exposure, however late its frame is read.
   */
  capture(index: number, takenMono = performance.now()): void {
    const f = this.footage[index % this.footage.length];
    if (!this.slot || !f) return;
    this.slot.put({
      seq: this.frames++,
      data: f.data,
      capturedAt: Date.now() - (performance.now() - takenMono),
      capturedMono: takenMono,
      origin: f.file,
    });
  }

  async stop(): Promise<void> {
    this.slot = null;
    this.setState("stopped", "stopped");
  }
}

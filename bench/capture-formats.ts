// MJPEG or raw yuv420 from the capture program: which is cheaper end to end? First the raw
// splitter's own cost; then each run starts a
// real capture process through ProcessSource (as the daemon does) and preprocesses every frame
// for the shipped model, then reports per frame:
//   - CPU of the capture process (its JPEG encode, or none) and of linesight (split, decode or
//     YUV -> RGB, resize; all threads), from /proc and process.cpuUsage();
//   - latency from the frame leaving the capture process to the model's input being ready
//     (inference is the same work either way and is left out).
//
//   node dist/bench/capture-formats.js [--seconds 15] [--sizes 640x480,1280x720]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createCameraSource } from "../src/camera/create-source.js";
import { FrameSlot } from "../src/camera/frame-slot.js";
import type { ProcessSource } from "../src/camera/process-source.js";
import { RawSplitter } from "../src/camera/raw-splitter.js";
import { yuv420Bytes } from "../src/camera/yuv420.js";
import { parseConfig } from "../src/config/load.js";
import { readManifest } from "../src/model/model-file.js";
import { Preprocessor } from "../src/model/preprocess.js";
import { packageRoot } from "../src/package-info.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    sizes: { type: "string", default: "640x480,1280x720" },
    fps: { type: "string", default: "30" },
  },
});
const seconds = Number(values.seconds);
const fps = Number(values.fps);
const spec = (await readManifest(join(packageRoot, "models", "round-parts"))).input;
const TICK_MS = 10; // USER_HZ = 100 on Linux

/** utime + stime of a process, in ms. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

interface Result {
  source: string;
  format: string;
  size: string;
  frames: number;
  dropped: number;
  captureCpuMs: number;
  linesightCpuMs: number;
  latency: number[];
}

async function run(source: "ffmpeg" | "gstreamer", format: "mjpeg" | "yuv420", w: number, h: number): Promise<Result> {
  // A moving, noisy picture: JPEG sizes and encode times like a camera's, not a flat test card.
  const section =
    source === "ffmpeg"
      ? { ffmpeg: { input: "lavfi", pattern: "testsrc2", width: w, height: h, fps, format } }
      : { gstreamer: { element: "videotestsrc", pattern: "ball", width: w, height: h, fps, format } };
  const { config } = parseConfig({ device: { id: "bench" }, camera: { source, ...section } }, "bench", packageRoot);
  const camera = createCameraSource(config.camera) as ProcessSource;
  const slot = new FrameSlot();
  const pre = new Preprocessor(spec);
  await camera.start(slot);
  const latency: number[] = [];
  let frames = 0;
  let measuring = false;
  const loop = (async () => {
    for (;;) {
      const frame = await slot.take();
      if (!frame) return;
      await pre.run(frame.data, frame.raw);
      if (measuring) {
        latency.push(performance.now() - frame.capturedMono);
        frames++;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 3000)); // warm-up: process start, first frames
  const pid = camera.pid as number;
  const cap0 = processCpuMs(pid);
  const own0 = process.cpuUsage();
  const dropped0 = slot.dropped;
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const captureCpuMs = processCpuMs(pid) - cap0;
  const own = process.cpuUsage(own0);
  const dropped = slot.dropped - dropped0;
  await camera.stop();
  slot.close();
  await loop;
  return {
    source,
    format,
    size: `${w}x${h}`,
    frames,
    dropped,
    captureCpuMs,
    linesightCpuMs: (own.user + own.system) / 1000,
    latency,
  };
}

const f2 = (x: number) => x.toFixed(2);

// The raw splitter alone: 640x480 I420 frames cut from 64 KB reads (one copy per frame).
{
  const frameBytes = yuv420Bytes(640, 480);
  const stream = Buffer.alloc(frameBytes * 50, 0x80);
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
  const splitter = new RawSplitter(frameBytes);
  let frames = 0;
  const t0 = performance.now();
  for (let round = 0; round < 40; round++) for (const c of chunks) frames += splitter.feed(c).length;
  const ms = performance.now() - t0;
  console.log(`\n# Raw splitter: ${frames} frames of 640x480 I420 from 64 KB reads`);
  console.log(`${f2(ms / frames)} ms per frame, ${Math.round(frames / (ms / 1000))} frames/s`);
}

console.log(`\n# Capture format: MJPEG vs raw yuv420 (${seconds} s each at ${fps} fps; model input 160x120)\n`);
console.log(
  "| source | size | format | frames | dropped | capture CPU / frame | linesight CPU / frame | total CPU / frame | latency p50 | p95 |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const size of (values.sizes as string).split(",")) {
  const [w, h] = size.split("x").map(Number) as [number, number];
  for (const source of ["ffmpeg", "gstreamer"] as const) {
    for (const format of ["mjpeg", "yuv420"] as const) {
      const r = await run(source, format, w, h);
      const per = (ms: number) => `${f2(ms / Math.max(1, r.frames))} ms`;
      console.log(
        `| ${r.source} | ${r.size} | ${r.format} | ${r.frames} | ${r.dropped} | ${per(r.captureCpuMs)} | ` +
          `${per(r.linesightCpuMs)} | ${per(r.captureCpuMs + r.linesightCpuMs)} | ` +
          `${f2(percentile(r.latency, 0.5))} ms | ${f2(percentile(r.latency, 0.95))} ms |`,
      );
    }
  }
}

// What capture costs: the MJPEG splitter's throughput on real 640x480 frames (made by ffmpeg),
// and the latency from a frame's last byte on the pipe to the FrameSlot through ProcessSource at
// 30 fps, with real processes:
//   - ffmpeg's test source: read → FrameSlot (in this process), and the spacing of arrivals
//     (frames arriving in bursts would mean the capture process buffers its output);
//   - a writer that stamps each frame with CLOCK_MONOTONIC (a JPEG COM segment) just before
//     writing it: write → pipe → read → split → FrameSlot, i.e. what the pipe and the event loop
//     add (ffmpeg cannot carry such a stamp through its encoder).
//
//   node dist/bench/mjpeg-splitter.js [--seconds 15]
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { type CaptureCommand, ffmpegCommand } from "../src/camera/commands.js";
import type { Frame } from "../src/camera/frame.js";
import { FrameSlot } from "../src/camera/frame-slot.js";
import { MjpegSplitter } from "../src/camera/mjpeg-splitter.js";
import { ProcessSource } from "../src/camera/process-source.js";
import { parseConfig } from "../src/config/load.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" } } });
const seconds = Number(values.seconds);

// 1. Real frames: ffmpeg's moving test picture with sensor-like noise, 640x480, quality 5.
const stream = execFileSync(
  "ffmpeg",
  [
    ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30"],
    ...["-vf", "noise=alls=12:allf=t", "-frames:v", "300", "-c:v", "mjpeg", "-q:v", "5", "-f", "mjpeg", "-"],
  ],
  { maxBuffer: 256 * 1024 * 1024 },
);
const frameCount = new MjpegSplitter().feed(stream).length;
const frameKb = stream.length / frameCount / 1024;

function throughput(chunkBytes: number): { fps: number; mbps: number } {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunkBytes) chunks.push(stream.subarray(i, i + chunkBytes));
  const rounds = Math.max(3, Math.ceil((200 * 1024 * 1024) / stream.length));
  let frames = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const s = new MjpegSplitter();
    for (const c of chunks) frames += s.feed(c).length;
  }
  const sec = (performance.now() - t0) / 1000;
  return { fps: frames / sec, mbps: (rounds * stream.length) / sec / 1024 / 1024 };
}
throughput(65536); // warm up
const t64 = throughput(65536);
const t4 = throughput(4096);

// 2. Latency through ProcessSource with a real process.
interface Capture {
  /** read → FrameSlot, ms */
  inProcess: number[];
  /** writer's stamp → FrameSlot, ms (stamped writers only) */
  fromWrite: number[];
  /** between consecutive arrivals, ms */
  spacing: number[];
  corrupt: number;
}

async function capture(command: CaptureCommand, stamped: boolean): Promise<Capture> {
  const slot = new FrameSlot();
  const out: Capture = { inProcess: [], fromWrite: [], spacing: [], corrupt: 0 };
  let last = 0;
  const put = slot.put.bind(slot);
  slot.put = (f: Frame) => {
    put(f);
    const inSlot = process.hrtime.bigint();
    out.inProcess.push(performance.now() - f.capturedMono);
    if (last) out.spacing.push(f.capturedMono - last);
    last = f.capturedMono;
    const stamp = stamped ? readStamp(f.data) : null;
    if (stamp !== null) out.fromWrite.push(Number(inSlot - stamp) / 1e6);
  };
  const source = new ProcessSource({
    kind: "bench",
    command: () => command,
    splitter: () => new MjpegSplitter(),
    stallTimeoutMs: 10_000,
  });
  await source.start(slot);
  // Let the process settle (ffmpeg probes its input) before counting.
  await new Promise((r) => setTimeout(r, 2000));
  out.inProcess.length = 0;
  out.fromWrite.length = 0;
  out.spacing.length = 0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await source.stop();
  slot.close();
  out.corrupt = source.stats().corrupt;
  return out;
}

/** The CLOCK_MONOTONIC stamp (ns) in a "linesight-stamp " COM segment right after SOI. */
function readStamp(jpeg: Buffer): bigint | null {
  if (jpeg[2] !== 0xff || jpeg[3] !== 0xfe) return null;
  const len = ((jpeg[4] as number) << 8) | (jpeg[5] as number);
  const text = jpeg.subarray(6, 4 + len).toString();
  return text.startsWith("linesight-stamp ") ? BigInt(text.slice(16)) : null;
}

// The stamping writer: the frames from step 1 at 30 fps, each stamped just before its write.
const dir = mkdtempSync(join(tmpdir(), "linesight-bench-capture-"));
const framesFile = join(dir, "frames.mjpeg");
writeFileSync(framesFile, stream);
const writer = join(dir, "writer.mjs");
writeFileSync(
  writer,
  `import { readFileSync } from "node:fs";
const data = readFileSync(${JSON.stringify(framesFile)});
const frames = [];
for (let i = 0; ; ) {
  const s = data.indexOf(Buffer.from([0xff, 0xd8]), i);
  const e = s < 0 ? -1 : data.indexOf(Buffer.from([0xff, 0xd9]), s);
  if (e < 0) break;
  frames.push(data.subarray(s, e + 2));
  i = e + 2;
}
let n = 0;
const t0 = performance.now();
const tick = () => {
  const f = frames[n % frames.length];
  const stamp = Buffer.from("linesight-stamp " + process.hrtime.bigint());
  const com = Buffer.from([0xff, 0xfe, (stamp.length + 2) >> 8, (stamp.length + 2) & 0xff]);
  process.stdout.write(Buffer.concat([f.subarray(0, 2), com, stamp, f.subarray(2)]));
  n++;
  setTimeout(tick, Math.max(0, t0 + (n * 1000) / 30 - performance.now()));
};
tick();
`,
);

const lavfi = ffmpegCommand(
  parseConfig(
    {
      device: { id: "bench" },
      camera: { ffmpeg: { input: "lavfi", pattern: "testsrc2", width: 640, height: 480, fps: 30 } },
    },
    "bench",
    "/",
  ).config.camera.ffmpeg,
);
const viaFfmpeg = await capture(lavfi, false);
const direct = await capture({ bin: process.execPath, args: [writer] }, true);
rmSync(dir, { recursive: true, force: true });

const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${[0.5, 0.95, 0.99].map((q) => percentile(xs, q).toFixed(3)).join(" | ")} | ${Math.max(...xs).toFixed(3)} |`;

console.log(`# capture benchmark: node ${process.version} ${process.arch}, ${seconds} s per latency run\n`);
console.log(
  `MJPEG splitter on ${frameCount} real 640x480 frames (ffmpeg testsrc2 + noise, -q:v 5, ${frameKb.toFixed(1)} KB each):\n`,
);
console.log("| reads of | frames/s | MB/s |");
console.log("|---|---|---|");
console.log(`| 64 KB | ${Math.round(t64.fps)} | ${Math.round(t64.mbps)} |`);
console.log(`| 4 KB | ${Math.round(t4.fps)} | ${Math.round(t4.mbps)} |`);
console.log("\nCapture latency at 30 fps, 640x480, through ProcessSource (ms):\n");
console.log("| path | frames | p50 | p95 | p99 | max |");
console.log("|---|---|---|---|---|---|");
console.log(row("ffmpeg lavfi: last byte read → FrameSlot", viaFfmpeg.inProcess));
console.log(row("ffmpeg lavfi: interval between arrivals (33.3 expected)", viaFfmpeg.spacing));
console.log(row("stamped writer: write → pipe → FrameSlot", direct.fromWrite));
console.log(`\ncorrupt frames: ffmpeg ${viaFfmpeg.corrupt}, stamped writer ${direct.corrupt}`);

// Preprocessing against its floor (issue 18), every ratio from one run:
//   1. per frame, in this process: the sharp path (the model's resize as "lanczos3"), the native
//      "turbo-dct-box" path (as the Preprocessor calls it: inline up to 720p, else on libuv's
//      pool; and the same call always on the pool), and the floor: libjpeg-turbo's DCT-scaled
//      decode alone of the same frames (native/jpeg-tensor's decodeScaled). Footage (320x240 JPEG), 1280x720 MJPEG and
//      1280x720 raw I420 frames (ffmpeg's testsrc2). Plus session.run on the tensor.
//   2. the daemon as a process at --fps with the shipped model as "lanczos3" and as
//      "turbo-dct-box" (the same model file, only the manifest's kernel differs): end-to-end
//      p50 from its health reports, and CPU per decided frame from /proc.
//
//   node dist/bench/preprocess-floor.js [--seconds 30] [--fps 30] [--rounds 400]
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { RawLayout } from "../src/camera/yuv420.js";
import { jpegTensorAddon } from "../src/model/jpeg-tensor-addon.js";
import type { InputSpec } from "../src/model/manifest.js";
import { Preprocessor } from "../src/model/preprocess.js";
import { nativeParams } from "../src/model/preprocess-native.js";
import { ModelSession } from "../src/model/session.js";
import { packageRoot } from "../src/package-info.js";
import { startDaemon } from "./daemon-process.js";
import { median, writeReplayConfig } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    fps: { type: "string", default: "30" },
    rounds: { type: "string", default: "400" },
    port: { type: "string", default: "18941" },
  },
});
const seconds = Number(values.seconds);
const fps = Number(values.fps);
const rounds = Number(values.rounds);
const shipped = join(packageRoot, "models", "round-parts");
const footage = join(packageRoot, "footage", "round-parts");
const manifest = JSON.parse(readFileSync(join(shipped, "manifest.json"), "utf8")) as { input: InputSpec };
const withKernel = (kernel: InputSpec["resize"]["kernel"]): InputSpec => ({
  ...manifest.input,
  resize: { ...manifest.input.resize, kernel },
});
const OLD = withKernel("lanczos3");
const NEW = withKernel("turbo-dct-box");
const addon = jpegTensorAddon();

/** p50 of `rounds` calls of `fn` over `frames` in turn (after one warm-up pass). */
async function p50(frames: Buffer[], fn: (f: Buffer) => unknown): Promise<number> {
  for (const f of frames) await fn(f);
  const t: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const f = frames[i % frames.length] as Buffer;
    const s = performance.now();
    await fn(f);
    t.push(performance.now() - s);
  }
  return median(t);
}

function ffmpegFrames(format: "mjpeg" | "yuv420p", n: number): Buffer[] {
  const codec = format === "mjpeg" ? ["-c:v", "mjpeg", "-q:v", "4", "-f", "image2pipe"] : ["-f", "rawvideo"];
  const out = execFileSync(
    "ffmpeg",
    [
      ...["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-frames:v", String(n)],
      ...["-pix_fmt", format === "mjpeg" ? "yuvj420p" : "yuv420p", ...codec, "-"],
    ],
    { maxBuffer: 1 << 28 },
  );
  if (format === "yuv420p") {
    const size = 1280 * 720 * 1.5;
    return Array.from({ length: n }, (_, i) => out.subarray(i * size, (i + 1) * size));
  }
  const frames: Buffer[] = [];
  for (let s = 0; s < out.length; ) {
    const e = out.indexOf(Buffer.from([0xff, 0xd9]), s);
    frames.push(out.subarray(s, e + 2));
    s = e + 2;
  }
  return frames;
}

const footageFrames = readdirSync(footage)
  .filter((f) => f.endsWith(".jpg"))
  .map((f) => readFileSync(join(footage, f)));
const raw: RawLayout = { format: "yuv420p", width: 1280, height: 720, colour: { matrix: "bt601", range: "limited" } };
const sets: { name: string; frames: Buffer[]; raw?: RawLayout }[] = [
  { name: "footage 320x240 JPEG", frames: footageFrames },
  { name: "1280x720 MJPEG", frames: ffmpegFrames("mjpeg", 30) },
  { name: "1280x720 raw I420", frames: ffmpegFrames("yuv420p", 30), raw },
];

console.log(`# preprocess against the floor: ${rounds} calls per figure, node ${process.version} ${process.arch}`);
const session = await ModelSession.load(shipped, { threads: 1 });
const { width: W, height: H } = new Preprocessor(NEW);
const tensor = new Float32Array(W * H * 3);
const rgb = new Uint8Array(W * H * 3);
const features = new Float64Array(6);
const params = nativeParams(NEW);
const rawParams = nativeParams(NEW, undefined, raw);
let runP50 = 0;
let footageFloor = 0;
console.log(
  "| frames | sharp (lanczos3) | turbo-dct-box, as the daemon calls it | same, on the pool | floor: scaled decode | daemon's call / floor | sharp / daemon's call |",
);
console.log("|---|---|---|---|---|---|---|");
for (const set of sets) {
  const oldPre = new Preprocessor(OLD);
  const newPre = new Preprocessor(NEW);
  const old = await p50(set.frames, (f) => oldPre.run(f, set.raw));
  // As the daemon calls it: the buffers go back once the frame is done with.
  const fast = await p50(set.frames, async (f) => (await newPre.run(f, set.raw)).share?.release());
  const pool = await p50(set.frames, (f) =>
    set.raw ? addon.i420(f, 1280, 720, rawParams, tensor, rgb, features) : addon.jpeg(f, params, tensor, rgb, features),
  );
  const floor = set.raw ? Number.NaN : await p50(set.frames, (f) => addon.decodeScaled(f, W, H));
  if (set === sets[0]) {
    footageFloor = floor;
    const real = (await newPre.run(set.frames[0] as Buffer)).tensor; // a real frame's tensor
    runP50 = await p50(set.frames, () => session.run(real));
  }
  const f3 = (x: number) => (Number.isNaN(x) ? "n/a" : `${x.toFixed(3)} ms`);
  console.log(
    `| ${set.name} | ${f3(old)} | ${f3(fast)} | ${f3(pool)} | ${f3(floor)} | ${Number.isNaN(floor) ? "n/a" : `${(fast / floor).toFixed(2)}x`} | ${(old / fast).toFixed(1)}x |`,
  );
}
// The same floor at the daemon's cadence: one frame every 1000/fps ms, so caches and clocks are
// as cold between frames as they are for the daemon (back to back they are always warm).
const paced: number[] = [];
const pacedDecode: number[] = [];
{
  const frames = sets[0]?.frames as Buffer[];
  const real = new Float32Array(W * H * 3);
  for (let i = 0; i < Math.min(rounds, seconds * fps); i++) {
    await new Promise((r) => setTimeout(r, 1000 / fps));
    const s = performance.now();
    addon.decodeScaled(frames[i % frames.length] as Buffer, W, H);
    pacedDecode.push(performance.now() - s);
    await session.run(real);
    paced.push(performance.now() - s);
  }
}
const pacedFloor = median(paced);
// Why the two floors differ: session.run alone after a busy wait (the CPU never idles) of a
// growing gap. On this VM it doubles once the gap passes a few ms, idle or not.
const afterGap: string[] = [];
{
  const real = new Float32Array(W * H * 3);
  for (const gap of [0.5, 2, 5, 33]) {
    const t: number[] = [];
    for (let i = 0; i < 150; i++) {
      const until = performance.now() + gap;
      while (performance.now() < until) {}
      const s = performance.now();
      await session.run(real);
      t.push(performance.now() - s);
    }
    afterGap.push(`${gap} ms: ${median(t).toFixed(3)}`);
  }
}
await session.release();
console.log(
  `session.run p50 (1 thread) ${runP50.toFixed(3)} ms; floor decode + session.run ${(footageFloor + runP50).toFixed(3)} ms back to back, ` +
    `${pacedFloor.toFixed(3)} ms at ${fps} fps (decode ${median(pacedDecode).toFixed(3)} ms of it)`,
);
console.log(`session.run p50 after a busy gap of ${afterGap.join(" ms, ")} ms`);

// 2. The daemon, once per kernel, one after the other on the same footage.
const CLK_TCK = 100;
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Health {
  latency_ms: Record<string, { p50: number }>;
  fps_out: number;
}

async function daemon(spec: InputSpec): Promise<{ e2e: number; cpuPerFrame: number; fps: number; stages: string }> {
  const dir = mkdtempSync(join(tmpdir(), "linesight-floor-"));
  const model = join(dir, "model");
  cpSync(shipped, model, { recursive: true });
  const m = JSON.parse(readFileSync(join(model, "manifest.json"), "utf8"));
  m.input = spec;
  writeFileSync(join(model, "manifest.json"), JSON.stringify(m));
  const config = writeReplayConfig(dir, { footage, fps, model, port: values.port as string });
  const { child, healths } = startDaemon<Health>(config);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (healths.length < 1) await sleep(100); // started and deciding
  const pid = child.pid as number;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const first = healths.length;
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  const steady = healths.slice(first);
  const decidedFps = median(steady.map((h) => h.fps_out));
  const last = steady.at(-1)?.latency_ms ?? {};
  return {
    e2e: median(steady.map((h) => h.latency_ms.end_to_end?.p50 ?? 0)),
    cpuPerFrame: (cpu * 1000) / (decidedFps * elapsed),
    fps: decidedFps,
    stages: Object.entries(last)
      .map(([k, v]) => `${k} ${v.p50}`)
      .join(", "),
  };
}

console.log(`\n# the daemon at ${fps} fps, ${seconds} s per kernel (replayed footage, embedded broker, SQLite)`);
const before = await daemon(OLD);
const after = await daemon(NEW);
for (const [name, r] of [
  ["lanczos3 (sharp)", before],
  ["turbo-dct-box", after],
] as const) {
  console.log(
    `${name}: end-to-end p50 ${r.e2e.toFixed(3)} ms = ${(r.e2e / (footageFloor + runP50)).toFixed(2)}x (floor decode + session.run, back to back), ` +
      `${(r.e2e / pacedFloor).toFixed(2)}x (the same at ${fps} fps), ` +
      `CPU ${r.cpuPerFrame.toFixed(2)} ms/frame at ${r.fps.toFixed(1)} fps; stage p50s ${r.stages}`,
  );
}
console.log(`CPU per frame: turbo-dct-box / sharp = ${(after.cpuPerFrame / before.cpuPerFrame).toFixed(2)}`);

// Shadow mode's cost to the active decision, measured where a shared, noisy machine hurts least:
// one process, the real pipeline (sharp, onnxruntime, the sample writer's worker), frames put at
// --fps as the replay camera does, and the candidate switched on and off every --block seconds,
// so both conditions see the same background load. Each decided frame's camera-to-decision
// latency is counted for the condition it was decided in (the frame at a switch is left out).
//
//   node dist/bench/shadow-ab.js [--seconds 240] [--block 5] [--fps 30]
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pino from "pino";
import { FrameJpegEncoder } from "../src/camera/frame-jpeg.js";
import { FrameSlot } from "../src/camera/frame-slot.js";
import { listImages } from "../src/camera/replay-source.js";
import { driftSchema, storageSchema } from "../src/config/schema.js";
import { packageRoot } from "../src/package-info.js";
import { modelShadow } from "../src/parts/model-shadow.js";
import type { DaemonEvents, Part } from "../src/parts/part.js";
import { sampleKeeper } from "../src/parts/sample-keeper.js";
import { ActiveModel, type ActiveModelOptions } from "../src/pipeline/active-model.js";
import { EventBus } from "../src/pipeline/event-bus.js";
import { Pipeline } from "../src/pipeline/pipeline.js";
import { SnapshotRequests } from "../src/pipeline/snapshot-requests.js";
import { SampleWriter } from "../src/store/sample-writer.js";
import { writeCandidateModel } from "./candidate-model.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "240" },
    block: { type: "string", default: "5" },
    fps: { type: "string", default: "30" },
  },
});
const seconds = Number(values.seconds);
const blockMs = Number(values.block) * 1000;
const fps = Number(values.fps);
const model = join(packageRoot, "models/round-parts");
const footage = join(packageRoot, "footage/round-parts");
const dir = mkdtempSync(join(tmpdir(), "linesight-bench-shadow-ab-"));
const logger = pino({ level: "warn" });
const candidateDir = writeCandidateModel(model, join(dir, "candidate"), {
  version: "1.1.0",
  threshold: 0.005,
  uncertainBand: 0,
  note: "shadow A/B benchmark candidate",
});
const options: ActiveModelOptions = {
  threads: 1,
  decision: { threshold: null, uncertainBand: null, uncertainAction: "reject" },
  drift: { prevalence: null },
};

const frames = await Promise.all((await listImages(footage)).map((f) => readFile(join(footage, f))));
const bus = new EventBus<DaemonEvents>(logger);
const slot = new FrameSlot();
const pipeline = new Pipeline(slot, await ActiveModel.load(model, options), bus, logger);
const store = await SampleWriter.open({ path: join(dir, "samples.db"), maxBytes: 1e9, logger });
const jpegs = new FrameJpegEncoder();
const shadow = modelShadow({ bus, drift: driftSchema.parse({}), logger });
const parts: Part[] = [
  sampleKeeper({
    bus,
    store,
    jpegs,
    snapshots: new SnapshotRequests(),
    storage: storageSchema.parse({}),
    oodSamplesPerMinute: 30,
    disagreementSamplesPerMinute: 30,
    logger,
  }),
  shadow,
];
for (const p of parts) await p.start?.();

let on = false;
let switchedAt = 0;
const latencies = { on: [] as number[], off: [] as number[] };
const dropped = { on: 0, off: 0 };
const received = { on: 0, off: 0 };
bus.on("bench", "decided", (r) => {
  if (r.frame.capturedMono > switchedAt) latencies[on ? "on" : "off"].push(r.latencyMs);
});
pipeline.start();

let seq = 0;
const camera = setInterval(() => {
  const before = slot.dropped;
  slot.put({
    seq: seq++,
    data: frames[seq % frames.length] as Buffer,
    capturedAt: Date.now(),
    capturedMono: performance.now(),
  });
  dropped[on ? "on" : "off"] += slot.dropped - before;
  received[on ? "on" : "off"]++;
}, 1000 / fps);

const load0 = loadavg()[0] as number;
await new Promise((r) => setTimeout(r, 3000)); // warm-up, shadow off
latencies.off.length = 0;
dropped.off = 0;
received.off = 0;
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) {
  on = !on;
  if (on) await shadow.setCandidate(await ActiveModel.load(candidateDir, { ...options }));
  else await shadow.setCandidate(null);
  switchedAt = performance.now();
  await new Promise((r) => setTimeout(r, blockMs));
}
const load1 = loadavg()[0] as number;
clearInterval(camera);
slot.close();
await pipeline.stopped();
for (const p of parts.reverse()) await p.stop?.();
await jpegs.close();
await store.close();
await pipeline.model.release();
rmSync(dir, { recursive: true, force: true });

const line = (k: "on" | "off") => {
  const xs = latencies[k];
  return `${xs.length} frames, end-to-end p50 ${percentile(xs, 0.5).toFixed(3)} ms, p99 ${percentile(xs, 0.99).toFixed(3)} ms, mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} ms; pipeline dropped ${dropped[k]} of ${received[k]}`;
};
const change = (q: number) => {
  const a = percentile(latencies.off, q);
  return `${(((percentile(latencies.on, q) - a) / a) * 100).toFixed(1)}%`;
};
console.log(
  `# shadow A/B in one process: ${fps} fps, ${seconds} s in ${values.block} s blocks, node ${process.version} ${process.arch}, load ${load0.toFixed(2)}→${load1.toFixed(2)}`,
);
console.log(`shadow off  ${line("off")}`);
console.log(`shadow on   ${line("on")}`);
console.log(`on vs off   p50 ${change(0.5)}, p99 ${change(0.99)}`);

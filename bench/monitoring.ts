// What monitoring costs per frame, next to what a frame costs: frame features (computed on the
// hot path, in the `decide` stage) and the drift detector + out-of-distribution check (in a sink,
// after the decision), against preprocess + inference of the same frames.
//
//   node dist/bench/monitoring.js [--rounds 5]
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { listImages } from "../src/camera/replay-source.js";
import { Preprocessor } from "../src/model/preprocess.js";
import { ModelSession } from "../src/model/session.js";
import { DriftDetector } from "../src/monitor/drift-detector.js";
import { DriftMonitor } from "../src/monitor/drift-monitor.js";
import { driftReference } from "../src/monitor/drift-reference.js";
import { frameFeatures } from "../src/monitor/frame-features.js";
import { oodBounds, outOfRange } from "../src/monitor/ood.js";
import { packageRoot } from "../src/package-info.js";
import { median, ms } from "./stats.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const rounds = Number(values.rounds);
const model = join(packageRoot, "models/round-parts");
const footage = join(packageRoot, "footage/round-parts");

const session = await ModelSession.load(model, { threads: 1 });
const m = session.manifest;
if (!m.reference) throw new Error(`${model} has no reference statistics`);
const pre = new Preprocessor(m.input);
const files = await Promise.all((await listImages(footage)).map((f) => readFile(join(footage, f))));
const monitor = new DriftMonitor(
  new DriftDetector(
    driftReference(m.reference, {
      prevalence: 0.4,
      threshold: m.decision.threshold,
      uncertainBand: m.decision.uncertain_band,
      uncertainAction: "reject",
    }),
  ),
);
const bounds = oodBounds(m.reference.features);

const frame: number[] = [];
const features: number[] = [];
const drift: number[] = [];
for (let r = 0; r < rounds + 1; r++) {
  for (const data of files) {
    const t0 = performance.now();
    const p = await pre.run(data);
    const out = await session.run(p.tensor);
    const t1 = performance.now();
    const f = frameFeatures(p.rgb, pre.width, pre.height);
    const t2 = performance.now();
    outOfRange(f, bounds);
    monitor.observe(f, out.score, out.score >= m.decision.threshold, false);
    const t3 = performance.now();
    if (r === 0) continue; // warm-up round
    frame.push(t1 - t0);
    features.push(t2 - t1);
    drift.push(t3 - t2);
  }
}
await session.release();
const base = median(frame);
console.log(`# monitoring cost per frame, ${frame.length} frames, node ${process.version}, ${process.arch}`);
console.log("| part | median | share of preprocess + infer |");
console.log("|---|---|---|");
console.log(`| preprocess + infer | ${ms(base)} | 100% |`);
console.log(
  `| frame features (hot path) | ${ms(median(features))} | ${((median(features) / base) * 100).toFixed(2)}% |`,
);
console.log(
  `| drift detector + OOD check (sink, after the decision) | ${ms(median(drift))} | ${((median(drift) / base) * 100).toFixed(2)}% |`,
);

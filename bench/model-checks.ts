// What the device gate and an install's candidate checks cost the main thread (the one that reads
// the camera and decides frames), run on it against run in a worker thread
// (src/model/off-thread-checks.ts). Per run: the main thread's busy time (event-loop
// utilization), its longest gap between ticks of a 1 ms timer, and the wall time. The gate runs
// over --samples labeled samples (the footage, labeled with its ground truth) comparing the
// shipped model with itself at another threshold; the check is the shipped model's bundle with 6
// golden frames. One session is loaded on the main thread first, as the daemon has its model.
//
//   node dist/bench/model-checks.js [--rounds 5] [--samples 100]
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readLabelledDir } from "../src/dataset/labelled-dir.js";
import { extractBundle, verifyBundle } from "../src/model/bundle.js";
import { packBundle } from "../src/model/bundle-pack.js";
import { bufferSource } from "../src/model/byte-source.js";
import { type CandidateCheckOptions, checkCandidate } from "../src/model/candidate-check.js";
import { selectGolden } from "../src/model/golden.js";
import { readManifest } from "../src/model/model-file.js";
import { checkCandidateOffThread, gateOnSamplesOffThread } from "../src/model/off-thread-checks.js";
import { gateOnSamples, type SampleGateInput } from "../src/model/sample-gate.js";
import { ModelSession } from "../src/model/session.js";
import { packageRoot } from "../src/package-info.js";
import { SampleStore } from "../src/store/sample-store.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "5" }, samples: { type: "string", default: "100" } },
});
const rounds = Number(values.rounds);
const model = join(packageRoot, "models/round-parts");
const footage = join(packageRoot, "footage/round-parts");
const dir = await mkdtemp(join(tmpdir(), "linesight-bench-checks-"));

const frames = await readLabelledDir(footage);
const databasePath = join(dir, "samples.db");
const store = SampleStore.open(databasePath);
const { ids } = store.insertBatch(
  frames.map((f, i) => ({
    seq: i + 1,
    capturedAt: Date.now() + i,
    reason: "audit" as const,
    action: "pass" as const,
    uncertain: false,
    predicted: "good",
    score: 0,
    output: [1, 0],
    threshold: 0.5,
    model: { name: "round-parts", version: "1.0.0", sha256: "0".repeat(64) },
    image: readFileSync(f.path),
    width: 320,
    height: 240,
    latencyMs: 0,
  })),
);
for (const [i, { id }] of ids.entries()) store.addLabel(id, (frames[i] as { label: string }).label, "bench");
store.close();

const out = join(dir, "rp.lsm");
await packBundle({ modelDir: model, out, privateKey: null, golden: selectGolden(frames, 6) });
const verified = await verifyBundle(bufferSource(readFileSync(out)), {
  trust: { keys: [], allowUnsigned: true },
  maxBytes: 64 << 20,
});
const candidate = join(dir, "candidate");
await extractBundle(verified, candidate);
const golden = [...verified.index.golden];
const manifest = await readManifest(model);

const gateInput: SampleGateInput = {
  databasePath,
  active: { dir: model, id: "round-parts@1.0.0", threshold: manifest.decision.threshold },
  candidate: { dir: model, id: "round-parts@1.0.0-strict", threshold: 0.7 },
  maxSamples: Number(values.samples),
  gate: {
    maxMissedDefectIncrease: 0.005,
    maxFalseRejectIncrease: 0.01,
    significance: 0.05,
    minDefects: 30,
    minGood: 100,
    tooFewLabels: "accept",
  },
};
const checkOptions: CandidateCheckOptions = {
  threads: 1,
  goldenTolerance: 0.02,
  latencyBudgetMs: null,
  active: manifest,
  cameraRegion: { width: 640, height: 480 },
};

interface Run {
  busyMs: number;
  maxGapMs: number;
  /** Gaps of 5 ms or more between two 1 ms ticks. */
  longGaps: number;
  wallMs: number;
}

async function measure(work: () => Promise<unknown>): Promise<Run> {
  const t0 = performance.now();
  let last = t0;
  let maxGapMs = 0;
  let longGaps = 0;
  const tick = () => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    if (now - last >= 5) longGaps++;
    last = now;
  };
  const timer = setInterval(tick, 1);
  const before = performance.eventLoopUtilization();
  await work();
  tick();
  clearInterval(timer);
  const busyMs = performance.eventLoopUtilization(before).active;
  return { busyMs, maxGapMs, longGaps, wallMs: performance.now() - t0 };
}

const cases: [string, () => Promise<unknown>][] = [
  [`gate, ${values.samples} samples, main thread`, () => gateOnSamples(gateInput)],
  [`gate, ${values.samples} samples, worker thread`, () => gateOnSamplesOffThread(gateInput)],
  ["candidate check, main thread", () => checkCandidate(candidate, golden, checkOptions)],
  ["candidate check, worker thread", () => checkCandidateOffThread(candidate, golden, checkOptions)],
];
const runs = new Map<string, Run[]>(cases.map(([name]) => [name, []]));

try {
  await (await ModelSession.load(model, { threads: 1 })).release();
  await gateOnSamplesOffThread({ ...gateInput, maxSamples: 1 }); // the first worker's module loads
  for (let r = 0; r < rounds; r++)
    for (const [name, work] of cases) (runs.get(name) as Run[]).push(await measure(work));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (x: number) => x.toFixed(1);
console.log(`\nmain thread during the gate and the candidate checks, ${rounds} rounds (median / max)\n`);
console.log("| run | main thread busy, ms | longest event-loop gap, ms | gaps >= 5 ms | wall time, ms |");
console.log("|---|---|---|---|---|");
for (const [name, rs] of runs) {
  const col = (k: keyof Run) => `${f(median(rs.map((x) => x[k])))} / ${f(Math.max(...rs.map((x) => x[k])))}`;
  console.log(`| ${name} | ${col("busyMs")} | ${col("maxGapMs")} | ${col("longGaps")} | ${col("wallMs")} |`);
}

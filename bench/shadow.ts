// Shadow mode's cost to the line: the daemon as deployed (a separate `linesight run` replaying the
// bundled footage at --fps), with and without a candidate in shadow (model.shadow.dir), in
// alternating rounds so the shared machine's load falls on both alike. Measured from outside, from
// the health reports (one a second): the active model's end-to-end (camera to decision) p50 and
// p99 over the newest 2048 frames at the end of each phase (the measured minute and a few seconds
// before it), frames dropped by the pipeline and decided per second, the candidate's own frames,
// drops and latency (`model.shadow`), and the load average. Decisions are not published (with the
// embedded broker in the same process, sending 30 a second would be most of what is measured).
//
//   node dist/bench/shadow.js [--seconds 45] [--rounds 3] [--fps 30]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/package-info.js";
import type { ShadowReport } from "../src/parts/shadow-control.js";
import { writeCandidateModel } from "./candidate-model.js";
import { startDaemon } from "./daemon-process.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "45" },
    rounds: { type: "string", default: "3" },
    fps: { type: "string", default: "30" },
    port: { type: "string", default: "18951" }, // the embedded broker's
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const fps = Number(values.fps);
const port = Number(values.port);
const model = join(packageRoot, "models/round-parts");
const footage = join(packageRoot, "footage/round-parts");
const dir = mkdtempSync(join(tmpdir(), "linesight-bench-shadow-"));

// The candidate: the shipped model under another version and sha256 (the same work per frame),
// deciding at 0.005 so it disagrees on about 6% of frames and disagreement samples are written too.
const candidate = writeCandidateModel(model, join(dir, "candidate"), {
  version: "1.1.0",
  threshold: 0.005,
  uncertainBand: 0,
  note: "shadow benchmark candidate",
});

interface Health {
  frames: { received: number; decided: number; dropped: number };
  latency_ms: { end_to_end: { p50: number; p99: number } };
  fps_out: number;
  model: { shadow: ShadowReport | null };
}
interface Phase {
  shadow: boolean;
  p50: number;
  p99: number;
  dropped: number;
  received: number;
  fpsOut: number;
  report: ShadowReport | null;
  load: [number, number];
}

async function phase(shadow: boolean, n: number): Promise<Phase> {
  const run = join(dir, `run-${n}`);
  mkdirSync(run);
  writeFileSync(
    join(run, "config.yaml"),
    [
      "device: {id: bench}",
      `camera: {replay: {path: ${footage}, fps: ${fps}}}`,
      `model: {path: ${model}${shadow ? `, shadow: {dir: ${candidate}}` : ""}}`,
      `storage: {path: ${join(run, "db.sqlite")}}`,
      `mqtt: {embedded: {port: ${port}}, health_interval_s: 1, publish_decisions: false}`,
      "http: {enabled: false}",
      "log: {level: info}",
    ].join("\n"),
  );
  const { child, healths } = startDaemon<Health>(join(run, "config.yaml"));
  const t0 = performance.now();
  while (healths.length === 0 && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 5000)); // warm-up
  const first = healths.at(-1) as Health;
  const load0 = loadavg()[0] as number;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const last = healths.at(-1) as Health;
  const load1 = loadavg()[0] as number;
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  const window = healths.slice(healths.indexOf(first) + 1, healths.indexOf(last) + 1);
  return {
    shadow,
    p50: last.latency_ms.end_to_end.p50,
    p99: last.latency_ms.end_to_end.p99,
    dropped: last.frames.dropped - first.frames.dropped,
    received: last.frames.received - first.frames.received,
    fpsOut: median(window.map((h) => h.fps_out)),
    report: last.model.shadow,
    load: [load0, load1],
  };
}

const phases: Phase[] = [];
for (let r = 0; r < rounds; r++) {
  // Alternate which goes first, so a trend in the machine's load does not favour one.
  const order = r % 2 === 0 ? [false, true] : [true, false];
  for (const shadow of order) {
    const p = await phase(shadow, phases.length);
    phases.push(p);
    const s = p.report;
    console.log(
      `round ${r + 1} shadow ${shadow ? "on " : "off"}: end-to-end p50 ${p.p50.toFixed(3)} ms p99 ${p.p99.toFixed(3)} ms, ` +
        `decided ${p.fpsOut.toFixed(1)}/s, pipeline dropped ${p.dropped} of ${p.received}, load ${p.load[0].toFixed(2)}→${p.load[1].toFixed(2)}` +
        (s
          ? `; candidate: ${s.frames} frames, dropped ${s.dropped}, agreement ${s.agreement}, latency p50 ${s.latency_ms.p50} p99 ${s.latency_ms.p99} ms`
          : ""),
    );
  }
}
rmSync(dir, { recursive: true, force: true });

const of = (shadow: boolean) => phases.filter((p) => p.shadow === shadow);
const summary = (shadow: boolean) => {
  const ps = of(shadow);
  return {
    p50: median(ps.map((p) => p.p50)),
    p99: median(ps.map((p) => p.p99)),
    dropped: ps.reduce((a, p) => a + p.dropped, 0),
    received: ps.reduce((a, p) => a + p.received, 0),
  };
};
const off = summary(false);
const on = summary(true);
const change = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
console.log(
  `# shadow mode benchmark: ${fps} fps, ${rounds} rounds of ${seconds} s each, node ${process.version} ${process.arch}`,
);
console.log(
  `end-to-end p50 (median of rounds)  off ${off.p50.toFixed(3)} ms, on ${on.p50.toFixed(3)} ms (${change(off.p50, on.p50)})`,
);
console.log(
  `end-to-end p99 (median of rounds)  off ${off.p99.toFixed(3)} ms, on ${on.p99.toFixed(3)} ms (${change(off.p99, on.p99)})`,
);
console.log(
  `pipeline dropped                   off ${off.dropped} of ${off.received}, on ${on.dropped} of ${on.received}`,
);

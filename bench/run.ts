// `npm run bench`: every benchmark in turn, with the defaults docs/performance.md reports.
//   npm run bench                    model latency, monitoring cost, the gate and candidate checks
//                                    on and off the main thread, capture (splitter and pipe
//                                    latency, needs ffmpeg; MJPEG against raw frames, needs
//                                    ffmpeg and GStreamer), preprocessing against its floor, a 60 s daemon run, the daemon
//                                    with 0 vs 5 operator-page clients, samples kept with 5
//                                    greedy viewers on a raw camera (needs ffmpeg), reject pulse timing
//                                    with the main thread blocked, the simulated line in the daemon
//                                    (60 s; 10 minutes when --seconds is given)
//                                    with the main thread blocked, shadow mode on vs off
//   npm run bench -- --seconds 1800  the same with a 30-minute daemon run (memory steadiness)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/package-info.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" } } });
const bench = (name: string) => join(packageRoot, "dist", "bench", `${name}.js`);
const run = (file: string, args: string[]) => {
  const r = spawnSync(process.execPath, [file, ...args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

// The fp32 comparison models exist only after `npm run model:build` (they are not shipped).
const fp32 = ["fp32_pruned", "fp32_unpruned"]
  .map((n) => join(packageRoot, "build", "recipe", "artifacts", n))
  .filter((d) => existsSync(join(d, "manifest.json")));
run(bench("model-latency"), [join(packageRoot, "models", "round-parts"), ...fp32]);
run(bench("monitoring"), []);
run(bench("outbox"), []);
run(bench("model-bundle"), []);
run(bench("model-checks"), []);
run(bench("mjpeg-splitter"), []);
run(bench("capture-formats"), []);
run(bench("preprocess-floor"), []);
run(bench("daemon"), ["--seconds", values.seconds as string, "--fps", "30"]);
run(bench("operator-live"), ["--fps", "30", "--phase-seconds", "15", "--rounds", "2"]);
run(bench("viewer-samples"), ["--seconds", "30"]);
run(bench("line-output"), []);
run(bench("line-daemon"), values.seconds === "60" ? ["--quick"] : ["--seconds", "600"]);
run(bench("shadow-ab"), ["--seconds", "240", "--block", "5", "--fps", "30"]);
run(bench("shadow"), ["--seconds", "60", "--rounds", "3", "--fps", "30"]);

// The daemon under load, as deployed: a separate `linesight run` process replaying the bundled
// footage at --fps, measured from outside (CPU from /proc, RSS over time, time to READY=1 on a
// real notify socket, end-to-end latency from its health reports), and the bare cost of
// preprocess + session.run measured in this process over the same frames for comparison.
//
//   node dist/bench/daemon.js [--seconds 60] [--fps 30]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { listImages } from "../src/camera/replay-source.js";
import { Preprocessor } from "../src/model/preprocess.js";
import { ModelSession } from "../src/model/session.js";
import { packageRoot } from "../src/package-info.js";
import { median, writeReplayConfig } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    fps: { type: "string", default: "30" },
    port: { type: "string", default: "18931" },
  },
});
const seconds = Number(values.seconds);
const fps = Number(values.fps);
const model = join(packageRoot, "models/round-parts");
const footage = join(packageRoot, "footage/round-parts");
const CLK_TCK = 100; // Linux USER_HZ

// 1. Bare model cost: preprocess + session.run, one frame at a time, warm.
const session = await ModelSession.load(model, { threads: 1 });
const pre = new Preprocessor(session.manifest.input);
const frames = await Promise.all((await listImages(footage)).map((f) => readFile(join(footage, f))));
const bare: number[] = [];
for (let i = 0; i < 3 * frames.length; i++) {
  const t = performance.now();
  const p = await pre.run(frames[i % frames.length] as Buffer);
  await session.run(p.tensor);
  if (i >= frames.length) bare.push(performance.now() - t);
}
// The same, one frame per camera period: an idle CPU between frames (clock, caches, onnxruntime's
// threads going to sleep) costs time the back-to-back loop never sees, and the daemon does see.
const paced: number[] = [];
for (let i = 0; i < 2 * frames.length; i++) {
  await new Promise((r) => setTimeout(r, 1000 / fps));
  const t = performance.now();
  const p = await pre.run(frames[i % frames.length] as Buffer);
  await session.run(p.tensor);
  if (i >= frames.length / 2) paced.push(performance.now() - t);
}
await session.release();

// 2. The daemon as a process.
const dir = mkdtempSync(join(tmpdir(), "linesight-bench-"));
writeReplayConfig(dir, { footage, fps, model, port: values.port as string });
const require = createRequire(import.meta.url);
const dgram = require("unix-dgram") as {
  createSocket(t: string, l: (b: Buffer) => void): { bind(p: string): void; close(): void };
};
let readyAt = 0;
const notifyPath = join(dir, "notify.sock");
const sock = dgram.createSocket("unix_dgram", (b) => {
  if (!readyAt && b.toString().split("\n").includes("READY=1")) readyAt = performance.now();
});
sock.bind(notifyPath);

const t0 = performance.now();
const child = spawn(
  process.execPath,
  // As installed: the bin's shebang gives node this flag (src/cli/main.ts).
  ["--max-semi-space-size=2", join(packageRoot, "dist/src/cli/main.js"), "run", "--config", join(dir, "config.yaml")],
  {
    env: { ...process.env, NOTIFY_SOCKET: notifyPath },
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const healths: {
  latency_ms: Record<string, { p50: number; p99: number }>;
  fps_out: number;
  frames: { dropped: number };
}[] = [];
let buf = "";
child.stdout.on("data", (d: Buffer) => {
  buf += d.toString();
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    const line = JSON.parse(buf.slice(0, nl)) as { health?: (typeof healths)[number] };
    buf = buf.slice(nl + 1);
    if (line.health) healths.push(line.health);
  }
});

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1]) / 1024;
}

while (!readyAt && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
const pid = child.pid as number;
await new Promise((r) => setTimeout(r, 5000)); // warm-up
const cpu0 = cpuSeconds(pid);
const w0 = performance.now();
const rss: number[] = [];
while (performance.now() - w0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 1000));
  rss.push(rssMb(pid));
}
const cpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - w0) / 1000);
child.kill("SIGTERM");
await new Promise((r) => child.on("exit", r));
sock.close();

const steady = healths.slice(2);
const e2e = median(steady.map((h) => h.latency_ms.end_to_end?.p50 ?? 0));
const bareMedian = median(bare);
const q = Math.max(1, Math.floor(rss.length / 4));
const rssFirst = median(rss.slice(0, q));
const rssLast = median(rss.slice(-q));
console.log(`# daemon benchmark: ${fps} fps for ${seconds} s, node ${process.version} ${process.arch}`);
console.log(`time to READY=1                 ${((readyAt - t0) / 1000).toFixed(2)} s`);
const pacedMedian = median(paced);
console.log(
  `bare preprocess + run, median   ${bareMedian.toFixed(3)} ms back to back, ${pacedMedian.toFixed(3)} ms at ${fps} fps`,
);
console.log(
  `daemon end-to-end p50 (median)  ${e2e.toFixed(3)} ms  (ratio ${(e2e / pacedMedian).toFixed(2)}x of bare at ${fps} fps, ${(e2e / bareMedian).toFixed(2)}x of back to back)`,
);
const stages = steady.at(-1)?.latency_ms ?? {};
console.log(
  `stage p50s (last report)        ${Object.entries(stages)
    .map(([k, v]) => `${k} ${v.p50}`)
    .join(", ")} ms`,
);
console.log(
  `decided fps (median of reports) ${median(steady.map((h) => h.fps_out)).toFixed(1)}, dropped ${steady.at(-1)?.frames.dropped ?? 0}`,
);
console.log(`CPU                             ${(cpu * 100).toFixed(1)}% of one core`);
console.log(
  `RSS                             first quarter ${rssFirst.toFixed(1)} MB, last quarter ${rssLast.toFixed(1)} MB, max ${Math.max(...rss).toFixed(1)} MB`,
);

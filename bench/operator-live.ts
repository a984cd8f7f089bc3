// Does watching the operator page slow inspection? One daemon process replaying the bundled
// footage (by default faster than it can decide, so the pipeline, not the camera, sets the
// frame rate), alternating phases with 0 and 5 live-view clients. Each client does what the page does: an
// SSE stream, and for every message the newest frame's JPEG (one at a time) plus any new
// reject thumbnails. Decided fps and end-to-end latency come from the daemon's health reports;
// CPU from /proc. Also: decision-to-client delay as the clients see it.
//
//   node dist/bench/operator-live.js [--phase-seconds 20] [--rounds 2] [--fps 300] [--clients 5]
//   --fps 300 saturates the pipeline (throughput); --fps 30 is a camera's pace (CPU cost, drops)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/package-info.js";
import { median, percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    "phase-seconds": { type: "string", default: "20" },
    rounds: { type: "string", default: "2" },
    fps: { type: "string", default: "300" },
    clients: { type: "string", default: "5" },
    "mqtt-port": { type: "string", default: "18941" },
  },
});
const phaseS = Number(values["phase-seconds"]);
const rounds = Number(values.rounds);
const clientsN = Number(values.clients);
const CLK_TCK = 100;

const dir = mkdtempSync(join(tmpdir(), "linesight-bench-http-"));
writeFileSync(
  join(dir, "config.yaml"),
  [
    "device: {id: bench-http}",
    `camera: {replay: {path: ${join(packageRoot, "footage/round-parts")}, fps: ${values.fps}}}`,
    `model: {path: ${join(packageRoot, "models/round-parts")}}`,
    `storage: {path: ${join(dir, "db.sqlite")}}`,
    `mqtt: {embedded: {port: ${values["mqtt-port"]}}, health_interval_s: 2, publish_decisions: false}`,
    "http: {port: 0}",
    "drift: {defect_prevalence: 0.4}",
  ].join("\n"),
);

const child = spawn(
  process.execPath,
  ["--max-semi-space-size=2", join(packageRoot, "dist/src/cli/main.js"), "run", "--config", join(dir, "config.yaml")],
  { stdio: ["ignore", "pipe", "inherit"] },
);
interface Health {
  fps_out: number;
  fps_in: number;
  latency_ms: { end_to_end?: { p50: number; p95: number } };
}
const healths: { at: number; h: Health }[] = [];
let pageUrl = "";
let buf = "";
child.stdout.on("data", (d: Buffer) => {
  buf += d.toString();
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    const line = JSON.parse(buf.slice(0, nl)) as { health?: Health; msg?: string; url?: string };
    buf = buf.slice(nl + 1);
    if (line.health) healths.push({ at: Date.now(), h: line.health });
    if (line.msg === "operator page up") pageUrl = line.url as string;
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
while (!pageUrl && Date.now() - t0 < 30_000) await sleep(20);
if (!pageUrl) throw new Error("the operator page did not come up");
await sleep(5000); // warm-up

function fetchBytes(path: string): Promise<number> {
  return new Promise((resolve) => {
    get(`${pageUrl}${path.slice(1)}`, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => {
        n += c.length;
      });
      res.on("end", () => resolve(n));
    }).on("error", () => resolve(0));
  });
}

/** One live-view client; returns a stop function and its counts. */
function liveClient(delays: number[]) {
  let stopped = false;
  let loading = false;
  const seen = new Set<number>();
  const counts = { messages: 0, images: 0, bytes: 0 };
  let res: IncomingMessage | null = null;
  const req = get(`${pageUrl}api/live/events`, (r) => {
    res = r;
    let pending = "";
    r.on("data", (c: Buffer) => {
      pending += c.toString();
      for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n")) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const s = JSON.parse(data.slice(6)) as {
          decision: { seq: number; decidedAt: number } | null;
          rejects: { seq: number }[];
        };
        counts.messages++;
        if (s.decision) delays.push(Date.now() - s.decision.decidedAt);
        if (s.decision && !loading && !stopped) {
          loading = true;
          void fetchBytes(`/api/live/frame/${s.decision.seq}.jpg`).then((n) => {
            counts.images++;
            counts.bytes += n;
            loading = false;
          });
        }
        for (const r of s.rejects) {
          if (seen.has(r.seq)) continue;
          seen.add(r.seq);
          void fetchBytes(`/api/live/frame/${r.seq}.jpg`).then((n) => {
            counts.images++;
            counts.bytes += n;
          });
        }
      }
    });
  });
  req.on("error", () => {});
  return {
    counts,
    stop() {
      stopped = true;
      (res as IncomingMessage | null)?.destroy();
      req.destroy();
    },
  };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

interface Phase {
  clients: number;
  fps: number[];
  fpsIn: number[];
  e2eP50: number[];
  cpu: number;
  delays: number[];
  messagesPerClientS: number;
  imagesPerClientS: number;
}
const phases: Phase[] = [];
for (let r = 0; r < rounds; r++) {
  for (const n of [0, clientsN]) {
    const delays: number[] = [];
    const clients = Array.from({ length: n }, () => liveClient(delays));
    await sleep(2500); // let the previous phase's health window pass
    const from = Date.now();
    const cpu0 = cpuSeconds(child.pid as number);
    await sleep(phaseS * 1000);
    const cpu = (cpuSeconds(child.pid as number) - cpu0) / phaseS;
    const reports = healths.filter((x) => x.at > from + 2000).map((x) => x.h);
    phases.push({
      clients: n,
      fps: reports.map((h) => h.fps_out),
      fpsIn: reports.map((h) => h.fps_in),
      e2eP50: reports.map((h) => h.latency_ms.end_to_end?.p50 ?? 0),
      cpu,
      delays,
      messagesPerClientS: n ? clients.reduce((a, c) => a + c.counts.messages, 0) / n / (phaseS + 2.5) : 0,
      imagesPerClientS: n ? clients.reduce((a, c) => a + c.counts.images, 0) / n / (phaseS + 2.5) : 0,
    });
    for (const c of clients) c.stop();
  }
}
child.kill("SIGTERM");
await new Promise((r) => child.on("exit", r));
rmSync(dir, { recursive: true, force: true });

console.log(
  `# operator page benchmark: replay at ${values.fps} fps, ${rounds} rounds of ${phaseS} s, node ${process.version} ${process.arch}`,
);
console.log(
  "clients | camera fps | decided fps (median of reports) | e2e p50 ms | daemon CPU | SSE msg/s per client | images/s per client | decision->client p50/p95 ms",
);
for (const p of phases) {
  console.log(
    [
      p.clients,
      median(p.fpsIn).toFixed(1),
      median(p.fps).toFixed(1),
      median(p.e2eP50).toFixed(2),
      `${(p.cpu * 100).toFixed(0)}%`,
      p.messagesPerClientS.toFixed(1),
      p.imagesPerClientS.toFixed(1),
      p.delays.length ? `${percentile(p.delays, 0.5)}/${percentile(p.delays, 0.95)}` : "-",
    ].join(" | "),
  );
}
const with0 = median(phases.filter((p) => p.clients === 0).flatMap((p) => p.fps));
const withN = median(phases.filter((p) => p.clients > 0).flatMap((p) => p.fps));
console.log(
  `decided fps: ${with0.toFixed(1)} with no client, ${withN.toFixed(1)} with ${clientsN} (${(((withN - with0) / with0) * 100).toFixed(1)}%)`,
);

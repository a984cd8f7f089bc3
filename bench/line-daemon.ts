// The simulated line in the daemon (--simulate-line's code), the line targets in one run:
// (a) every part one fate, ejected = model rejects + fail-safe rejects, nothing unaccounted;
// (b) reject pulse start against its time with --viewers live-view clients on the operator page
//     and the main thread blocked --block ms once a second, at --rate parts/s with the jet 250 ms
//     downstream (rate x 0.25 parts in flight);
// (c) trigger edge to decision, next to the travel budget (the eject delay).
//
//   node dist/bench/line-daemon.js [--seconds 600] [--rate 20] [--viewers 5] [--block 20]
//   node dist/bench/line-daemon.js --quick        (60 s)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/package-info.js";
import { median } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "600" },
    quick: { type: "boolean", default: false },
    rate: { type: "string", default: "20" },
    viewers: { type: "string", default: "5" },
    block: { type: "string", default: "20" },
    "mqtt-port": { type: "string", default: "18951" },
    "modbus-port": { type: "string", default: "18952" },
  },
});
const seconds = values.quick ? 60 : Number(values.seconds);
const rate = Number(values.rate);
const DELAY_MS = 250;
const parts = Math.round(seconds * rate);

const dir = mkdtempSync(join(tmpdir(), "linesight-bench-line-"));
writeFileSync(
  join(dir, "config.yaml"),
  JSON.stringify({
    device: { id: "bench-line" },
    camera: { replay: { path: join(packageRoot, "footage/round-parts") } },
    model: { path: join(packageRoot, "models/round-parts") },
    storage: { path: join(dir, "db.sqlite") },
    mqtt: { embedded: { port: Number(values["mqtt-port"]) }, health_interval_s: 5 },
    http: { port: 0 },
    line: {
      enabled: true,
      backend: "simulated",
      trigger: { source: "gpio", debounce_ms: 2, capture_delay_ms: 10 },
      reject: { delay_ms: DELAY_MS, pulse_ms: 20 },
      modbus: { enabled: true, port: Number(values["modbus-port"]) },
      simulation: { parts_per_s: rate, parts },
    },
  }),
);

const blocker = pathToFileURL(join(packageRoot, "dist/bench/main-thread-blocker.js")).href;
const child = spawn(
  process.execPath,
  [
    "--max-semi-space-size=2",
    "--import",
    blocker,
    join(packageRoot, "dist/src/cli/main.js"),
    "run",
    "--config",
    join(dir, "config.yaml"),
  ],
  { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, LINESIGHT_BENCH_BLOCK_MS: values.block } },
);

interface LineHealth {
  in_flight: number;
  in_flight_max: number;
  pulse_error_ms: { p50: number; p99: number; max: number; count: number };
  edge_to_decision_ms: { p50: number; p99: number; max: number; count: number };
  output_priority: string;
  fail_safe_by_cause: Record<string, number>;
  missed: number;
  parts: number;
}
const reports: LineHealth[] = [];
interface Account {
  parts: number;
  closed: number;
  ejected: number;
  model_rejects: number;
  fail_safe_rejects: number;
  unaccounted: number;
  pulses: number;
  late_pulses: number;
  ejected_without_pulse: number;
  pulse_start_error_max_ms: number;
  ok: boolean;
}
let account: Account | null = null;
let pageUrl = "";
let buf = "";
child.stdout.on("data", (d: Buffer) => {
  buf += d.toString();
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    const l = JSON.parse(buf.slice(0, nl)) as {
      health?: { line?: LineHealth };
      msg?: string;
      url?: string;
      account?: Account;
    };
    buf = buf.slice(nl + 1);
    if (l.health?.line) reports.push(l.health.line);
    if (l.msg === "operator page up") pageUrl = l.url as string;
    if (l.msg === "simulated line: all parts through") account = l.account ?? null;
  }
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
while (!pageUrl && Date.now() - t0 < 30_000) await sleep(20);
if (!pageUrl) throw new Error("the operator page did not come up");

/** A live-view client: the SSE stream, and the newest frame's JPEG per message, one at a time. */
function viewer(): () => void {
  let busy = false;
  const req = get(`${pageUrl}api/live/events`, (res) => {
    res.on("data", (c: Buffer) => {
      const m = /"decision":\{"seq":(\d+)/.exec(c.toString());
      if (!m || busy) return;
      busy = true;
      get(`${pageUrl}api/live/frame/${m[1]}.jpg`, (r) => {
        r.resume();
        r.on("end", () => {
          busy = false;
        });
      }).on("error", () => {
        busy = false;
      });
    });
  });
  req.on("error", () => {});
  return () => req.destroy();
}
const viewers = Array.from({ length: Number(values.viewers) }, viewer);

const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0] as number), 5000);
const end = Date.now() + (seconds + 20) * 1000;
while (!account && Date.now() < end) await sleep(200);
clearInterval(sampler);
for (const stop of viewers) stop();
child.kill("SIGTERM");
await new Promise((r) => child.on("exit", r));
rmSync(dir, { recursive: true, force: true });

const a = account as Account | null;
const last = reports[reports.length - 1];
if (!a || !last) throw new Error("the simulated line did not finish");
const worst = (f: (r: LineHealth) => number) => Math.max(...reports.map(f));
console.log(
  `# line in the daemon: ${seconds} s at ${rate} parts/s (${parts} parts), jet ${DELAY_MS} ms downstream, ${values.viewers} live viewers, main thread blocked ${values.block} ms/s, node ${process.version}`,
);
console.log(
  `output thread: ${last.output_priority}; load average 1 min: median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}`,
);
console.log(`account: ${JSON.stringify(a)}`);
console.log(
  `(a) parts ${a.parts}, closed ${a.closed}, ejected ${a.ejected} = model ${a.model_rejects} + fail-safe ${a.fail_safe_rejects}: ${a.ejected === a.model_rejects + a.fail_safe_rejects ? "yes" : "NO"}; unaccounted ${a.unaccounted}; ejector agrees: ${a.ok ? "yes" : "NO"}; fail-safe by cause ${JSON.stringify(last.fail_safe_by_cause)}`,
);
console.log(
  `(b) pulse start error ms: p50 ${median(reports.map((r) => r.pulse_error_ms.p50)).toFixed(3)} (median of reports), p99 worst report ${worst((r) => r.pulse_error_ms.p99).toFixed(3)}, max worst report ${worst((r) => r.pulse_error_ms.max).toFixed(3)} (of pulses within 25 ms of their time: ${a.pulse_start_error_max_ms}); pulses 5-25 ms late ${a.late_pulses} of ${a.pulses}, later (part passed the jet before it fired): ${a.ejected_without_pulse}; in flight max ${worst((r) => r.in_flight_max)}`,
);
console.log(
  `(c) edge to decision ms: p50 ${median(reports.map((r) => r.edge_to_decision_ms.p50)).toFixed(1)}, p99 worst report ${worst((r) => r.edge_to_decision_ms.p99).toFixed(1)}, max ${worst((r) => r.edge_to_decision_ms.max).toFixed(1)}; travel budget ${DELAY_MS} ms (e.g. 250 mm at 1 m/s) minus 3 ms commit`,
);

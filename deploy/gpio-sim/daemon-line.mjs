// Runs inside the gpio-sim VM (run-vm.sh), after scenario.mjs: the built daemon itself
// (`linesight run`) on the simulated line, with the lines on a gpio-sim chip through the real GPIO
// character-device backend (line.backend gpio, line.simulation.gpio_sim). The simulated conveyor
// drives the photo-eye through the chip's pull attribute, the triggered replay camera delivers
// each part's frame, the real model decides, and the ejector samples the reject line's value: the
// account of every part's fate is the daemon's own. Writes what it saw to OUT_DIR/daemon-line.json
// for test/integration/gpio-sim.test.ts to judge, the daemon's log to OUT_DIR/daemon-line.log.
//   node deploy/gpio-sim/daemon-line.mjs OUT_DIR
import { spawn } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { gpioChardev } from "../../dist/src/line/gpio-chardev.js";
import { createSimChip } from "./sim-chip.mjs";

const OUT = process.argv[2];
const ROOT = resolve(import.meta.dirname, "../..");
const LABEL = "linesight-line";
// An emulated CPU (TCG, one vCPU) on a shared machine: a frame took 150-550 ms to decide (p50), so
// a slow belt the pipeline keeps up with, and the jet far downstream.
const PARTS = 24;
const PARTS_PER_S = 1;
const DELAY_MS = 2000;
const PULSE_MS = 100;
// The camera gives no frame from this part on: the rest are missed and get the fail-safe (reject).
const STALL_AFTER = 20;
const THROUGH_TIMEOUT_MS = 240_000;

const results = {
  config: { parts: PARTS, partsPerS: PARTS_PER_S, delayMs: DELAY_MS, pulseMs: PULSE_MS, stallAfter: STALL_AFTER },
};
const record = (name, value) => {
  results[name] = value;
  writeFileSync(join(OUT, "daemon-line.json"), JSON.stringify(results, null, 2));
};

const chip = createSimChip("linesight-line", LABEL, ["trigger", "reject", "ready", "heartbeat"]);
const cfgPath = join(OUT, "daemon-line.yaml");
// JSON is YAML.
writeFileSync(
  cfgPath,
  JSON.stringify({
    device: { id: "vm-line" },
    // (The stall alarm later than the missed parts: they are the line's fail-safe, not a camera fault.)
    camera: { source: "replay", replay: { path: join(ROOT, "footage/round-parts") }, stall_timeout_s: 60 },
    model: { path: join(ROOT, "models/round-parts") },
    storage: { path: "/tmp/vm-line/linesight.db" },
    http: { enabled: false },
    mqtt: { health_interval_s: 5 },
    line: {
      enabled: true,
      backend: "gpio",
      gpio_chip: LABEL,
      trigger: { source: "gpio", line: "trigger", edge: "rising", debounce_ms: 2, capture_delay_ms: 10 },
      reject: { line: "reject", delay_ms: DELAY_MS, pulse_ms: PULSE_MS },
      ready: { line: "ready" },
      heartbeat: { line: "heartbeat", period_ms: 200 },
      simulation: { gpio_sim: true, parts_per_s: PARTS_PER_S, parts: PARTS, camera_stall_after: STALL_AFTER },
    },
  }),
);

const t0 = Date.now();
const logs = [];
const waiters = [];
const daemon = spawn(process.execPath, ["dist/src/cli/main.js", "run", "--config", cfgPath], {
  cwd: ROOT,
  stdio: ["ignore", "pipe", "pipe"],
});
const exited = new Promise((r) => daemon.once("exit", (code, signal) => r({ code, signal })));
daemon.stderr.on("data", (b) => appendFileSync(join(OUT, "daemon-line.log"), b));
createInterface({ input: daemon.stdout }).on("line", (text) => {
  appendFileSync(join(OUT, "daemon-line.log"), `${text}\n`);
  let l;
  try {
    l = JSON.parse(text);
  } catch {
    return;
  }
  l.atS = (Date.now() - t0) / 1000;
  logs.push(l);
  for (const w of [...waiters]) if (w.match(l)) w.resolve(l);
});

/** The first log line that matches, or an error after timeoutMs (or when the daemon exits). */
function waitForLog(match, timeoutMs, what) {
  const seen = logs.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const w = { match, resolve };
    waiters.push(w);
    const fail = (why) => reject(new Error(`${what}: ${why}`));
    const timer = setTimeout(() => fail(`not logged within ${timeoutMs} ms`), timeoutMs);
    exited.then(({ code, signal }) => fail(`the daemon exited (${code ?? signal}) first`));
    w.resolve = (l) => {
      clearTimeout(timer);
      resolve(l);
    };
  });
}

const byMsg = (msg) => (l) => l.msg === msg;
try {
  const up = await waitForLog(byMsg("line I/O up"), 120_000, "line I/O up");
  // Seen from outside, through the kernel: the daemon's request holds the chip's lines.
  record("lineInfos", gpioChardev().lineInfos(chip.path));
  const belt = await waitForLog(byMsg("simulated line: parts on the belt"), 60_000, "parts on the belt");
  const through = await waitForLog(byMsg("simulated line: all parts through"), THROUGH_TIMEOUT_MS, "all parts through");
  record("run", { lineUpS: up.atS, wires: belt.wires, beltS: belt.atS, throughS: through.atS, through: through.account });
} finally {
  daemon.kill("SIGTERM");
  const exit = await exited;
  const health = logs.filter((l) => l.msg === "health").at(-1)?.health;
  record("stop", {
    exit,
    stoppedS: (Date.now() - t0) / 1000,
    account: logs.find(byMsg("simulated line: account"))?.account ?? null,
    ejector: logs.find(byMsg("gpio-sim ejector: stopped")) ?? null,
    line: health?.line ?? null,
    decisions: health?.decisions ?? null,
    errors: logs.filter((l) => l.level >= 50).map((l) => l.msg),
  });
}
record("done", true);

// Runs inside the gpio-sim VM (run-vm.sh): drives the real GPIO backend through the real LineIo
// and output worker on a configfs gpio-sim chip, and writes what it saw to OUT_DIR/results.json
// for test/integration/gpio-sim.test.ts to judge. The photo-eye is gpio-sim's pull on the trigger
// line; the outputs' levels are sampled from their sysfs value files by a second thread.
//   node deploy/gpio-sim/scenario.mjs OUT_DIR
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { configSchema } from "../../dist/src/config/schema.js";
import { gpioChardev, listChips } from "../../dist/src/line/gpio-chardev.js";
import { Line } from "../../dist/src/line/line.js";
import { monoNowMs, monoToPerfMs } from "../../dist/src/line/mono-clock.js";
import { createSimChip } from "./sim-chip.mjs";

const OUT = process.argv[2];
const HOLD = process.argv[3] === "--hold";
const LABEL = "linesight-sim";
const NAMES = ["trigger", "reject", "ready", "heartbeat", "spare"];
const DELAY_MS = 1500;
const PULSE_MS = 150;
const HEARTBEAT_MS = 200;
const results = { steps: { config: { delayMs: DELAY_MS, pulseMs: PULSE_MS, heartbeatMs: HEARTBEAT_MS } } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const record = (name, value) => {
  results.steps[name] = value;
  writeFileSync(join(OUT, "results.json"), JSON.stringify(results, null, 2));
};

const lineConfig = (over = {}) =>
  configSchema.parse({
    device: { id: "vm" },
    line: {
      enabled: true,
      backend: "gpio",
      gpio_chip: LABEL,
      // Times for an emulated CPU (TCG) on a loaded machine: everything is slow, so long.
      trigger: { source: "gpio", line: "trigger", edge: "rising", debounce_ms: 2 },
      reject: { line: "reject", delay_ms: DELAY_MS, pulse_ms: PULSE_MS },
      ready: { line: "ready" },
      heartbeat: { line: "heartbeat", period_ms: HEARTBEAT_MS },
      output_priority: "normal",
      ...over,
    },
  }).line;

if (HOLD) {
  // The process that is SIGKILLed in step 6: holds the lines with ready on and the heartbeat going.
  const line = await Line.start(lineConfig(), { wires: null });
  line.io.setReady(true);
  setTimeout(() => process.stdout.write("holding\n"), 200);
  setInterval(() => {}, 1000);
} else {
  await main();
}

async function main() {
// 1. A gpio-sim chip with named lines (configfs), live.
const { chipName, sim } = createSimChip("linesight", LABEL, NAMES);
const pull = (i, up) => writeFileSync(sim(i, "pull"), up ? "pull-up" : "pull-down");
record("chips", listChips().chips);
record("lineInfos", gpioChardev().lineInfos(`/dev/${chipName}`));

async function startError(over) {
  try {
    const line = await Line.start(lineConfig(over), { wires: null });
    await line.stop();
    return null;
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
}

// 2. A chip label that is not there.
record("missingChip", await startError({ gpio_chip: "pinctrl-rp1" }));
// 3. A line name that is not there.
record("missingLine", await startError({ reject: { line: "GPIO27", delay_ms: DELAY_MS } }));

// 4. A line held by another program: start fails naming it; check says so.
const cfgPath = join(OUT, "vm-config.yaml");
writeFileSync(
  cfgPath,
  `device: {id: vm}
storage: {path: /tmp/vm/linesight.db}
line:
  enabled: true
  gpio_chip: ${LABEL}
  trigger: {source: gpio, line: trigger}
  reject: {line: reject, delay_ms: 300}
  ready: {line: ready}
  heartbeat: {line: 3}
`,
);
const check = () => spawnSync(process.execPath, ["dist/src/cli/main.js", "check", "--config", cfgPath], { encoding: "utf8" }).stdout;
record("checkFree", check());
const other = gpioChardev().request(`/dev/${chipName}`, "other-app", [{ offset: 1, output: true, value: false }]);
record("busy", await startError({}));
record("checkBusy", check());
gpioChardev().release(other);

// 5. The line: heartbeat, ready, parts with decisions, pulses sampled from the value files.
async function startSampler() {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const { readFileSync } = require("node:fs");
     const stop = new Int32Array(workerData.stop);
     const last = {}; const changes = []; let samples = 0;
     const nap = new Int32Array(new SharedArrayBuffer(4));
     while (Atomics.load(stop, 0) === 0) {
       if (samples === 1) parentPort.postMessage("started");
       Atomics.wait(nap, 0, 0, 1); // not a busy loop: the VM has one (emulated) CPU
       for (const [name, path] of Object.entries(workerData.files)) {
         const v = readFileSync(path, "utf8").trim() === "1";
         if (last[name] !== v) { changes.push({ line: name, level: v, timeMs: Number(process.hrtime.bigint()) / 1e6 }); last[name] = v; }
       }
       samples++;
     }
     parentPort.postMessage({ changes, samples });`,
    { eval: true, workerData: { stop, files: { reject: sim(1, "value"), ready: sim(2, "value"), heartbeat: sim(3, "value") } } },
  );
  await new Promise((r) => worker.once("message", r));
  const t0 = monoNowMs();
  return async () => {
    const done = new Promise((r) => worker.once("message", r));
    Atomics.store(new Int32Array(stop), 0, 1);
    const { changes, samples } = await done;
    return { changes, samplePeriodMs: (monoNowMs() - t0) / samples };
  };
}

const stopSampler = await startSampler();
const line = await Line.start(lineConfig(), { wires: null });
const parts = [];
const fates = [];
line.io.on("part", (p) => parts.push(p));
line.io.on("fate", (f) => fates.push(f));
line.io.setReady(true);
await sleep(300);
// Part 1 reject, 2 pass, 3 no decision (fail-safe reject), 4 decision failed (fail-safe), 5 pass.
const plan = ["reject", "pass", "none", "failure", "pass"];
const triggers = [];
let seq = 0;
for (const what of plan) {
  const before = monoNowMs();
  pull(0, true);
  const after = monoNowMs();
  triggers.push({ before, after });
  // The part's frame, captured just after the edge, and its decision (or none, or a failure).
  seq++;
  const captured = monoToPerfMs(after + 1);
  line.io.frame(seq, captured);
  if (what === "failure") line.io.failure(seq, captured);
  else if (what !== "none")
    line.io.decision(seq, { action: what, score: what === "reject" ? 0.9 : 0.1, model: "vm" }, captured);
  pull(0, false);
  await sleep(600);
}
await sleep(DELAY_MS + PULSE_MS + 1000);
const stats = line.io.stats();
await line.stop();
const sampled = await stopSampler();
record("line", { plan, triggers, parts, fates, stats, sampled });

// 6. kill -9 the process holding the lines: ready and heartbeat stop changing.
const child = spawn(process.execPath, [new URL(import.meta.url).pathname, OUT, "--hold"], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => child.stdout.once("data", r));
const stopKillSampler = await startSampler();
await sleep(5 * HEARTBEAT_MS);
const killedAt = monoNowMs();
child.kill("SIGKILL");
await new Promise((r) => child.once("exit", r));
await sleep(5 * HEARTBEAT_MS);
record("sigkill", { killedAt, ...(await stopKillSampler()) });
record("done", true);
}

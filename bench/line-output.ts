// Reject pulse timing: the output worker against its schedule while the main thread is busy.
// A simulated line at --rate parts/s (eject delay --delay ms, so rate x delay parts in flight);
// each part gets a frame and (mostly) a decision from the main thread, which is blocked for
// --block ms once a second (a GC pause, a slow sharp callback, a WAL checkpoint). Measured: each
// reject pulse's start (the moment the simulated wire was written) against its part's eject time.
// For comparison, the same schedule driven by setTimeout on the main thread.
//
//   node dist/bench/line-output.js [--seconds 60] [--rate 20] [--delay 250] [--block 20]
//                                  [--priority realtime|high|normal]
import { parseArgs } from "node:util";
import { LineIo } from "../src/line/line-io.js";
import { monoNowMs, monoToPerfMs } from "../src/line/mono-clock.js";
import type { PartFate } from "../src/line/part-tracker.js";
import type { PulseReport } from "../src/line/protocol.js";
import { SimulatedWires } from "../src/line/simulated-wires.js";
import type { PriorityWish } from "../src/line/thread-priority.js";
import { percentile } from "./stats.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    rate: { type: "string", default: "20" },
    delay: { type: "string", default: "250" },
    block: { type: "string", default: "20" },
    priority: { type: "string", default: "realtime" },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const delayMs = Number(values.delay);
const blockMs = Number(values.block);
const priority = values.priority as PriorityWish;
const spacing = 1000 / rate;
const pulseMs = 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function block(ms: number): void {
  const end = monoNowMs() + ms;
  while (monoNowMs() < end) {
    // the main thread is busy
  }
}

/** Blocks the main thread `blockMs` once a second until stopped. */
function blocker(): () => void {
  let n = 0;
  const timer = setInterval(() => {
    n++;
    block(blockMs);
  }, 1000);
  return () => {
    clearInterval(timer);
    return n;
  };
}

function row(what: string, errors: number[]): string {
  const f = (x: number) => `${x.toFixed(3)} ms`;
  return `${what.padEnd(34)} n ${String(errors.length).padStart(5)}  p50 ${f(percentile(errors, 0.5))}  p99 ${f(percentile(errors, 0.99))}  max ${f(Math.max(...errors))}`;
}

async function worker(): Promise<{ errors: number[]; fates: PartFate[]; inFlightMax: number; line: LineIo }> {
  const wires = new SimulatedWires();
  const line = await LineIo.start({
    tracker: {
      mode: "trigger",
      debounceMs: 5,
      captureDelayMs: 5,
      ejectDelayMs: delayMs,
      failSafe: "reject",
      commitLeadMs: 1,
    },
    triggerEdge: "rising",
    pulseMs,
    heartbeatMs: 100,
    outputs: { reject: { activeLow: false }, ready: { activeLow: false }, heartbeat: { activeLow: false } },
    backend: { kind: "simulated", wires },
    priority,
  });
  line.setReady(true);
  const fates: PartFate[] = [];
  line.on("fate", (f) => fates.push(f));
  const pulses_: PulseReport[] = [];
  line.on("pulse", (p) => pulses_.push(p));
  let inFlightMax = 0;
  const stopBlocking = blocker();
  const t0 = monoNowMs() + 100;
  const parts = Math.round(seconds * rate);
  for (let i = 0; i < parts; i++) {
    const edge = t0 + i * spacing;
    while (monoNowMs() < edge + 8) await sleep(1);
    wires.part(edge, 3);
    const seq = i + 1;
    const captured = monoToPerfMs(edge + 6);
    line.frame(seq, captured);
    // 4 in 5 rejected (so most parts pulse), 1 in 20 never decided (the worker's fail-safe).
    if (i % 20 !== 19) {
      setTimeout(() => {
        line.decision(seq, { action: i % 5 === 4 ? "pass" : "reject", score: null, model: "bench" }, captured);
      }, 15);
    }
    inFlightMax = Math.max(inFlightMax, Math.floor(delayMs / spacing) + 1);
  }
  while (monoNowMs() < t0 + parts * spacing + delayMs + 200) await sleep(20);
  stopBlocking();
  // Each wire pulse against the schedule of the part that started it; a part whose time came while
  // the line was still on for the one before lengthened that pulse (counted, not timed).
  const reports = pulses_.filter((p) => !p.merged);
  const pulses = wires.pulses("reject");
  if (pulses.length !== reports.length) throw new Error(`${pulses.length} wire pulses, ${reports.length} reported`);
  const errors = pulses.map((p, i) => p.startMs - (reports[i] as PulseReport).scheduledMs);
  if (process.env.LINE_BENCH_DEBUG) {
    const worst = errors.map((e, i) => ({ e, at: (pulses[i]?.startMs ?? 0) - t0 })).sort((a, b) => b.e - a.e);
    for (const x of worst.slice(0, 8)) console.error(`late ${x.e.toFixed(3)} ms at ${x.at.toFixed(0)} ms`);
  }
  return { errors, fates, inFlightMax, line };
}

/** The same pulse schedule with setTimeout on the main thread, same blocking. */
async function mainThread(): Promise<number[]> {
  const errors: number[] = [];
  const stopBlocking = blocker();
  const t0 = monoNowMs() + 100;
  const parts = Math.round(seconds * rate);
  for (let i = 0; i < parts; i++) {
    const at = t0 + i * spacing + delayMs;
    setTimeout(() => errors.push(monoNowMs() - at), at - monoNowMs());
  }
  while (monoNowMs() < t0 + parts * spacing + delayMs + 200) await sleep(20);
  stopBlocking();
  return errors;
}

const w = await worker();
const stats = w.line.stats();
await w.line.stop();
const m = await mainThread();
const c = stats.counters;
const pr = w.line.priority;
const prText = pr.policy === "fifo" ? `SCHED_FIFO ${pr.priority}` : pr.policy === "nice" ? `nice ${pr.nice}` : "normal";
console.log(
  `line output, ${seconds} s at ${rate} parts/s, eject ${delayMs} ms after the edge (${Math.floor(delayMs / spacing)}-${w.inFlightMax} parts in flight), main thread blocked ${blockMs} ms once a second, output thread ${prText}`,
);
console.log(
  `reject pulses ${stats.rejectsFired}, of which ${stats.pulsesMerged} lengthened the pulse before (line still on)`,
);
console.log(
  `parts ${c.parts}: ejected ${c.ejected} (fail-safe ${c.failSafe}), passed ${c.passed}, missed ${c.missed}, late decisions ${c.lateDecisions}`,
);
console.log(row("output worker: pulse start error", w.errors));
console.log(row("setTimeout on the main thread", m));
const p99 = percentile(w.errors, 0.99);
const max = Math.max(...w.errors);
console.log(`target p99 <= 2 ms, max <= 5 ms: ${p99 <= 2 && max <= 5 ? "met" : "NOT met"}`);

// The output worker: the thread that owns the line. It reads trigger edges, keeps the parts in
// flight, applies the fail-safe at each part's deadline and drives the reject, ready and heartbeat
// outputs at their times. It never returns to its event loop: it sleeps in Atomics.wait (or the
// backend's poll) until the next thing is due, then spins the last fraction of a millisecond, so
// its timing depends neither on the main thread (GC, sharp callbacks, SQLite commits) nor on
// timers. If the main thread hangs, parts still get their fail-safe here, on time.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import type { LineBackend, LineEdge, OutputLine } from "./backend.js";
import { GpioBackend } from "./gpio-backend.js";
import { monoNowMs } from "./mono-clock.js";
import { Heartbeat, PulseSchedule } from "./output-schedule.js";
import { type PartFate, PartTracker } from "./part-tracker.js";
import { FEED, type FromWorker, type ToWorker, WAKE, type WorkerSetup } from "./protocol.js";
import { SimulatedBackend } from "./simulated-backend.js";
import { SpscRing } from "./spsc-ring.js";
import { raiseThisThread } from "./thread-priority.js";

/** Sleep until this long before a due time, then spin: Atomics.wait wakes up to ~0.1 ms late. */
const SPIN_MS = 0.5;
/** Longest single sleep: how often messages and edges are looked for. The main thread does not
 * wake this thread (see LineIo), so a decision reaches it at most this late. */
const POLL_MS = 2;

const setup = workerData as WorkerSetup;
const port = parentPort as MessagePort;
const signal = new Int32Array(setup.signal);
const inbox = new SpscRing(setup.toWorker);
const outbox = new SpscRing(setup.fromWorker);
// Reports go through the ring: no lock shared with the main thread (a full ring drops, counted).
const post = (m: FromWorker) => void outbox.push(m);

function createBackend(): LineBackend {
  switch (setup.backend.kind) {
    case "simulated":
      return new SimulatedBackend(setup.backend.rings, setup.backend.failOpen);
    case "gpio":
      return new GpioBackend(setup.backend.gpio);
  }
}

const backend = createBackend();
const tracker = new PartTracker(setup.tracker);
const pulses = new PulseSchedule(setup.pulseMs);
const heartbeat = new Heartbeat(setup.heartbeatMs, monoNowMs());
let readyWanted = false;
let readyLevel: boolean | null = null;
const levels = new Map<OutputLine, boolean>();

/** Sets an output's logical state; the physical level applies its polarity. Never throws. */
function drive(line: OutputLine, active: boolean): void {
  const out = setup.outputs[line];
  if (!out || levels.get(line) === active) return;
  try {
    backend.write(line, active !== out.activeLow);
    levels.set(line, active);
  } catch (err) {
    post({ type: "write_error", line, message: (err as Error).message });
  }
}

function settled(fates: readonly PartFate[]): void {
  for (const fate of fates) {
    if (fate.eject) pulses.schedule(fate.partId, fate.ejectAtMs);
    post({ type: "fate", fate, counters: tracker.counters });
  }
}

function onEdge(edge: LineEdge): void {
  if (edge.line !== "trigger" || edge.rising !== (setup.triggerEdge === "rising")) return;
  trigger(edge.timeMs);
}

function trigger(timeMs: number): void {
  if (setup.tracker.mode !== "trigger") return;
  const r = tracker.trigger(timeMs);
  if ("part" in r) post({ type: "part", partId: r.part.id, edgeMs: r.part.edgeMs });
}

/** Returns false on stop. */
function handle(m: ToWorker, now: number): boolean {
  switch (m.type) {
    case "frame": {
      const r = tracker.frame(m.seq, m.capturedMs);
      settled(r.missed);
      if (r.part) post({ type: "assigned", seq: m.seq, partId: r.part.id, edgeMs: r.part.edgeMs });
      else post({ type: "unassigned", seq: m.seq });
      return true;
    }
    case "decision": {
      const fate = tracker.decision(m.seq, m.verdict, now, m.capturedMs);
      if (fate) settled([fate]);
      return true;
    }
    case "failure": {
      const fate = tracker.failure(m.seq, now, m.capturedMs);
      if (fate) settled([fate]);
      return true;
    }
    case "trigger":
      trigger(m.timeMs);
      return true;
    case "paused":
      tracker.setPaused(m.value);
      return true;
    case "ready":
      readyWanted = m.value;
      return true;
    case "stop":
      return false;
  }
}

function runDue(now: number): void {
  settled(tracker.advance(now));
  for (const e of pulses.due(now)) {
    if (e.type === "off") {
      drive("reject", false);
    } else if (e.type === "on") {
      drive("reject", true);
      const startedMs = monoNowMs();
      pulses.wentActiveAt(startedMs);
      post({ type: "pulse", pulse: { partId: e.partId, scheduledMs: e.scheduledMs, startedMs, merged: false } });
    } else {
      post({ type: "pulse", pulse: { partId: e.partId, scheduledMs: e.scheduledMs, startedMs: now, merged: true } });
    }
  }
  const beat = heartbeat.tick(now, Atomics.load(signal, FEED));
  if (beat) drive("heartbeat", heartbeat.level);
  const ready = readyWanted && heartbeat.alive;
  if (ready !== readyLevel || beat) {
    readyLevel = ready;
    drive("ready", ready);
    post({
      type: "outputs",
      ready,
      heartbeat: heartbeat.level,
      heartbeats: heartbeat.count,
      alive: heartbeat.alive,
      counters: tracker.counters,
    });
  }
}

function nextDue(): number {
  let next = heartbeat.nextDueMs();
  const t = tracker.nextDueMs();
  if (t !== null && t < next) next = t;
  const p = pulses.nextDueMs();
  if (p !== null && p < next) next = p;
  return next;
}

function loop(): void {
  for (;;) {
    Atomics.store(signal, WAKE, 0);
    // Edges first: a frame message is always about a capture after the edges before it.
    for (const edge of backend.readEdges()) onEdge(edge);
    for (let m = inbox.pop(); m !== undefined; m = inbox.pop()) {
      if (!handle(m as ToWorker, monoNowMs())) return;
    }
    runDue(monoNowMs());
    const next = nextDue();
    const left = next - monoNowMs();
    if (left > SPIN_MS) backend.wait(Math.min(left - SPIN_MS, POLL_MS), signal);
    else while (monoNowMs() < next && Atomics.load(signal, WAKE) === 0);
  }
}

try {
  backend.open();
} catch (err) {
  port.postMessage({ type: "fatal", message: (err as Error).message } satisfies FromWorker);
  process.exit(1);
}
for (const line of ["reject", "ready", "heartbeat"] as const) {
  const out = setup.outputs[line];
  if (out) {
    backend.write(line, out.activeLow);
    levels.set(line, false);
  }
}
port.postMessage({ type: "opened", priority: raiseThisThread(setup.priority) } satisfies FromWorker);
try {
  loop();
} finally {
  for (const line of ["reject", "ready", "heartbeat"] as const) drive(line, false);
  backend.close();
  port.postMessage({ type: "stopped", counters: tracker.counters } satisfies FromWorker);
}

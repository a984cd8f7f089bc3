// Main-thread side of the line: starts the output worker, feeds it frames and decisions, and
// keeps what the health report and the PLC need (counters, pulse timing, edge-to-decision).
// Every call is a postMessage plus a wake-up: nothing here waits for the worker.
import { EventEmitter } from "node:events";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { type LatencySummary, LatencyWindow } from "../monitor/latency.js";
import { workerScriptUrl } from "../worker-url.js";
import { LineSetupError, type OutputLine } from "./backend.js";
import type { GpioSetup } from "./gpio-lines.js";
import { monoNowMs, perfToMonoMs } from "./mono-clock.js";
import {
  emptyLineCounters,
  type LineCounters,
  type PartFate,
  type PartTrackerOptions,
  type Verdict,
} from "./part-tracker.js";
import {
  type BackendSetup,
  FEED,
  type FromWorker,
  type OutputSetup,
  type PulseReport,
  SIGNAL_SLOTS,
  type ToWorker,
  WAKE,
  type WorkerSetup,
} from "./protocol.js";
import type { SimulatedWires } from "./simulated-wires.js";
import { SpscRing } from "./spsc-ring.js";
import type { PriorityResult, PriorityWish } from "./thread-priority.js";

export interface LineIoOptions {
  tracker: PartTrackerOptions;
  triggerEdge: "rising" | "falling";
  pulseMs: number;
  heartbeatMs: number;
  outputs: Record<OutputLine, OutputSetup | null>;
  backend: { kind: "simulated"; wires: SimulatedWires } | { kind: "gpio"; gpio: GpioSetup };
  /** The output thread's scheduling: realtime (SCHED_FIFO), high (nice -20) or normal. Default realtime. */
  priority?: PriorityWish;
  logger?: Logger;
}

export interface LineOutputsState {
  ready: boolean;
  heartbeat: boolean;
  /** Heartbeat toggles so far. */
  heartbeats: number;
  /** The worker sees the main thread alive (its heartbeat feed moving). */
  alive: boolean;
}

export interface LineStats {
  counters: LineCounters;
  /** Parts on the belt between their trigger and the reject actuator now. */
  inFlight: number;
  /** The most at once since the last stats(). */
  inFlightMax: number;
  rejectsFired: number;
  /** Reject pulses that began while the line was still active for the part before. */
  pulsesMerged: number;
  /** Pulse start against its scheduled time, ms (merged pulses excluded). */
  pulseError: LatencySummary;
  /** Trigger edge to the verdict reaching the output thread, ms (trigger mode). */
  edgeToDecision: LatencySummary;
  outputs: LineOutputsState;
  writeErrors: number;
  /** Reports from the output thread lost because this thread did not read them for seconds. */
  reportsLost: number;
}

export interface LineIoEvents {
  part: [{ partId: number; edgeMs: number }];
  fate: [PartFate];
  pulse: [PulseReport];
  outputs: [LineOutputsState];
  write_error: [{ line: OutputLine; message: string }];
  /** The worker died: the outputs are no longer driven. The daemon should stop (and be restarted). */
  failed: [Error];
}

/** How many frame -> part assignments are remembered for partOf(). */
const ASSIGNMENTS_KEPT = 256;
/** How often the worker's reports are read. */
const REPORT_POLL_MS = 5;
const TO_WORKER_BYTES = 1 << 16;
/** ~15 s of reports at 20 parts/s while the main thread does not read them. */
const FROM_WORKER_BYTES = 1 << 18;

export class LineIo extends EventEmitter<LineIoEvents> {
  private readonly signal: Int32Array;
  private counters: LineCounters | null = null;
  private readonly pulseError = new LatencyWindow();
  private readonly edgeToDecision = new LatencyWindow();
  private rejectsFired = 0;
  private pulsesMerged = 0;
  private writeErrors = 0;
  /** Parts between their trigger and the actuator: id -> when the part reaches it (null: not yet known). */
  private readonly partsInFlight = new Map<number, number | null>();
  private inFlightMax = 0;
  private outputs: LineOutputsState = { ready: false, heartbeat: false, heartbeats: 0, alive: true };
  /** Frame seq -> its part, or null: the worker said it belongs to none. */
  private readonly assigned = new Map<number, { partId: number; edgeMs: number } | null>();
  private readonly waiting = new Map<number, ((p: { partId: number; edgeMs: number } | undefined) => void)[]>();
  private readonly feedTimer: NodeJS.Timeout;
  private readonly reportTimer: NodeJS.Timeout;
  private readonly inbox: SpscRing;
  private readonly reports: SpscRing;
  private stopping = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    signal: SharedArrayBuffer,
    rings: { toWorker: SharedArrayBuffer; fromWorker: SharedArrayBuffer },
    readonly options: LineIoOptions,
    /** What the output thread's scheduling became. */
    readonly priority: PriorityResult,
  ) {
    super();
    this.signal = new Int32Array(signal);
    this.inbox = new SpscRing(rings.toWorker);
    this.reports = new SpscRing(rings.fromWorker);
    this.reportTimer = setInterval(() => this.drain(), REPORT_POLL_MS);
    this.reportTimer.unref();
    // The heartbeat output follows this timer: if the main thread stops running it, the heartbeat stops.
    this.feedTimer = setInterval(() => Atomics.add(this.signal, FEED, 1), Math.max(1, options.heartbeatMs / 2));
    this.feedTimer.unref();
    Atomics.add(this.signal, FEED, 1);
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", (code) => {
      clearInterval(this.feedTimer);
      clearInterval(this.reportTimer);
      this.drain();
      if (!this.stopping) this.fail(new Error(`line output worker exited (code ${code})`));
    });
  }

  /** Starts the worker and claims the lines; throws LineSetupError if they cannot be had. */
  static async start(options: LineIoOptions): Promise<LineIo> {
    const signal = new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const wakeArray = new Int32Array(signal);
    // No Atomics.notify: V8 implements it under a process-wide mutex that the worker's
    // Atomics.wait takes too, so a main thread preempted inside notify would hold up the output
    // thread (priority inversion). The worker polls instead (POLL_MS in output-worker.ts).
    const wake = () => Atomics.store(wakeArray, WAKE, 1);
    const b = options.backend;
    const backend: BackendSetup =
      b.kind === "gpio" ? b : { kind: "simulated", rings: b.wires.connect(wake), failOpen: b.wires.failOpen };
    const setup: WorkerSetup = {
      tracker: options.tracker,
      triggerEdge: options.triggerEdge,
      pulseMs: options.pulseMs,
      heartbeatMs: options.heartbeatMs,
      outputs: options.outputs,
      backend,
      signal,
      toWorker: SpscRing.allocate(TO_WORKER_BYTES),
      fromWorker: SpscRing.allocate(FROM_WORKER_BYTES),
      priority: options.priority ?? "realtime",
    };
    const worker = new Worker(workerScriptUrl("line/output-worker.js", import.meta.url), {
      workerData: setup,
    });
    const first = await new Promise<FromWorker>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    if (first.type !== "opened") {
      await worker.terminate();
      throw new LineSetupError(first.type === "fatal" ? first.message : `line output worker said ${first.type}`);
    }
    const line = new LineIo(worker, signal, setup, options, first.priority);
    if (first.priority.policy === "normal" && first.priority.reason)
      options.logger?.warn(
        { reason: first.priority.reason },
        "line output thread at normal priority: reject pulse timing depends on the machine's load",
      );
    return line;
  }

  /** Every frame the camera delivers (trigger mode): `capturedMono` as frames carry it (performance.now()). */
  frame(seq: number, capturedMono: number): void {
    if (this.options.tracker.mode !== "trigger") return;
    this.send({ type: "frame", seq, capturedMs: perfToMonoMs(capturedMono) });
  }

  /** The model's verdict on a frame (`capturedMono`: performance.now() at capture). */
  decision(seq: number, verdict: Verdict, capturedMono: number): void {
    this.send({ type: "decision", seq, verdict, capturedMs: perfToMonoMs(capturedMono) });
  }

  /** The decision on a frame failed: its part gets the fail-safe now. */
  failure(seq: number, capturedMono: number): void {
    this.send({ type: "failure", seq, capturedMs: perfToMonoMs(capturedMono) });
  }

  /** A trigger that is not a wire (PLC software trigger, command); now unless `atMonoMs` (line clock). */
  trigger(atMonoMs: number = monoNowMs()): void {
    this.send({ type: "trigger", timeMs: atMonoMs });
  }

  /** Paused inspection: parts reaching their deadline get the fail-safe with cause `paused`. */
  setPaused(paused: boolean): void {
    this.send({ type: "paused", value: paused });
  }

  /** Hold the ready output on (while inspecting) or off. */
  setReady(ready: boolean): void {
    this.send({ type: "ready", value: ready });
  }

  /** The part a frame was assigned to (trigger mode), while remembered. */
  partOf(seq: number): { partId: number; edgeMs: number } | undefined {
    this.drain(); // the assignment may still be in the worker's ring
    return this.assigned.get(seq) ?? undefined;
  }

  /**
   * The same, waiting up to `timeoutMs` for the worker's answer: a frame can be decided before
   * the output thread's assignment of it has come back (preprocessing and inference take ~1 ms).
   */
  partOfSoon(seq: number, timeoutMs = 250): Promise<{ partId: number; edgeMs: number } | undefined> {
    this.drain();
    if (this.assigned.has(seq) || this.stopping) return Promise.resolve(this.assigned.get(seq) ?? undefined);
    return new Promise((resolve) => {
      const answer = (p: { partId: number; edgeMs: number } | undefined) => {
        clearTimeout(timer);
        resolve(p);
      };
      const timer = setTimeout(() => {
        // No answer (the worker is gone or behind): unknown, and no longer waited for.
        const list = this.waiting.get(seq)?.filter((f) => f !== answer);
        if (list?.length) this.waiting.set(seq, list);
        else this.waiting.delete(seq);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      const list = this.waiting.get(seq);
      if (list) list.push(answer);
      else this.waiting.set(seq, [answer]);
    });
  }

  private answered(seq: number, part: { partId: number; edgeMs: number } | null): void {
    this.assigned.set(seq, part);
    if (this.assigned.size > ASSIGNMENTS_KEPT) {
      const oldest = this.assigned.keys().next().value;
      if (oldest !== undefined) this.assigned.delete(oldest);
    }
    const list = this.waiting.get(seq);
    if (!list) return;
    this.waiting.delete(seq);
    for (const answer of list) answer(part ?? undefined);
  }

  stats(): LineStats {
    this.drain();
    return {
      counters: this.counters ?? emptyLineCounters(),
      inFlight: this.countInFlight(),
      inFlightMax: this.takeInFlightMax(),
      rejectsFired: this.rejectsFired,
      pulsesMerged: this.pulsesMerged,
      pulseError: this.pulseError.summary(),
      edgeToDecision: this.edgeToDecision.summary(),
      outputs: { ...this.outputs },
      writeErrors: this.writeErrors,
      reportsLost: this.reports.dropped,
    };
  }

  /** Outputs to inactive, lines released, worker ended. */
  async stop(): Promise<void> {
    if (this.stopping) return this.exited;
    this.stopping = true;
    clearInterval(this.feedTimer);
    this.send({ type: "stop" });
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
    this.drain();
  }

  private send(m: ToWorker): void {
    if (this.stopping && m.type !== "stop") return;
    // A time that is not a number would leave a part in flight forever: refuse it here, loudly.
    const t = m.type === "trigger" ? m.timeMs : "capturedMs" in m ? m.capturedMs : 0;
    if (!Number.isFinite(t)) {
      this.options.logger?.error({ message: m.type }, "line: a frame or trigger without a valid time was ignored");
      return;
    }
    if (!this.inbox.push(m))
      this.options.logger?.error({ message: m.type }, "line output thread is not taking messages (hung or dead)");
    Atomics.store(this.signal, WAKE, 1);
  }

  /** Counts the parts between trigger and actuator now (forgetting those past it) and keeps the highest count seen. */
  private countInFlight(): number {
    const now = monoNowMs();
    for (const [id, at] of this.partsInFlight) if (at !== null && at <= now) this.partsInFlight.delete(id);
    this.inFlightMax = Math.max(this.inFlightMax, this.partsInFlight.size);
    return this.partsInFlight.size;
  }

  /** The most parts in flight at once since the last call. */
  private takeInFlightMax(): number {
    const max = Math.max(this.inFlightMax, this.partsInFlight.size);
    this.inFlightMax = this.partsInFlight.size;
    return max;
  }

  /** Reads the output thread's reports. */
  private drain(): void {
    for (let m = this.reports.pop(); m !== undefined; m = this.reports.pop()) this.onMessage(m as FromWorker);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case "part":
        this.partsInFlight.set(m.partId, null);
        this.countInFlight();
        this.emit("part", { partId: m.partId, edgeMs: m.edgeMs });
        return;
      case "assigned":
        this.answered(m.seq, { partId: m.partId, edgeMs: m.edgeMs });
        return;
      case "unassigned":
        this.answered(m.seq, null);
        return;
      case "fate": {
        this.counters = m.counters;
        const f = m.fate;
        if (f.cause === "decision" && this.options.tracker.mode === "trigger")
          this.edgeToDecision.record(f.settledMs - f.edgeMs);
        // A part stays "in flight" until it has passed the actuator, whatever its fate.
        this.partsInFlight.set(f.partId, f.ejectAtMs);
        this.countInFlight();
        this.emit("fate", f);
        return;
      }
      case "pulse":
        this.rejectsFired++;
        if (m.pulse.merged) this.pulsesMerged++;
        else this.pulseError.record(m.pulse.startedMs - m.pulse.scheduledMs);
        this.emit("pulse", m.pulse);
        return;
      case "outputs":
        this.outputs = { ready: m.ready, heartbeat: m.heartbeat, heartbeats: m.heartbeats, alive: m.alive };
        this.counters = m.counters;
        this.emit("outputs", this.outputs);
        return;
      case "write_error":
        this.writeErrors++;
        this.options.logger?.error({ line: m.line, err: m.message }, "line output write failed");
        this.emit("write_error", { line: m.line, message: m.message });
        return;
      case "stopped":
        this.counters = m.counters;
        return;
      case "opened":
      case "fatal":
        return;
    }
  }

  private fail(err: Error): void {
    this.options.logger?.error({ err }, "line output worker failed: outputs are no longer driven");
    if (this.listenerCount("failed") > 0) this.emit("failed", err);
  }
}

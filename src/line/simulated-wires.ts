// The simulator's end of the simulated line: it raises input edges (a photo-eye seeing a part)
// and records every output write the worker makes, with the time it was made. Main thread side.
// The simulated conveyor's wires (src/simulate/conveyor-wires.ts) for `line.backend: simulated`.
import type { LineEdge, OutputLine } from "./backend.js";
import type { SimulatedRings, SimulatedWrite } from "./simulated-backend.js";
import { SpscRing } from "./spsc-ring.js";

export interface RecordedPulse {
  startMs: number;
  /** null while the line is still active. */
  endMs: number | null;
}

const RING_BYTES = 1 << 20;
/** Writes kept for pulses()/level(): about an hour of a busy simulated line. */
const KEEP_WRITES = 200_000;

export class SimulatedWires {
  readonly name = "simulated wires";
  /** Edges are stamped with the time they are given. */
  readonly live = false;
  private readonly recorded: SimulatedWrite[] = [];
  private readonly rings: SimulatedRings = {
    edges: SpscRing.allocate(RING_BYTES),
    writes: SpscRing.allocate(RING_BYTES),
  };
  private readonly edgeRing = new SpscRing(this.rings.edges);
  private readonly writeRing = new SpscRing(this.rings.writes);
  private wake: (() => void) | null = null;
  private handedOut = false;

  private readonly timer: NodeJS.Timeout;
  /** Sees every write once, in order, as it is read from the worker (the simulator's ejector). */
  onWrite: ((w: SimulatedWrite) => void) | null = null;

  constructor(
    /** Make the worker's open() fail with this message (setup error tests). */
    readonly failOpen: string | null = null,
  ) {
    // Read the ejector's record even when nobody asks, so the ring never fills.
    this.timer = setInterval(() => void this.writes, 100);
    this.timer.unref();
  }

  /** The worker's end; LineIo hands it over, once. */
  connect(wake: () => void): SimulatedRings {
    if (this.handedOut) throw new Error("simulated wires are already connected to a line");
    this.handedOut = true;
    this.wake = wake;
    return this.rings;
  }

  /** Every write so far, in order (physical levels). */
  get writes(): readonly SimulatedWrite[] {
    for (let w = this.writeRing.pop(); w !== undefined; w = this.writeRing.pop()) {
      this.recorded.push(w as SimulatedWrite);
      this.onWrite?.(w as SimulatedWrite);
    }
    if (this.recorded.length > KEEP_WRITES) this.recorded.splice(0, this.recorded.length - KEEP_WRITES / 2);
    return this.recorded;
  }

  /** An input edge that happened at `timeMs` (line clock). */
  edge(timeMs: number, rising = true, line: LineEdge["line"] = "trigger"): { fromMs: number; toMs: number } {
    const e: LineEdge = { line, rising, timeMs };
    if (!this.edgeRing.push(e)) throw new Error("simulated line: the output worker is not reading edges");
    this.wake?.();
    return { fromMs: timeMs, toMs: timeMs };
  }

  /** Reads the worker's writes so far (each to onWrite). */
  poll(): void {
    void this.writes;
  }

  /** A part passing the photo-eye: a rising edge at `timeMs`, the falling one `widthMs` later. */
  part(timeMs: number, widthMs = 5): void {
    this.edge(timeMs, true);
    this.edge(timeMs + widthMs, false);
  }

  /** The pulses `line` made, from its writes; `activeLow` as configured. */
  pulses(line: OutputLine = "reject", activeLow = false): RecordedPulse[] {
    const out: RecordedPulse[] = [];
    for (const w of this.writes) {
      if (w.line !== line) continue;
      const active = w.level !== activeLow;
      const open = out[out.length - 1];
      if (active && (!open || open.endMs !== null)) out.push({ startMs: w.timeMs, endMs: null });
      else if (!active && open && open.endMs === null) open.endMs = w.timeMs;
    }
    return out;
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The last level written to `line`, or null if never written. */
  level(line: OutputLine): boolean | null {
    const all = this.writes;
    for (let i = all.length - 1; i >= 0; i--) {
      const w = all[i] as SimulatedWrite;
      if (w.line === line) return w.level;
    }
    return null;
  }
}

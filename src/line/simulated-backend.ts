// The simulated line's side inside the output worker: input edges arrive from the simulator
// (stamped with the time they "happened"), and every output write goes back with the time it was
// made, both through shared-memory rings (no lock shared with the main thread). Above this, the
// worker runs exactly the code that drives real GPIO.
import { type LineBackend, type LineEdge, LineSetupError, type OutputLine } from "./backend.js";
import { monoNowMs } from "./mono-clock.js";
import { SpscRing } from "./spsc-ring.js";

export interface SimulatedWrite {
  line: OutputLine;
  level: boolean;
  timeMs: number;
}

export interface SimulatedRings {
  /** Simulator -> worker: LineEdge records. */
  edges: SharedArrayBuffer;
  /** Worker -> simulator: SimulatedWrite records. */
  writes: SharedArrayBuffer;
}

export class SimulatedBackend implements LineBackend {
  private readonly edges: SpscRing;
  private readonly writes: SpscRing;

  constructor(
    rings: SimulatedRings,
    private readonly failOpen: string | null,
  ) {
    this.edges = new SpscRing(rings.edges);
    this.writes = new SpscRing(rings.writes);
  }

  open(): void {
    if (this.failOpen) throw new LineSetupError(this.failOpen);
  }

  write(line: OutputLine, level: boolean): void {
    const w: SimulatedWrite = { line, level, timeMs: monoNowMs() };
    if (!this.writes.push(w)) throw new Error("simulated ejector's record is full: the simulator stopped reading");
  }

  readEdges(): LineEdge[] {
    const out: LineEdge[] = [];
    for (let e = this.edges.pop(); e !== undefined; e = this.edges.pop()) out.push(e as LineEdge);
    return out;
  }

  wait(timeoutMs: number, wake: Int32Array): void {
    Atomics.wait(wake, 0, 0, timeoutMs);
  }

  close(): void {}
}

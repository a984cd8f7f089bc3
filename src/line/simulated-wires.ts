// The simulator's end of the simulated line: it raises input edges (a photo-eye seeing a part)
// and records every output write the worker makes, with the time it was made. Main thread side.
import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { LineEdge, OutputLine } from "./backend.js";
import type { SimulatedEdgeMessage, SimulatedWrite } from "./simulated-backend.js";

export interface RecordedPulse {
  startMs: number;
  /** null while the line is still active. */
  endMs: number | null;
}

export class SimulatedWires {
  /** Every write, in order (physical levels). */
  readonly writes: SimulatedWrite[] = [];
  private readonly channel = new MessageChannel();
  private wake: (() => void) | null = null;
  private handedOut = false;

  constructor(
    /** Make the worker's open() fail with this message (setup error tests). */
    readonly failOpen: string | null = null,
  ) {
    this.channel.port1.on("message", (m: SimulatedWrite) => {
      if (m.type === "write") this.writes.push(m);
    });
    this.channel.port1.unref();
  }

  /** The worker's end; LineIo transfers it, once. */
  takeWorkerPort(wake: () => void): MessagePort {
    if (this.handedOut) throw new Error("simulated wires are already connected to a line");
    this.handedOut = true;
    this.wake = wake;
    return this.channel.port2;
  }

  /** An input edge that happened at `timeMs` (line clock). */
  edge(timeMs: number, rising = true, line: LineEdge["line"] = "trigger"): void {
    const m: SimulatedEdgeMessage = { type: "edge", line, rising, timeMs };
    this.channel.port1.postMessage(m);
    this.wake?.();
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

  /** The last level written to `line`, or null if never written. */
  level(line: OutputLine): boolean | null {
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const w = this.writes[i] as SimulatedWrite;
      if (w.line === line) return w.level;
    }
    return null;
  }

  close(): void {
    this.channel.port1.close();
  }
}

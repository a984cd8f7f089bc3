// Messages between the main thread (LineIo) and the output worker. Times are on the line clock.
import type { OutputLine } from "./backend.js";
import type { GpioSetup } from "./gpio-lines.js";
import type { LineCounters, PartFate, PartTrackerOptions, Verdict } from "./part-tracker.js";
import type { SimulatedRings } from "./simulated-backend.js";
import type { PriorityResult, PriorityWish } from "./thread-priority.js";

/** Slots of the shared Int32Array: WAKE is set (and notified) when a message is waiting; FEED is
 * counted up by the main thread while its event loop runs (the heartbeat follows it). */
export const WAKE = 0;
export const FEED = 1;
export const SIGNAL_SLOTS = 2;

export type BackendSetup =
  | {
      kind: "simulated";
      rings: SimulatedRings;
      /** Make open() fail with this message (tests of the setup error path). */
      failOpen: string | null;
    }
  | { kind: "gpio"; gpio: GpioSetup };

export interface OutputSetup {
  activeLow: boolean;
}

export interface WorkerSetup {
  tracker: PartTrackerOptions;
  triggerEdge: "rising" | "falling";
  pulseMs: number;
  heartbeatMs: number;
  /** null: the output is not wired. */
  outputs: Record<OutputLine, OutputSetup | null>;
  backend: BackendSetup;
  signal: SharedArrayBuffer;
  /** SpscRing buffers: ToWorker messages in, FromWorker messages out (no MessagePort, see spsc-ring.ts). */
  toWorker: SharedArrayBuffer;
  fromWorker: SharedArrayBuffer;
  priority: PriorityWish;
}

export type ToWorker =
  | { type: "frame"; seq: number; capturedMs: number }
  | { type: "decision"; seq: number; verdict: Verdict; capturedMs: number }
  | { type: "failure"; seq: number; capturedMs: number }
  /** A trigger that is not a wire: the PLC's software trigger, a command. */
  | { type: "trigger"; timeMs: number }
  | { type: "paused"; value: boolean }
  | { type: "ready"; value: boolean }
  | { type: "stop" };

export interface PulseReport {
  partId: number;
  scheduledMs: number;
  /** When the line was set (just after the write returned). */
  startedMs: number;
  /** The line was already active for an earlier part: this pulse lengthened it. */
  merged: boolean;
}

export type FromWorker =
  | { type: "opened"; priority: PriorityResult }
  | { type: "fatal"; message: string }
  | { type: "part"; partId: number; edgeMs: number }
  | { type: "assigned"; seq: number; partId: number; edgeMs: number }
  /** The frame belongs to no part (between parts in trigger mode): partOf() need not wait for it. */
  | { type: "unassigned"; seq: number }
  | { type: "fate"; fate: PartFate; counters: LineCounters }
  | { type: "pulse"; pulse: PulseReport }
  /** Each heartbeat tick: the outputs, and the counters (also moved by events without a fate). */
  | { type: "outputs"; ready: boolean; heartbeat: boolean; heartbeats: number; alive: boolean; counters: LineCounters }
  | { type: "write_error"; line: OutputLine; message: string }
  | { type: "stopped"; counters: LineCounters };

// What the simulated conveyor and ejector touch of the line: the photo-eye's input and the reject
// output. Two implementations: the simulated wires behind `line.backend: simulated`
// (src/line/simulated-wires.ts) and a gpio-sim chip's sysfs attributes behind the real GPIO
// backend (gpio-sim-wires.ts, `line.simulation.gpio_sim`). The simulator (line-simulator.ts) is the
// same for both; so is everything between the wires and the camera.
import type { OutputLine } from "../line/backend.js";

/** An output level as the ejector saw it: physical, on the line clock (ms). */
export interface OutputReading {
  line: OutputLine;
  level: boolean;
  timeMs: number;
}

/** When an edge happened on the line clock: within [fromMs, toMs]. */
export interface EdgeWindow {
  fromMs: number;
  toMs: number;
}

export interface ConveyorWires {
  /** For the logs: "simulated wires", "gpio-sim /dev/gpiochip1 ...". */
  readonly name: string;
  /**
   * false: an edge is stamped with the time it is given (it may be in the past). true: a kernel's
   * line, where an edge happens when it is written; the kernel stamps it during the write.
   */
  readonly live: boolean;
  /** The photo-eye's input changes: at `timeMs` on simulated wires, now on a live line. */
  edge(timeMs: number, rising: boolean): EdgeWindow;
  /** Hears each output level change the ejector sees (the reject output's at least), once, in order. */
  onWrite: ((w: OutputReading) => void) | null;
  /** Reads what the ejector saw since the last call into onWrite. */
  poll(): void;
  close(): void | Promise<void>;
}

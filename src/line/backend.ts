// The seam between linesight and the line's wires. Everything above it (part tracking, fail-safe,
// pulse timing, heartbeat) is the same code for real GPIO and for the simulated line; a backend
// only requests lines, reads input edges and sets output levels. It runs inside the output
// worker thread, and every call is synchronous: a write happens at the moment it is made.
//
// It maps onto the GPIO character device (uAPI v2): open() = GPIO_V2_GET_LINE_IOCTL on the chip
// found by its label, lines by name or offset; readEdges() = reading gpio_v2_line_event records
// (timestamp_ns from CLOCK_MONOTONIC, as the line clock); write() = GPIO_V2_LINE_SET_VALUES_IOCTL;
// wait() = poll() on the request's fd (bounded, checking `wake` between polls).

export type InputLine = "trigger";
export type OutputLine = "reject" | "ready" | "heartbeat";

export interface LineEdge {
  line: InputLine;
  rising: boolean;
  /** When the edge happened on the line clock (a kernel timestamp on real hardware). */
  timeMs: number;
}

export interface LineBackend {
  /** Claims the lines; throws LineSetupError naming what is missing or busy, and the fix. */
  open(): void;
  /** Sets an output's physical level (polarity is applied above the backend). */
  write(line: OutputLine, level: boolean): void;
  /** Edges that happened since the last call, oldest first; never blocks. */
  readEdges(): LineEdge[];
  /**
   * Blocks until an input edge may be readable, `wake[0]` becomes non-zero (the main thread
   * has a message), or `timeoutMs` has passed.
   */
  wait(timeoutMs: number, wake: Int32Array): void;
  /** Releases the lines (outputs go to their inactive level first). */
  close(): void;
}

/** A line cannot be had: the message says which chip/line and what to do about it. */
export class LineSetupError extends Error {
  override readonly name = "LineSetupError";
}

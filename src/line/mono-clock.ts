// The line's clock: CLOCK_MONOTONIC in milliseconds. It is the clock the kernel stamps GPIO edge
// events with (uAPI v2's default), and unlike performance.now() it is the same in every thread
// (each worker thread has its own performance.timeOrigin).
import { performance } from "node:perf_hooks";

/** Now on the line clock (CLOCK_MONOTONIC, ms, sub-µs resolution). */
export function monoNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A kernel timestamp in ns (gpio_v2_line_event.timestamp_ns) on the line clock. */
export function nsToMonoMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

// performance.now() is uv_hrtime() (CLOCK_MONOTONIC) minus this thread's origin: a constant
// offset. Measured once, as the tightest of a few bracketed samples.
function measureOffset(): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 5; i++) {
    const a = monoNowMs();
    const p = performance.now();
    const b = monoNowMs();
    if (b - a < best) {
      best = b - a;
      offset = (a + b) / 2 - p;
    }
  }
  return offset;
}

const perfOffsetMs = measureOffset();

/** This thread's performance.now() value (e.g. a frame's `capturedMono`) on the line clock. */
export function perfToMonoMs(perfMs: number): number {
  return perfMs + perfOffsetMs;
}

/** A line-clock time as this thread's performance.now() value. */
export function monoToPerfMs(monoMs: number): number {
  return monoMs - perfOffsetMs;
}

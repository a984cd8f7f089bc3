// The gpio-sim ejector's eye (gpio-sim-wires.ts), a thread of its own: it reads an output line's
// level from gpio-sim's sysfs `value` attribute every period and records each change with the
// time it was seen on the line clock. gpio-sim does not notify value changes (no sysfs_notify) and
// another process cannot read an output it does not hold, so sampling is the way in; a thread,
// because the main thread may be busy for longer than a pulse.
import { closeSync, openSync, readSync } from "node:fs";
import { workerData } from "node:worker_threads";
import { monoNowMs } from "../line/mono-clock.js";
import { SpscRing } from "../line/spsc-ring.js";
import type { OutputReading } from "./conveyor-wires.js";
import { SAMPLES, type SamplerSetup, STOP } from "./sampler-protocol.js";

const setup = workerData as SamplerSetup;
const control = new Int32Array(setup.control);
const ring = new SpscRing(setup.readings);
const nap = new Int32Array(new SharedArrayBuffer(4));
const buf = Buffer.alloc(8);
// One open file, read again from offset 0: sysfs makes a fresh `show` for each read at 0.
const fd = openSync(setup.path, "r");
let last: boolean | null = null;
while (Atomics.load(control, STOP) === 0) {
  readSync(fd, buf, 0, buf.length, 0);
  // Seen at: the change happened before this (never reported early).
  const timeMs = monoNowMs();
  const level = buf[0] === 0x31; // "1\n"
  if (level !== last) {
    const r: OutputReading = { line: setup.line, level, timeMs };
    if (ring.push(r)) last = level; // full: seen again next time
  }
  Atomics.add(control, SAMPLES, 1);
  Atomics.wait(nap, 0, 0, setup.periodMs);
}
closeSync(fd);

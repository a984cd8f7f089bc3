// What the gpio-sim ejector's sampler thread (gpio-sim-sampler.ts) is started with, apart from the
// thread itself, so that the main thread never loads the thread's script.
import type { OutputLine } from "../line/backend.js";

/** Slots of SamplerSetup.control. */
export const STOP = 0;
export const SAMPLES = 1;
export const CONTROL_SLOTS = 2;

export interface SamplerSetup {
  line: OutputLine;
  /** /sys/.../sim_gpioN/value */
  path: string;
  periodMs: number;
  /** Int32 slots: STOP (set by the main thread), SAMPLES (counted by the sampler). */
  control: SharedArrayBuffer;
  /** OutputReading records, to the main thread. */
  readings: SharedArrayBuffer;
}

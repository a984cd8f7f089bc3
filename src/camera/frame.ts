import type { RawLayout } from "./yuv420.js";

/** One camera frame, stamped when it left the camera process. */
export interface Frame {
  /** Increasing per source. */
  seq: number;
  /** Encoded image (JPEG or PNG), or raw pixels laid out as `raw` says. */
  data: Buffer;
  /** Set for uncompressed frames (e.g. rpicam-vid --codec yuv420); absent for encoded ones. */
  raw?: RawLayout;
  /** Wall-clock time the frame left the camera (ms since epoch), for reports. */
  capturedAt: number;
  /** Monotonic time (performance.now()) of the same moment, for honest latency. */
  capturedMono: number;
  /** Where it came from, e.g. a file name for replayed footage. */
  origin?: string;
}

export type CameraState = "starting" | "streaming" | "stalled" | "failed" | "stopped";

import type { EventEmitter } from "node:events";
import type { CameraState } from "./frame.js";
import type { FrameSlot } from "./frame-slot.js";

/** Snake case: the stats go into the health payload as they are. */
export interface CameraStats {
  frames: number;
  restarts: number;
  stalls: number;
  /** Frames lost to truncation, oversize or malformed data. */
  corrupt: number;
  /** Bytes outside any frame, skipped. */
  skipped_bytes: number;
}

/** A camera (or stand-in) that puts frames into a FrameSlot until stopped. */
export interface CameraSource extends EventEmitter<{ state: [CameraState, string]; end: [] }> {
  readonly kind: string;
  readonly state: CameraState;
  start(slot: FrameSlot): Promise<void>;
  stop(): Promise<void>;
  stats(): CameraStats;
}

// What the in-process sources (replayed footage, the simulated line's triggered camera) share:
// their state and its "state" event, and stats with nothing to restart or split.
import { EventEmitter } from "node:events";
import type { CameraState } from "./frame.js";
import type { CameraStats } from "./source.js";

export abstract class InProcessSource extends EventEmitter<{ state: [CameraState, string]; end: [] }> {
  state: CameraState = "stopped";
  protected frames = 0;

  stats(): CameraStats {
    return { frames: this.frames, restarts: 0, stalls: 0, corrupt: 0, skipped_bytes: 0 };
  }

  protected setState(state: CameraState, why: string): void {
    if (state === this.state) return;
    this.state = state;
    this.emit("state", state, why);
  }
}

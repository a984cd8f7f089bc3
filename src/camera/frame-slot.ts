import type { Frame } from "./frame.js";

/**
 * A one-frame mailbox between the camera and the pipeline. The newest frame always wins: a
 * frame the pipeline had no time for is replaced and counted as dropped, so latency never
 * builds up behind a slow model.
 */
export class FrameSlot {
  private pending: Frame | null = null;
  private waiter: ((frame: Frame | null) => void) | null = null;
  private closed = false;
  received = 0;
  dropped = 0;
  /** Sees every frame as it arrives, before newest-wins can drop it (the line's part tracking). */
  tap: ((frame: Frame) => void) | null = null;

  put(frame: Frame): void {
    if (this.closed) return;
    this.received++;
    this.tap?.(frame);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(frame);
      return;
    }
    if (this.pending) this.dropped++;
    this.pending = frame;
  }

  /** Resolves with the newest frame, waiting for one if none is pending; null once closed. */
  take(): Promise<Frame | null> {
    if (this.pending) {
      const f = this.pending;
      this.pending = null;
      return Promise.resolve(f);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  close(): void {
    this.closed = true;
    this.pending = null;
    this.waiter?.(null);
    this.waiter = null;
  }
}

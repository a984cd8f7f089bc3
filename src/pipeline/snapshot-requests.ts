// Remote `snapshot` requests waiting for the next decided frame. The sample sink asks take() on
// every frame (O(1) when nobody waits) and reports back whether the store accepted the frame.

export interface TakenFrame {
  seq: number;
  capturedAt: number;
  /** Whether the sample store accepted the frame's sample. */
  stored: boolean;
}

type Waiter = (frame: TakenFrame) => void;

export class SnapshotRequests {
  private waiters: Waiter[] = [];

  /** Resolves with the next decided frame, or null if none is decided within `timeoutMs`. */
  next(timeoutMs: number): Promise<TakenFrame | null> {
    return new Promise((resolve) => {
      const waiter: Waiter = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * For the sample sink: null when nobody waits; otherwise a function to call with whether the
   * frame was stored, which answers every request waiting now (one sample serves them all).
   */
  take(seq: number, capturedAt: number): ((stored: boolean) => void) | null {
    if (this.waiters.length === 0) return null;
    const waiting = this.waiters;
    this.waiters = [];
    return (stored) => {
      for (const w of waiting) w({ seq, capturedAt, stored });
    };
  }
}

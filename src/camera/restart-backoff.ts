// How long to wait before restarting a capture process: 0.5 s doubling to 30 s, so a camera that
// is unplugged for hours costs one attempt every 30 s, and back to 0.5 s once a process has
// streamed well for a while (one glitch an hour should not inherit yesterday's 30 s).

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Streaming this long without trouble forgets earlier failures. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 30_000 };

export class RestartBackoff {
  private failures = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next start; each call counts one more failure. */
  next(): number {
    const ms = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ms;
  }

  /** Called on every frame with how long the current process has been streaming. */
  streamedFor(ms: number): void {
    if (ms >= this.opts.resetAfterMs) this.failures = 0;
  }
}

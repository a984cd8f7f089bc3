// Reconnect delays: 1 s doubling to 30 s, back to 1 s after a successful connect. A broker that
// is down for hours then costs one connection attempt every 30 s, not one per second.

export class Backoff {
  private attempt = 0;

  constructor(
    readonly minMs = 1000,
    readonly maxMs = 30_000,
  ) {}

  /** Delay before the next attempt; each call doubles it, up to maxMs. */
  next(): number {
    const ms = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }
}

// Counts per second over the last hour, for "reject rate last minute / last hour". Pure: the
// caller passes the time. O(1) per observation; memory is fixed (3600 slots of two counters).

export interface WindowRate {
  inspected: number;
  rejected: number;
  /** rejected / inspected; null with nothing inspected. */
  rate: number | null;
}

export class RateWindow {
  private readonly inspected: Uint32Array;
  private readonly rejected: Uint32Array;
  /** The second (floor(ms / 1000)) each slot currently holds. */
  private readonly second: Float64Array;

  constructor(private readonly slots = 3600) {
    this.inspected = new Uint32Array(slots);
    this.rejected = new Uint32Array(slots);
    this.second = new Float64Array(slots).fill(-1);
  }

  observe(nowMs: number, rejected: boolean): void {
    const s = Math.floor(nowMs / 1000);
    const i = s % this.slots;
    if (this.second[i] !== s) {
      this.second[i] = s;
      this.inspected[i] = 0;
      this.rejected[i] = 0;
    }
    this.inspected[i] = (this.inspected[i] as number) + 1;
    if (rejected) this.rejected[i] = (this.rejected[i] as number) + 1;
  }

  /** Totals over the last `seconds` seconds, including the current one. */
  over(nowMs: number, seconds: number): WindowRate {
    const now = Math.floor(nowMs / 1000);
    const span = Math.min(seconds, this.slots);
    let inspected = 0;
    let rejected = 0;
    for (let k = 0; k < span; k++) {
      const s = now - k;
      if (s < 0) break;
      const i = s % this.slots;
      if (this.second[i] !== s) continue;
      inspected += this.inspected[i] as number;
      rejected += this.rejected[i] as number;
    }
    return { inspected, rejected, rate: inspected > 0 ? rejected / inspected : null };
  }
}

// Checks the device every few seconds: is the camera delivering, is inference keeping up, is the
// disk filling, is the board too hot or throttled. Raised and cleared alerts go to `onChange`;
// the latest readings go into the health report.
import {
  AlertBook,
  type AlertChange,
  type AlertLimits,
  type AlertName,
  type AlertTiming,
  checkDevice,
  ProgressClock,
} from "./alerts.js";
import { SystemProbe, type SystemProbeOptions, type SystemReadings } from "./system-probe.js";
import { throttledProblems } from "./throttled.js";

export interface DeviceMonitorOptions {
  limits: AlertLimits;
  timing: AlertTiming;
  probe: SystemProbeOptions;
  /** Counters and intent, read at each check. */
  progress: () => { received: number; decided: number; cameraExpected: boolean; inferenceExpected: boolean };
  onChange: (change: AlertChange) => void;
  now?: () => number;
}

export class DeviceMonitor {
  private readonly probe: SystemProbe;
  private readonly book: AlertBook;
  private readonly clock: ProgressClock;
  private readonly now: () => number;
  private readings: SystemReadings | null = null;
  private busy = false;

  constructor(private readonly opts: DeviceMonitorOptions) {
    // Monotonic: only intervals matter, and a wall-clock step (NTP at boot) must not fake a stall.
    this.now = opts.now ?? (() => performance.now());
    this.probe = new SystemProbe(opts.probe);
    this.book = new AlertBook(opts.timing);
    this.clock = new ProgressClock(this.now());
  }

  get latest(): SystemReadings | null {
    return this.readings;
  }

  get alerts(): AlertName[] {
    return this.book.names;
  }

  async check(): Promise<void> {
    if (this.busy) return; // a slow sysfs read must not pile up checks
    this.busy = true;
    try {
      const p = this.opts.progress();
      const now = this.now();
      this.clock.update(now, p.received, p.decided);
      this.readings = await this.probe.read();
      const changes = this.book.update(
        checkDevice(
          {
            now,
            cameraExpected: p.cameraExpected,
            inferenceExpected: p.inferenceExpected,
            progress: this.clock,
            diskFreeMb: this.readings.disk_free_mb,
            temperatureC: this.readings.temperature_c,
            throttledProblems: this.readings.throttled ? throttledProblems(this.readings.throttled) : null,
          },
          this.opts.limits,
        ),
      );
      for (const c of changes) this.opts.onChange(c);
    } finally {
      this.busy = false;
    }
  }
}

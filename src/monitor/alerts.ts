// Device alerts (camera stalled, inference stalled, disk low, temperature high, throttled) with
// hysteresis: raised only after the condition holds for `raiseAfter` checks in a row, cleared
// only after it is clearly gone (a margin below the limit) for `clearAfter` checks. Pure.

export type AlertName = "camera_stalled" | "inference_stalled" | "disk_low" | "temperature_high" | "throttled";

/** One check of one condition: bad, clearly fine, or in between (keeps the current state). */
export interface AlertCheck {
  name: AlertName;
  state: "bad" | "between" | "fine";
  severity: "warning" | "alarm";
  /** What is wrong, for the operator (used when raised). */
  message: string;
  data?: Record<string, unknown>;
}

export interface AlertChange {
  name: AlertName;
  active: boolean;
  severity: "info" | "warning" | "alarm";
  message: string;
  data: Record<string, unknown>;
}

export interface AlertTiming {
  raiseAfter: number;
  clearAfter: number;
}

export class AlertBook {
  private readonly active = new Map<AlertName, AlertCheck>();
  private readonly bad = new Map<AlertName, number>();
  private readonly fine = new Map<AlertName, number>();

  constructor(private readonly timing: AlertTiming) {}

  /** Active alerts, by name, in the order they were raised. */
  get names(): AlertName[] {
    return [...this.active.keys()];
  }

  update(checks: AlertCheck[]): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const c of checks) {
      const bad = c.state === "bad" ? (this.bad.get(c.name) ?? 0) + 1 : 0;
      const fine = c.state === "fine" ? (this.fine.get(c.name) ?? 0) + 1 : 0;
      this.bad.set(c.name, bad);
      this.fine.set(c.name, fine);
      if (!this.active.has(c.name) && bad >= this.timing.raiseAfter) {
        this.active.set(c.name, c);
        changes.push({ name: c.name, active: true, severity: c.severity, message: c.message, data: c.data ?? {} });
      } else if (this.active.has(c.name) && fine >= this.timing.clearAfter) {
        const was = this.active.get(c.name) as AlertCheck;
        this.active.delete(c.name);
        changes.push({
          name: c.name,
          active: false,
          severity: "info",
          message: `cleared: ${was.message}`,
          data: c.data ?? {},
        });
      }
    }
    return changes;
  }
}

/** When frames last arrived and were last decided, from counters sampled now and then. Pure. */
export class ProgressClock {
  private received = -1;
  private decided = -1;
  lastReceivedAt: number;
  lastDecidedAt: number;

  constructor(now: number) {
    this.lastReceivedAt = now;
    this.lastDecidedAt = now;
  }

  update(now: number, received: number, decided: number): void {
    if (received !== this.received) {
      this.received = received;
      this.lastReceivedAt = now;
    }
    if (decided !== this.decided) {
      this.decided = decided;
      this.lastDecidedAt = now;
    }
  }
}

export interface DeviceReadings {
  now: number;
  /** The camera is meant to be delivering (not stopped on purpose, not at the end of footage). */
  cameraExpected: boolean;
  /** Decisions are meant to happen (not paused by a command). */
  inferenceExpected: boolean;
  progress: ProgressClock;
  diskFreeMb: number | null;
  temperatureC: number | null;
  throttledProblems: string[] | null;
}

export interface AlertLimits {
  cameraStallS: number;
  inferenceStallS: number;
  diskLowMb: number;
  temperatureHighC: number;
}

/** Margins that must be cleared before an alert goes away, so a reading at the limit does not flap. */
const DISK_CLEAR_FACTOR = 1.1;
const TEMPERATURE_CLEAR_MARGIN_C = 5;

export function checkDevice(r: DeviceReadings, l: AlertLimits): AlertCheck[] {
  const checks: AlertCheck[] = [];
  const sinceFrame = (r.now - r.progress.lastReceivedAt) / 1000;
  checks.push({
    name: "camera_stalled",
    state: !r.cameraExpected ? "fine" : sinceFrame > l.cameraStallS ? "bad" : "fine",
    severity: "alarm",
    message: `camera stalled: no frame for ${Math.round(sinceFrame)} s (limit ${l.cameraStallS} s); inspection is stopped. Check the camera cable and the capture process`,
    data: { seconds_since_frame: Math.round(sinceFrame) },
  });
  // Inference is stalled when frames keep arriving but none gets decided.
  const sinceDecision = (r.now - r.progress.lastDecidedAt) / 1000;
  const waiting = r.progress.lastReceivedAt > r.progress.lastDecidedAt;
  checks.push({
    name: "inference_stalled",
    state: !r.inferenceExpected
      ? "fine"
      : waiting && sinceDecision > l.inferenceStallS
        ? "bad"
        : waiting
          ? "between"
          : "fine",
    severity: "alarm",
    message: `inference stalled: frames arrive but none was decided for ${Math.round(sinceDecision)} s (limit ${l.inferenceStallS} s)`,
    data: { seconds_since_decision: Math.round(sinceDecision) },
  });
  if (r.diskFreeMb !== null) {
    const free = r.diskFreeMb;
    checks.push({
      name: "disk_low",
      state: free < l.diskLowMb ? "bad" : free >= l.diskLowMb * DISK_CLEAR_FACTOR ? "fine" : "between",
      severity: "warning",
      message: `disk low: ${Math.round(free)} MB free for the database (limit ${l.diskLowMb} MB); samples may stop being stored`,
      data: { disk_free_mb: Math.round(free) },
    });
  }
  if (r.temperatureC !== null) {
    const t = r.temperatureC;
    checks.push({
      name: "temperature_high",
      state:
        t >= l.temperatureHighC ? "bad" : t <= l.temperatureHighC - TEMPERATURE_CLEAR_MARGIN_C ? "fine" : "between",
      severity: "warning",
      message: `temperature high: ${t.toFixed(1)} °C (limit ${l.temperatureHighC} °C); the CPU will throttle and inspection slow down. Check cooling`,
      data: { temperature_c: Math.round(t * 10) / 10 },
    });
  }
  if (r.throttledProblems !== null) {
    checks.push({
      name: "throttled",
      state: r.throttledProblems.length > 0 ? "bad" : "fine",
      severity: "warning",
      message: `power or thermal limit: ${r.throttledProblems.join("; ")}`,
      data: { problems: r.throttledProblems },
    });
  }
  return checks;
}

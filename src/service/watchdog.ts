// Feeds the systemd watchdog only while the pipeline makes progress: an event loop that is
// alive while the camera is stalled or inference hangs is not a healthy inspector.

/** Ping interval from $WATCHDOG_USEC / $WATCHDOG_PID (half the timeout), or null when off. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Decides, at each interval, whether to ping: only if frames were decided since the last check. */
export class ProgressWatchdog {
  private lastDecided = 0;

  constructor(private readonly ping: () => void) {}

  check(decided: number, paused: boolean): boolean {
    // Paused on purpose (a command) is healthy; the camera being paused is not our failure.
    const progressed = decided > this.lastDecided || paused;
    this.lastDecided = decided;
    if (progressed) this.ping();
    return progressed;
  }
}

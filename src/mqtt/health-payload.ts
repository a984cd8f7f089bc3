// Assembles the periodic health payload from the counters the parts keep. Pure given its inputs.
import type { LatencySummary } from "../monitor/latency.js";
import type { PipelineCounters } from "../pipeline/pipeline.js";
import type { HealthPayload } from "./payloads.js";

export interface HealthInputs {
  /** Wall clock (ms since epoch), for the report's time only. */
  now: number;
  /** Monotonic clock (performance.now()) now and at start: rates and uptime survive a clock step (NTP at boot). */
  mono: number;
  monoStartedAt: number;
  received: number;
  dropped: number;
  counters: PipelineCounters;
  ood: number;
  camera: HealthPayload["camera"];
  latency: Record<string, LatencySummary>;
  memory: NodeJS.MemoryUsage;
  storage: HealthPayload["storage"];
  mqtt: HealthPayload["mqtt"];
  system: HealthPayload["system"];
  alerts: HealthPayload["alerts"];
  /** Shadow mode's report; null while no candidate is shadowing. */
  shadow: HealthPayload["model"]["shadow"];
}

/** Rates since the previous report; the first report averages since start. */
export class HealthReporter {
  private last: { at: number; received: number; decided: number; reject: number } | null = null;

  report(i: HealthInputs): HealthPayload {
    const prev = this.last ?? { at: i.monoStartedAt, received: 0, decided: 0, reject: 0 };
    const dt = Math.max(1e-3, (i.mono - prev.at) / 1000);
    this.last = { at: i.mono, received: i.received, decided: i.counters.decided, reject: i.counters.reject };
    const decided = i.counters.decided - prev.decided;
    const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
    const rate = (n: number) => Math.round((n / dt) * 100) / 100;
    return {
      schema: 1,
      time: new Date(i.now).toISOString(),
      uptime_s: Math.round((i.mono - i.monoStartedAt) / 1000),
      fps_in: rate(i.received - prev.received),
      fps_out: rate(i.counters.decided - prev.decided),
      frames: {
        received: i.received,
        decided: i.counters.decided,
        dropped: i.dropped,
        corrupt: i.counters.corrupt,
        ood: i.ood,
      },
      camera: i.camera,
      decisions: { pass: i.counters.pass, reject: i.counters.reject, uncertain: i.counters.uncertain },
      reject_rate: decided > 0 ? Math.round(((i.counters.reject - prev.reject) / decided) * 1e4) / 1e4 : null,
      latency_ms: i.latency,
      memory: { rss_mb: mb(i.memory.rss), heap_mb: mb(i.memory.heapUsed) },
      storage: i.storage,
      mqtt: i.mqtt,
      system: i.system,
      alerts: i.alerts,
      model: { shadow: i.shadow },
    };
  }
}

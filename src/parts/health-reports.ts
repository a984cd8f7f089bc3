// Every mqtt.health_interval_s: the health report from the counters the parts keep, published
// with the latest drift report; a last one on stop, after the store was flushed.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { FrameSlot } from "../camera/frame-slot.js";
import type { CameraSource } from "../camera/source.js";
import type { OperatorServerStats } from "../http/operator-server.js";
import type { AuditAccuracy } from "../monitor/audit-accuracy.js";
import type { DeviceMonitor } from "../monitor/device-monitor.js";
import { HealthReporter } from "../mqtt/health-payload.js";
import type { HealthPayload } from "../mqtt/payloads.js";
import type { MqttStats } from "../mqtt/publisher.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { StoreStats } from "../store/types.js";
import type { DriftWatch } from "./drift-watch.js";
import { type DaemonBus, type Part, whileInspecting } from "./part.js";
import type { ShadowReport } from "./shadow-control.js";

export function healthReports(o: {
  bus: DaemonBus;
  intervalS: number;
  monoStartedAt: number;
  slot: FrameSlot;
  camera: CameraSource;
  pipeline: Pipeline;
  drift: DriftWatch;
  store: { stats(): StoreStats };
  publisher: { stats(): MqttStats };
  device: { readonly latest: DeviceMonitor["latest"]; readonly alerts: DeviceMonitor["alerts"] };
  /** Samples the sample keeper could not hand to the store (no JPEG of their raw frame). */
  samplesLost: () => number;
  operator: () => OperatorServerStats | null;
  audit: () => AuditAccuracy | null;
  line?: () => HealthPayload["line"] | null;
  /** Shadow mode's report (null while no candidate shadows). */
  shadow: () => ShadowReport | null;
  logger: Logger;
}): Part {
  const { bus, pipeline, camera } = o;
  const name = "health";
  const health = new HealthReporter();
  let stopTimer = () => {};
  const report = () => {
    const s = o.store.stats();
    const m = o.publisher.stats();
    const payload = health.report({
      now: Date.now(),
      mono: performance.now(),
      monoStartedAt: o.monoStartedAt,
      received: o.slot.received,
      dropped: o.slot.dropped,
      counters: pipeline.counters,
      ood: pipeline.counters.ood,
      camera: { state: camera.state, ...camera.stats() },
      latency: pipeline.timings.summary(),
      memory: process.memoryUsage(),
      storage: {
        db_bytes: s.dbBytes,
        samples: s.samples,
        written: s.written,
        dropped: s.dropped,
        queued: s.queued,
        lost: o.samplesLost(),
      },
      mqtt: { dropped: m.dropped, queued: m.queued, queued_bytes: m.queuedBytes, oversized: m.oversized },
      system: o.device.latest,
      alerts: o.device.alerts,
      shadow: o.shadow(),
    });
    const page = o.operator();
    if (page) {
      payload.operator = {
        auth_failures: page.authFailures,
        auth_throttled: page.authThrottled,
        clients_blocked: page.clientsBlocked,
        host_refused: page.hostRefused,
        sessions: page.sessions,
        catalog: page.catalog.state,
        catalog_restarts: page.catalog.restarts,
      };
    }
    const audit = o.audit();
    if (audit) payload.audit = audit;
    const line = o.line?.();
    if (line) payload.line = line;
    bus.emit("health", payload);
    const drift = o.drift.report();
    if (drift) bus.emit("drift", drift);
    o.logger.info({ health: payload }, "health");
  };
  return {
    name,
    start() {
      // No report while stopping: the last one is made on stop, once the store is flushed.
      stopTimer = whileInspecting(bus, name, o.intervalS * 1000, report);
    },
    stop() {
      stopTimer();
      bus.off(name);
      report();
    },
  };
}

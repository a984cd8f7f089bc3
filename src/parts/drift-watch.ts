// Drift of the line against the reference of the model now deciding: observes every decided
// frame, tells status changes once each (log + event + drift report), and starts afresh with
// the new model's reference when the model or its threshold changes.
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { DriftDetector, type DriftReport } from "../monitor/drift-detector.js";
import { DriftMonitor } from "../monitor/drift-monitor.js";
import type { ActiveModel } from "../pipeline/active-model.js";
import type { DaemonBus, Part } from "./part.js";

export interface DriftWatch extends Part {
  /** The latest evaluation; null when drift detection is off. */
  report(): DriftReport | null;
}

export function driftWatch(o: {
  bus: DaemonBus;
  model: ActiveModel;
  options: Config["drift"];
  logger: Logger;
}): DriftWatch {
  const { bus, logger } = o;
  const name = "drift";
  let monitor: DriftMonitor | null = null;

  const watch = (model: ActiveModel) => {
    monitor = createDriftMonitor(model, o.options, logger);
  };
  return {
    name,
    report: () => monitor?.report() ?? null,
    start() {
      watch(o.model);
      bus.on(name, "model-changed", ({ model }) => watch(model));
      // A new threshold changes the reject and uncertain rates to expect: start afresh against them.
      bus.on(name, "policy-changed", ({ model }) => watch(model));
      bus.on(name, "decided", (r) => {
        if (!monitor) return;
        const { event, report } = monitor.observe(
          r.features,
          r.score,
          r.decision.action === "reject",
          r.decision.uncertain,
        );
        if (!event) return;
        const log = event.severity === "info" ? logger.info.bind(logger) : logger.warn.bind(logger);
        log({ drift: report?.status, reasons: report?.reasons }, event.message);
        bus.emit("notice", event);
        if (report) bus.emit("drift", report);
      });
    },
    stop() {
      bus.off(name);
    },
  };
}

/** Drift detection needs the model's reference statistics; without them it is off, said once. */
export function createDriftMonitor(model: ActiveModel, d: Config["drift"], logger: Logger): DriftMonitor | null {
  if (!d.enabled) return null;
  const reference = model.driftReference;
  if (!reference) {
    logger.warn(
      "the model manifest has no reference statistics: drift detection is off (run `linesight model profile`)",
    );
    return null;
  }
  const detector = new DriftDetector(reference, {
    window: d.window,
    minWindow: d.min_window,
    evaluateEvery: d.evaluate_every,
    psiWarn: d.psi_warn,
    psiAlarm: d.psi_alarm,
    zWarn: d.rate_z_warn,
    zAlarm: d.rate_z_alarm,
    escalateAfter: d.escalate_after,
    clearAfter: d.clear_after,
  });
  logger.info(
    {
      window: d.window,
      prevalence: reference.prevalence,
      expectedRejectRate: Number(reference.rejectRate.toFixed(4)),
      expectedUncertainRate: Number(reference.uncertainRate.toFixed(4)),
    },
    "drift detection on",
  );
  return new DriftMonitor(detector);
}

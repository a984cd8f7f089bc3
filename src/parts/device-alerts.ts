// Checks the device every alerts.check_interval_s (camera delivering, inference keeping up,
// disk, temperature, throttling); raised and cleared alerts are logged and told as events.
import type { Logger } from "pino";
import type { FrameSlot } from "../camera/frame-slot.js";
import type { CameraSource } from "../camera/source.js";
import type { Config } from "../config/schema.js";
import { DeviceMonitor } from "../monitor/device-monitor.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import { type DaemonBus, type Part, whileInspecting } from "./part.js";

export interface DeviceAlerts extends Part {
  readonly monitor: DeviceMonitor;
}

export function deviceAlerts(o: {
  bus: DaemonBus;
  config: Pick<Config, "alerts" | "camera" | "storage">;
  slot: FrameSlot;
  camera: CameraSource;
  pipeline: Pipeline;
  logger: Logger;
}): DeviceAlerts {
  const { bus, logger, pipeline } = o;
  const name = "device-alerts";
  const a = o.config.alerts;
  const monitor = new DeviceMonitor({
    limits: {
      cameraStallS: o.config.camera.stall_timeout_s,
      inferenceStallS: a.inference_stall_s,
      diskLowMb: a.disk_low_mb,
      temperatureHighC: a.temperature_high_c,
    },
    timing: { raiseAfter: a.raise_after, clearAfter: a.clear_after },
    probe: { diskPath: o.config.storage.path },
    progress: () => ({
      received: o.slot.received,
      decided: pipeline.counters.decided,
      cameraExpected: o.camera.state !== "stopped",
      inferenceExpected: !pipeline.paused,
    }),
    onChange: (c) => {
      const log = c.active ? logger.warn.bind(logger) : logger.info.bind(logger);
      log({ alert: c.name, active: c.active, ...c.data }, c.message);
      bus.emit("notice", {
        type: c.name,
        severity: c.severity,
        message: c.message,
        data: { active: c.active, ...c.data },
      });
    },
  });
  let stopTimer = () => {};
  return {
    name,
    monitor,
    start() {
      stopTimer = whileInspecting(bus, name, a.check_interval_s * 1000, () => {
        monitor.check().catch((err: unknown) => logger.error({ err }, "device check failed"));
      });
    },
    stop() {
      stopTimer();
      bus.off(name);
    },
  };
}

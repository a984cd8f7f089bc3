// What systemd hears: READY=1 once a frame has really been decided (model, camera and pipeline
// all work), STATUS= with each health report, and WATCHDOG=1 only while frames are decided.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { CameraSource } from "../camera/source.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { SdNotifier } from "../service/sd-notify.js";
import { ProgressWatchdog, watchdogIntervalMs } from "../service/watchdog.js";
import { type DaemonBus, type Part, whileInspecting } from "./part.js";

export function serviceNotify(o: {
  bus: DaemonBus;
  notifier: SdNotifier;
  pipeline: Pipeline;
  camera: CameraSource;
  monoStartedAt: number;
  /** Logged with "ready", for the person reading the journal. */
  readyInfo: object;
  logger: Logger;
}): Part {
  const { bus, notifier, pipeline, camera, logger } = o;
  const name = "service";
  let ready = false;
  let stopTimer = () => {};
  return {
    name,
    start() {
      bus.on(name, "pipeline-state", ({ state }) => {
        if (state !== "running" || ready) return;
        ready = true;
        notifier.notify({ READY: 1, STATUS: "inspecting" });
        logger.info(
          { startupMs: Math.round(performance.now() - o.monoStartedAt), ...o.readyInfo },
          "ready: first frame decided",
        );
      });
      bus.on(name, "health", (h) => {
        const e2e = h.latency_ms.end_to_end;
        notifier.notify({
          STATUS:
            `${pipeline.state}, camera ${camera.state}: ${h.fps_out} fps, ` +
            `${h.decisions.reject} rejected of ${h.frames.decided}, p50 ${e2e?.p50 ?? 0} ms`,
        });
      });
      const interval = watchdogIntervalMs(process.env, process.pid);
      if (!interval) return;
      const watchdog = new ProgressWatchdog(() => notifier.notify({ WATCHDOG: 1 }));
      stopTimer = whileInspecting(bus, name, interval, () => {
        if (ready && !watchdog.check(pipeline.counters.decided, pipeline.paused)) {
          logger.warn(
            { camera: camera.state },
            "no frame decided since the last watchdog interval; not feeding the watchdog",
          );
        }
      });
    },
    stop() {
      stopTimer();
      bus.off(name);
    },
  };
}

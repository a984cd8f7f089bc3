// Remote commands over MQTT (docs/mqtt.md#remote-commands): what each does to the running
// daemon, with every change logged and told as a `command` event.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { commandHandlers, listenForCommands } from "../mqtt/command-handlers.js";
import type { ModelCommands } from "../mqtt/model-commands.js";
import type { HealthPayload } from "../mqtt/payloads.js";
import type { MqttPublisher } from "../mqtt/publisher.js";
import type { Pipeline } from "../pipeline/pipeline.js";
import type { SnapshotRequests } from "../pipeline/snapshot-requests.js";
import type { SampleWriter } from "../store/sample-writer.js";
import type { DaemonBus, Part } from "./part.js";

export function remoteCommands(o: {
  bus: DaemonBus;
  config: Config;
  version: string;
  monoStartedAt: number;
  publisher: MqttPublisher;
  prefix: string;
  pipeline: Pipeline;
  snapshots: SnapshotRequests;
  store: SampleWriter;
  /** The model-lifecycle part's commands; null without a model store. */
  models: ModelCommands | null;
  /** model_install's size limit (from model.max_bundle_mb). */
  installMaxBytes: number;
  logger: Logger;
}): Part {
  const { bus, pipeline, logger } = o;
  const name = "commands";
  let latestHealth: HealthPayload | null = null;
  return {
    name,
    start() {
      bus.on(name, "health", (h) => {
        latestHealth = h;
      });
      const handlers = commandHandlers({
        config: o.config,
        version: o.version,
        uptimeS: () => Math.floor((performance.now() - o.monoStartedAt) / 1000),
        latestHealth: () => latestHealth,
        stopping: () => pipeline.state === "stopping",
        policy: () => pipeline.model.policy,
        setPolicy: (p) => pipeline.setPolicy(p),
        paused: () => pipeline.paused,
        setPaused: (paused) => pipeline.setPaused(paused),
        nextFrame: (ms) => o.snapshots.next(ms),
        sampleId: (seq, ms) => o.store.idOf(seq, ms),
        models: o.models,
        announce: (command, id, args, result, message) => {
          logger.info({ command, id, args, result }, message);
          bus.emit("notice", { type: "command", severity: "info", message, data: { command, id, args, result } });
        },
      });
      listenForCommands(o.publisher, handlers, {
        prefix: o.prefix,
        groupPrefix: o.config.mqtt.group_prefix,
        logger,
        installMaxBytes: o.installMaxBytes,
      });
    },
    stop() {
      bus.off(name);
    },
  };
}

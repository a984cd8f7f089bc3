// What the fleet sees over MQTT: retained state on every change, events, drift and health
// reports as the other parts make them, and (when configured) one message per decided frame.
import type { CameraSource } from "../camera/source.js";
import type { Config } from "../config/schema.js";
import { discoveryMessages } from "../mqtt/home-assistant.js";
import type { MqttPublisher } from "../mqtt/publisher.js";
import type { ActiveModel } from "../pipeline/active-model.js";
import type { DecidedFrame, Pipeline } from "../pipeline/pipeline.js";
import type { DaemonBus, Notice, Part } from "./part.js";

export interface TelemetryOptions {
  bus: DaemonBus;
  publisher: Pick<MqttPublisher, "publish" | "setAnnouncements">;
  config: Pick<Config, "device" | "mqtt">;
  prefix: string;
  version: string;
  camera: CameraSource;
  pipeline: Pipeline;
  /** Line trigger mode: the part a frame is the picture of. */
  /** part_id and trigger_at of a decided frame (trigger mode), once the output thread has said. */
  partOf?: (seq: number) => Promise<{ part_id: number; trigger_at: string } | undefined>;
}

/** Home Assistant discovery for the model now inspecting (its name and version are shown there). */
export function homeAssistantAnnouncements(
  o: Pick<TelemetryOptions, "config" | "prefix" | "version">,
  model: ActiveModel,
): { topic: string; body: string }[] {
  const ha = o.config.mqtt.home_assistant;
  if (!ha.enabled) return [];
  return discoveryMessages({
    prefix: o.prefix,
    discoveryPrefix: ha.discovery_prefix,
    device: o.config.device,
    version: o.version,
    model: model.identity,
  });
}

export function telemetry(o: TelemetryOptions): Part {
  const { bus, publisher, pipeline, camera } = o;
  const device = o.config.device;
  const name = "telemetry";
  const publishState = () => {
    const m = pipeline.model.identity;
    publisher.publish("state", {
      schema: 1,
      version: o.version,
      device: { id: device.id, site: device.site, line: device.line },
      model: { name: m.name, version: m.version, sha256: m.sha256 },
      camera: { source: camera.kind, state: camera.state },
      pipeline: pipeline.state,
      threshold: pipeline.threshold,
      since: pipeline.since,
    });
  };
  const publishEvent = (e: Notice) => publisher.publish("event", { schema: 1, time: new Date().toISOString(), ...e });
  const modelLoaded = (model: ActiveModel) => {
    const m = model.identity;
    publishEvent({
      type: "model_loaded",
      severity: "info",
      message: `Model ${m.name} ${m.version} loaded (threshold ${model.policy.threshold})`,
      data: { name: m.name, version: m.version, sha256: m.sha256 },
    });
  };
  return {
    name,
    start() {
      publishState();
      modelLoaded(pipeline.model);
      bus.on(name, "pipeline-state", publishState);
      bus.on(name, "camera-state", publishState);
      bus.on(name, "policy-changed", publishState);
      bus.on(name, "model-changed", ({ model }) => {
        publishState();
        modelLoaded(model);
        publisher.setAnnouncements(homeAssistantAnnouncements(o, model));
      });
      bus.on(name, "notice", publishEvent);
      bus.on(name, "drift", (report) => publisher.publish("drift", report));
      bus.on(name, "health", (payload) => publisher.publish("health", payload));
      if (o.config.mqtt.publish_decisions) {
        // With a line, each decision waits (a few ms at most) for its part's id; the chain keeps
        // the decisions in order.
        let queue: Promise<void> = Promise.resolve();
        const partOf = o.partOf;
        bus.on(name, "decided", (r) => {
          if (!partOf) return publisher.publish("decision", decisionPayload(r, undefined));
          const part = partOf(r.frame.seq);
          queue = queue.then(async () => publisher.publish("decision", decisionPayload(r, await part)));
        });
      }
    },
    stop() {
      bus.off(name);
    },
  };
}

/** The decision message of a decided frame (docs/mqtt.md); part_id and trigger_at in trigger mode. */
function decisionPayload(r: DecidedFrame, part: { part_id: number; trigger_at: string } | undefined) {
  return {
    schema: 1 as const,
    seq: r.frame.seq,
    time: new Date(r.frame.capturedAt).toISOString(),
    label: r.decision.label,
    score: Math.round(r.score * 1e4) / 1e4,
    action: r.decision.action,
    uncertain: r.decision.uncertain,
    ood: r.ood.length > 0,
    threshold: r.threshold,
    model_version: r.model.version,
    latency_ms: Math.round(r.latencyMs * 100) / 100,
    ...part,
  };
}

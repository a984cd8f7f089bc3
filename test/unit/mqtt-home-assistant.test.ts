import { describe, expect, it } from "vitest";
import { discoveryMessages, ENTITIES } from "../../src/mqtt/home-assistant.js";

const input = {
  prefix: "linesight/cam-1",
  discoveryPrefix: "homeassistant",
  device: { id: "cam-1", site: "plant", line: "line 4" },
  version: "0.1.0",
  model: { name: "round-parts", version: "1.2.0" },
};

describe("Home Assistant discovery", () => {
  const messages = discoveryMessages(input);
  const configs = messages.map((m) => ({ topic: m.topic, config: JSON.parse(m.body) as Record<string, unknown> }));

  it("announces one entity per spec under <discovery_prefix>/<component>/<node>/<object>/config", () => {
    expect(messages).toHaveLength(ENTITIES.length);
    for (const m of messages)
      expect(m.topic).toMatch(/^homeassistant\/(sensor|binary_sensor)\/linesight_cam-1\/[a-z_]+\/config$/);
    expect(new Set(messages.map((m) => m.topic)).size).toBe(messages.length);
  });

  it("ties every entity's availability to <p>/status and groups them under one device", () => {
    for (const { config } of configs) {
      expect(config).toMatchObject({
        availability_topic: "linesight/cam-1/status",
        payload_available: "online",
        payload_not_available: "offline",
        device: {
          identifiers: ["linesight_cam-1"],
          sw_version: "0.1.0",
          model: "round-parts 1.2.0",
          suggested_area: "line 4",
        },
      });
      expect(String(config.unique_id)).toMatch(/^linesight_cam-1_/);
    }
    expect(new Set(configs.map((c) => c.config.unique_id)).size).toBe(configs.length);
  });

  it("reads status, reject rate, fps and drift from linesight's own topics", () => {
    const byKey = (k: string) => configs.find((c) => c.topic.includes(`/${k}/config`))?.config;
    expect(byKey("reject_rate")).toMatchObject({ state_topic: "linesight/cam-1/health", unit_of_measurement: "%" });
    expect(byKey("fps")).toMatchObject({
      state_topic: "linesight/cam-1/health",
      value_template: '{{ value_json["fps_out"] }}',
    });
    expect(byKey("drift")).toMatchObject({ state_topic: "linesight/cam-1/drift", options: ["ok", "warn", "alarm"] });
    expect(byKey("pipeline")).toMatchObject({ state_topic: "linesight/cam-1/state" });
    expect(byKey("problem")).toMatchObject({
      json_attributes_topic: "linesight/cam-1/health",
      device_class: "problem",
    });
  });
});

import { describe, expect, it } from "vitest";
import type { DecisionPayload, EventPayload, StatePayload } from "../../src/mqtt/payloads.js";
import type { MqttPublisher } from "../../src/mqtt/publisher.js";
import { checkPrefix, encodePayload, TOPIC_NAMES, TOPICS, topicFor } from "../../src/mqtt/topics.js";

const state: StatePayload = {
  schema: 1,
  version: "0.1.0",
  device: { id: "cam-1", site: "plant", line: "L1" },
  model: null,
  camera: { source: "replay", state: "starting" },
  pipeline: "starting",
  threshold: null,
  since: "2026-01-01T00:00:00.000Z",
};

describe("topic map", () => {
  it("has the documented retain/QoS per topic", () => {
    expect(TOPIC_NAMES).toEqual(["status", "state", "health", "drift", "event", "decision", "model"]);
    expect(TOPICS.status).toMatchObject({ retain: true, qos: 1 });
    expect(TOPICS.state).toMatchObject({ retain: true, qos: 1 });
    expect(TOPICS.health).toMatchObject({ retain: true, qos: 1 });
    expect(TOPICS.drift).toMatchObject({ retain: true, qos: 1 });
    expect(TOPICS.event).toMatchObject({ retain: false, qos: 1 });
    expect(TOPICS.decision).toMatchObject({ retain: false, qos: 0 });
    expect(TOPICS.model).toMatchObject({ retain: true, qos: 1 });
  });

  it("builds topics under the prefix", () => {
    expect(topicFor("linesight/cam-1", "state")).toBe("linesight/cam-1/state");
  });

  it("encodes status as a plain string (Home Assistant availability) and the rest as JSON", () => {
    expect(encodePayload("status", "offline")).toBe("offline");
    expect(JSON.parse(encodePayload("state", state))).toEqual(state);
  });

  it("rejects prefixes that cannot be published to", () => {
    expect(checkPrefix("linesight/cam-1")).toBeNull();
    expect(checkPrefix("")).toMatch(/empty/);
    expect(checkPrefix("linesight/#")).toMatch(/wildcard/);
    expect(checkPrefix("linesight/+/x")).toMatch(/wildcard/);
    expect(checkPrefix("linesight/")).toMatch(/trailing slash/);
    expect(checkPrefix("$SYS/x")).toMatch(/reserve/);
  });
});

describe("typed publishing", () => {
  it("makes a payload on the wrong topic a compile error (checked by tsc, never run)", () => {
    const checks = (p: MqttPublisher, d: DecisionPayload, e: EventPayload): void => {
      p.publish("state", state);
      p.publish("decision", d);
      p.publish("event", e);
      // @ts-expect-error a state payload on the decision topic
      p.publish("decision", state);
      // @ts-expect-error an event on the health topic
      p.publish("health", e);
      // @ts-expect-error status belongs to the publisher (birth, will, stop)
      p.publish("status", "online");
      // @ts-expect-error no such topic
      p.publish("states", state);
      // @ts-expect-error severity is info | warning | alarm
      p.publish("event", { ...e, severity: "critical" });
    };
    expect(checks).toBeTypeOf("function");
  });
});

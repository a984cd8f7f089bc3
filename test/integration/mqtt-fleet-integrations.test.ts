// Home Assistant discovery and MQTT 5 request/response, against the real daemon and Mosquitto
// (docs/mqtt.md#home-assistant, docs/mqtt.md#remote-commands).
import { join } from "node:path";
import { connect, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENTITIES } from "../../src/mqtt/home-assistant.js";
import type { CommandReplyPayload } from "../../src/mqtt/payloads.js";
import { useBrokerHarness } from "../helpers/broker-harness.js";
import { DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { sleep, TopicRecorder } from "../helpers/mosquitto.js";

const ID = "fleet-1";
const PREFIX = `linesight/${ID}`;

const h = useBrokerHarness();
let rec: TopicRecorder;
let daemon: DaemonProcess;
let v5: MqttClient;

beforeAll(async () => {
  const dir = tempDir();
  h.dirs.push(dir);
  rec = await TopicRecorder.start(h.broker.url, `${PREFIX}/#`);
  const config = {
    device: { id: ID, line: "Line 4" },
    camera: { replay: { path: FOOTAGE, fps: 10 } },
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db"), audit_fraction: 0 },
    mqtt: { url: h.broker.url, health_interval_s: 1, protocol_version: 5, home_assistant: { enabled: true } },
  };
  daemon = new DaemonProcess(["run", "--config", writeConfig(dir, config)]);
  await rec.waitFor((m) => m.topic === `${PREFIX}/drift`, 60_000, "a drift report");
  await daemon.waitForLog((l) => l.msg === "listening for commands", 30_000);
  v5 = connect(h.broker.url, { protocolVersion: 5, clientId: `scada-${process.pid}` });
  await new Promise<void>((resolve) => v5.once("connect", () => resolve()));
});

afterAll(async () => {
  daemon?.kill("SIGKILL");
  await v5?.endAsync(true);
  await rec?.close();
});

/** Follows `value_json["a"]["b"]` in a discovery template through a real payload. */
function valueAt(template: string, payload: unknown): unknown {
  const path = [...template.matchAll(/\["([^"]+)"\]/g)].map((m) => m[1] as string);
  expect(path.length).toBeGreaterThan(0);
  let v: unknown = payload;
  for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

describe("Home Assistant discovery", () => {
  it("retained configs for every entity, each reading a field the daemon really publishes, available while online", async () => {
    const ha = await TopicRecorder.start(h.broker.url, "homeassistant/#");
    h.recorders.push(ha);
    await ha.waitFor(() => ha.messages.length >= ENTITIES.length, 10_000, "all discovery configs");
    expect(ha.messages.every((m) => m.retain)).toBe(true);
    for (const m of ha.messages) {
      const config = JSON.parse(m.payload) as {
        availability_topic: string;
        state_topic: string;
        value_template: string;
      };
      expect(config.availability_topic).toBe(`${PREFIX}/status`);
      const state = rec.on(config.state_topic.slice(PREFIX.length)).at(-1);
      expect(state, `a message on ${config.state_topic}`).toBeDefined();
      const value = valueAt(config.value_template, JSON.parse(state?.payload ?? "null"));
      expect(value, `${m.topic}: ${config.value_template}`).not.toBeUndefined();
    }
    expect(rec.payloads("/status").at(-1)).toBe("online");
  });
});

describe("MQTT 5 request/response", () => {
  it("answers on the caller's response topic with its correlation data, and on the usual reply topic", async () => {
    const replies: { topic: string; body: CommandReplyPayload; correlation?: string }[] = [];
    v5.on("message", (topic, payload, packet) => {
      replies.push({
        topic,
        body: JSON.parse(payload.toString()) as CommandReplyPayload,
        ...(packet.properties?.correlationData ? { correlation: packet.properties.correlationData.toString() } : {}),
      });
    });
    await v5.subscribeAsync("scada/replies/#", { qos: 1 });
    await v5.publishAsync(`${PREFIX}/cmd/ping`, JSON.stringify({ id: "v5-1" }), {
      qos: 1,
      properties: { responseTopic: "scada/replies/cam", correlationData: Buffer.from("corr-7") },
    });
    await rec.waitFor((m) => m.topic === `${PREFIX}/cmd/ping/reply` && m.payload.includes("v5-1"), 20_000, "the reply");
    for (let i = 0; i < 100 && replies.length === 0; i++) await sleep(50);
    expect(replies).toEqual([
      { topic: "scada/replies/cam", body: expect.objectContaining({ id: "v5-1", ok: true }), correlation: "corr-7" },
    ]);
  });

  it("never answers over its own telemetry, whatever response topic is asked for", async () => {
    const stateBefore = rec.on("/state").length;
    await v5.publishAsync(`${PREFIX}/cmd/ping`, JSON.stringify({ id: "v5-2" }), {
      qos: 1,
      properties: { responseTopic: `${PREFIX}/state`, correlationData: Buffer.from("x") },
    });
    await rec.waitFor((m) => m.topic === `${PREFIX}/cmd/ping/reply` && m.payload.includes("v5-2"), 20_000, "the reply");
    await sleep(300);
    expect(
      rec
        .on("/state")
        .slice(stateBefore)
        .some((m) => m.payload.includes("v5-2")),
    ).toBe(false);
  });
});

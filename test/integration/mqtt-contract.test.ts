// The MQTT contract as a fleet engineer meets it: the built daemon on the bundled footage (with a
// lighting change and a disk-low alert provoked) into a real Mosquitto; every message it sends must
// match its topic's schema (docs/mqtt.md, docs/mqtt-schemas/), with the documented retain and QoS.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWirePayload } from "../../src/mqtt/payload-schemas.js";
import { TOPIC_NAMES, type TopicName } from "../../src/mqtt/topics.js";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, type RecordedMessage, sleep, TopicRecorder } from "../helpers/mosquitto.js";

const ID = "contract-1";
const PREFIX = `linesight/${ID}`;

/** As documented in docs/mqtt.md (QoS as delivered to a QoS 1 subscription). */
const EXPECTED: Record<TopicName, { retain: boolean; qos: number }> = {
  status: { retain: true, qos: 1 },
  state: { retain: true, qos: 1 },
  health: { retain: true, qos: 1 },
  drift: { retain: true, qos: 1 },
  event: { retain: false, qos: 1 },
  decision: { retain: false, qos: 0 },
  model: { retain: true, qos: 1 },
};

let broker: Mosquitto;
let dir: string;
let daemon: DaemonProcess | undefined;
const recorders: TopicRecorder[] = [];

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = tempDir();
});

afterAll(async () => {
  daemon?.kill("SIGKILL");
  for (const r of recorders) await r.close();
  await broker?.dispose();
  if (dir) cleanup(dir);
});

const topicName = (m: RecordedMessage) => m.topic.slice(PREFIX.length + 1) as TopicName;
const on = (name: TopicName) => (m: RecordedMessage) => m.topic === `${PREFIX}/${name}`;
const body = (m: RecordedMessage) => JSON.parse(m.payload) as Record<string, unknown> & { data?: { active?: boolean } };

/** Messages off the documented topics or not matching their schema: the first few per topic, described. */
function violations(messages: RecordedMessage[], perTopic = 3): string[] {
  const bad = new Map<string, string[]>();
  for (const m of messages) {
    const name = topicName(m);
    const problem =
      !m.topic.startsWith(`${PREFIX}/`) || !TOPIC_NAMES.includes(name)
        ? "not a documented topic"
        : ((r) => (r.success ? null : r.error))(parseWirePayload(name, m.payload));
    if (problem === null) continue;
    const list = bad.get(m.topic) ?? [];
    list.push(`${m.topic}: ${problem}\n  payload: ${m.payload}`);
    bad.set(m.topic, list);
  }
  return [...bad.values()].flatMap((list) =>
    list.length > perTopic ? [...list.slice(0, perTopic), `... and ${list.length - perTopic} more like these`] : list,
  );
}

describe("MQTT contract of the running daemon", () => {
  it("sends only documented topics, every payload matching its schema, with the documented retain and QoS", async () => {
    const rec = await TopicRecorder.start(broker.url, `${PREFIX}/#`);
    recorders.push(rec);
    const config = {
      device: { id: ID, site: "plant-a", line: "7" },
      // Lights dim by 20% from frame 300: drift goes from ok to alarm within a few hundred frames.
      camera: { replay: { path: FOOTAGE, fps: 100, drift: { kind: "brightness", amount: -0.2, from_frame: 300 } } },
      // A model store (empty: the daemon runs model.path) makes the model topic appear.
      model: { path: MODEL, store: join(dir, "models"), allow_unsigned: true },
      storage: { path: join(dir, "linesight.db"), audit_fraction: 0 },
      mqtt: { url: broker.url, health_interval_s: 1 },
      // The bundled footage is 40% defects (footage/round-parts/labels.csv).
      drift: { defect_prevalence: 0.4 },
      // No disk has a petabyte free: disk_low is raised at once.
      alerts: { check_interval_s: 0.25, disk_low_mb: 1e9 },
      log: { level: "info" },
    };
    daemon = new DaemonProcess(["run", "--config", writeConfig(dir, config)]);

    const event = (type: string, extra: (b: ReturnType<typeof body>) => boolean = () => true) =>
      rec.waitFor((m) => on("event")(m) && body(m).type === type && extra(body(m)), 60_000, `a ${type} event`);
    await rec.waitFor((m) => on("status")(m) && m.payload === "online", 30_000, "status online");
    await rec.waitFor((m) => on("state")(m) && body(m).pipeline === "running", 30_000, "state running");
    await event("model_loaded");
    await rec.waitFor(on("decision"), 30_000, "a decision");
    await rec.waitFor(on("health"), 30_000, "a health report");
    await rec.waitFor((m) => on("drift")(m) && body(m).status === "ok", 30_000, "drift ok");
    await event("disk_low", (b) => b.data?.active === true);
    await event("drift", (b) => b.severity === "alarm");
    await rec.waitFor((m) => on("drift")(m) && body(m).status === "alarm", 30_000, "drift alarm");

    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await rec.waitFor((m) => on("status")(m) && m.payload === "offline", 10_000, "status offline");
    await rec.waitFor((m) => on("state")(m) && body(m).pipeline === "stopping", 10_000, "state stopping");

    const failures = violations(rec.messages);
    if (failures.length > 0) {
      expect.fail(`messages that break the contract (of ${rec.messages.length}):\n\n${failures.join("\n\n")}`);
    }
    for (const name of TOPIC_NAMES) expect(rec.messages.some(on(name)), `a message on ${name}`).toBe(true);

    // Live deliveries to an existing subscription are never flagged retained (MQTT 3.1.1).
    for (const m of rec.messages) {
      expect({ topic: m.topic, retain: m.retain, qos: m.qos }).toEqual({
        topic: m.topic,
        retain: false,
        qos: EXPECTED[topicName(m)].qos,
      });
    }

    // A subscriber that arrives later gets exactly the retained topics, flagged retained, latest value.
    const late = await TopicRecorder.start(broker.url, `${PREFIX}/#`);
    recorders.push(late);
    const retained = TOPIC_NAMES.filter((n) => EXPECTED[n].retain);
    for (const name of retained) await late.waitFor(on(name), 5000, `retained ${name}`);
    await sleep(500);
    expect(late.messages.map(topicName).sort()).toEqual([...retained].sort());
    for (const m of late.messages) {
      expect({ topic: m.topic, retain: m.retain, qos: m.qos }).toEqual({
        topic: m.topic,
        retain: true,
        qos: EXPECTED[topicName(m)].qos,
      });
    }
    expect(late.payloads("/status")).toEqual(["offline"]);
    expect(violations(late.messages)).toEqual([]);
  }, 180_000);
});

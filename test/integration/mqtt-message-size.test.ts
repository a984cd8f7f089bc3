// Oversized MQTT messages (issue 14, item 2): the daemon's client skips what exceeds
// mqtt.max_message_kb as it streams in, never holding it whole, acknowledges it so the broker's
// in-flight window stays open, counts it in health; under MQTT 5 it announces the limit in CONNECT
// so the broker does not send it at all; the embedded broker disconnects a client that sends one.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type MqttClient } from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedBroker } from "../../src/mqtt/embedded-broker.js";
import type { CommandReplyPayload, HealthPayload } from "../../src/mqtt/payloads.js";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, type RecordedMessage, sleep, TopicRecorder } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const LIMIT_KB = 64;
let broker: Mosquitto;
let client: MqttClient;
let dir: string;
const daemons: DaemonProcess[] = [];
const recorders: TopicRecorder[] = [];

function startDaemon(id: string, mqtt: Record<string, unknown>): DaemonProcess {
  const sub = join(dir, id);
  const config = {
    device: { id },
    camera: { replay: { path: FOOTAGE, fps: 10 } },
    model: { path: MODEL },
    storage: { path: join(sub, "linesight.db"), audit_fraction: 0 },
    mqtt: { url: broker.url, health_interval_s: 1, max_message_kb: LIMIT_KB, ...mqtt },
    http: { enabled: false },
  };
  mkdirSync(sub, { recursive: true });
  const d = new DaemonProcess(["run", "--config", writeConfig(sub, config)]);
  daemons.push(d);
  return d;
}

async function recorder(filter: string): Promise<TopicRecorder> {
  const r = await TopicRecorder.start(broker.url, filter);
  recorders.push(r);
  return r;
}

const health = (m: RecordedMessage) => JSON.parse(m.payload) as HealthPayload;

async function ping(rec: TopicRecorder, prefix: string, id: string): Promise<CommandReplyPayload> {
  await client.publishAsync(`${prefix}/cmd/ping`, JSON.stringify({ id }), { qos: 1 });
  const m = await rec.waitFor(
    (x) => x.topic === `${prefix}/cmd/ping/reply` && x.payload.includes(`"${id}"`),
    20_000,
    `the reply to ping ${id}`,
  );
  return JSON.parse(m.payload) as CommandReplyPayload;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = tempDir();
  client = connect(broker.url, { clientId: `size-client-${process.pid}` });
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
});

afterAll(async () => {
  for (const d of daemons) d.kill("SIGKILL");
  for (const r of recorders) await r.close();
  await client?.endAsync(true);
  await broker?.dispose();
  if (dir) cleanup(dir);
});

describe("messages above mqtt.max_message_kb", () => {
  it("MQTT 3.1.1: a 100 MB message is skipped without being held in memory, acknowledged, counted; commands go on", async () => {
    const prefix = "linesight/size-v4";
    const rec = await recorder(`${prefix}/#`);
    const d = startDaemon("size-v4", { group_prefix: "linesight/all" });
    await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "listening for commands");
    await rec.waitFor((m) => m.topic === `${prefix}/health`, 20_000, "a first health report");
    expect((await ping(rec, prefix, "before")).ok).toBe(true);

    // The group topic: the message every device on the line would receive at once.
    const baseline = rssKb(d.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssKb(d.pid));
    }, 5);
    await client.publishAsync("linesight/all/cmd/ping", Buffer.alloc(100 * 1024 * 1024, 0x7b), { qos: 0 });
    await rec.waitFor((m) => m.topic === `${prefix}/health` && health(m).mqtt.oversized >= 1, 60_000, "oversized 1");
    clearInterval(sampler);
    // The sender learns why: a too_large reply (no id: the request was never read).
    const refused = await rec.waitFor((m) => m.topic === `${prefix}/cmd/ping/reply` && m.payload.includes("too_large"));
    expect(JSON.parse(refused.payload)).toMatchObject({ id: null, ok: false, error: { code: "too_large" } });
    // Holding the message whole would add at least its 100 MB; skipping it leaves only the
    // chunks read from the socket, freed by the next garbage collection (up to 68 MB of them
    // seen before a collection ran).
    expect(peak - baseline, `RSS grew by ${peak - baseline} kB`).toBeLessThan(90 * 1024);

    // More QoS 1 messages above the limit than Mosquitto keeps in flight (20): each was
    // acknowledged, or the broker would hold back everything after them, commands included.
    for (let i = 0; i < 30; i++)
      await client.publishAsync(`${prefix}/cmd/ping`, Buffer.alloc((LIMIT_KB + 10) * 1024, 0x20), { qos: 1 });
    const after = await ping(rec, prefix, "after");
    expect(after.ok).toBe(true);
    await rec.waitFor((m) => m.topic === `${prefix}/health` && health(m).mqtt.oversized === 31, 20_000, "oversized 31");

    const warning = d.logs.find((l) => String(l.msg).includes("above mqtt.max_message_kb"));
    expect(warning).toMatchObject({ topic: "linesight/all/cmd/ping", limit: LIMIT_KB * 1024 });
    // Never a reconnect: the connection carried on past every skipped message.
    expect(d.logs.some((l) => l.msg === "MQTT reconnected")).toBe(false);
  });

  it("MQTT 5: the limit is announced in CONNECT and the broker does not send larger messages", async () => {
    const prefix = "linesight/size-v5";
    const rec = await recorder(`${prefix}/#`);
    const d = startDaemon("size-v5", { protocol_version: 5 });
    await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "listening for commands");
    for (let i = 0; i < 5; i++)
      await client.publishAsync(`${prefix}/cmd/ping`, Buffer.alloc((LIMIT_KB + 10) * 1024, 0x20), { qos: 1 });
    expect((await ping(rec, prefix, "v5")).ok).toBe(true);
    // A report made after the ping was answered, so after the big messages were dealt with.
    const t = Date.now() + 1100;
    const h = await rec.waitFor((m) => m.topic === `${prefix}/health` && m.at > t, 20_000, "a later health report");
    // Nothing reached the device: Mosquitto dropped them for this client.
    expect(health(h).mqtt.oversized).toBe(0);
    expect(d.logs.some((l) => String(l.msg).includes("above mqtt.max_message_kb"))).toBe(false);
  });
});

describe("the embedded broker's limit", () => {
  it("disconnects a client that sends a message above it; nobody receives it; others go on", async () => {
    const port = await freePort();
    const embedded = await startEmbeddedBroker({
      host: "127.0.0.1",
      port,
      logger: pino({ level: "silent" }),
      maxPacketBytes: LIMIT_KB * 1024,
    });
    const sub = await TopicRecorder.start(embedded.url, "t/#");
    const sender = connect(embedded.url, { clientId: "big-sender", reconnectPeriod: 0 });
    try {
      await new Promise<void>((resolve) => sender.once("connect", () => resolve()));
      const closed = new Promise<void>((resolve) => sender.once("close", () => resolve()));
      sender.publish("t/big", Buffer.alloc(LIMIT_KB * 1024 + 1));
      await closed;
      const other = await TopicRecorder.start(embedded.url, "x/#");
      await other.client.publishAsync("t/small", "fine", { qos: 1 });
      await sub.waitFor((m) => m.topic === "t/small", 5_000, "the small message");
      await sleep(200);
      expect(sub.messages.map((m) => m.topic)).toEqual(["t/small"]);
      await other.close();
    } finally {
      sender.end(true);
      await sub.close();
      await embedded.close();
    }
  });
});

// Remote commands against the built daemon and a real Mosquitto: replies, their effect on state and
// decisions, bad requests of every kind, a flood, and the group topic (docs/mqtt.md#remote-commands).
import { join } from "node:path";
import Database from "better-sqlite3";
import { connect, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandReplyPayloadSchema, parseWirePayload } from "../../src/mqtt/payload-schemas.js";
import type { CommandReplyPayload } from "../../src/mqtt/payloads.js";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, type RecordedMessage, sleep, TopicRecorder } from "../helpers/mosquitto.js";

const ID = "cmd-1";
const PREFIX = `linesight/${ID}`;
const GROUP = "linesight/test-fleet";

let broker: Mosquitto;
let dir: string;
let daemon: DaemonProcess | undefined;
let rec: TopicRecorder;
let client: MqttClient;

const body = (m: RecordedMessage) => JSON.parse(m.payload) as Record<string, unknown>;
const isReply = (name: string) => (m: RecordedMessage) => m.topic === `${PREFIX}/cmd/${name}/reply`;
const reply = (m: RecordedMessage) => JSON.parse(m.payload) as CommandReplyPayload;
const decisionsSince = (t: number) => rec.messages.filter((m) => m.topic === `${PREFIX}/decision` && m.at >= t);

let counter = 0;
/** Publishes a request with a fresh id and resolves with its reply. */
async function request(name: string, args: Record<string, unknown> = {}, topic = `${PREFIX}/cmd/${name}`) {
  const id = `req-${++counter}`;
  await client.publishAsync(topic, JSON.stringify({ id, ...args }), { qos: 1 });
  const m = await rec.waitFor((x) => isReply(name)(x) && reply(x).id === id, 20_000, `the reply to ${name} ${id}`);
  expect(m.retain).toBe(false);
  const r = reply(m);
  expect(commandReplyPayloadSchema.safeParse(r).success, m.payload).toBe(true);
  return r;
}

/** Publishes raw bytes and resolves with the next reply on that command's reply topic. */
async function raw(name: string, payload: Buffer | string) {
  // Requests are answered in order: the reply is the next one on the topic.
  const before = rec.messages.filter(isReply(name)).length;
  await client.publishAsync(`${PREFIX}/cmd/${name}`, payload, { qos: 1 });
  const next = () => rec.messages.filter(isReply(name))[before];
  await rec.waitFor(() => next() !== undefined, 30_000, `a reply on ${name}`);
  return reply(next() as RecordedMessage);
}

async function expectDecisionsFlow(what: string) {
  const t = Date.now();
  await rec.waitFor((m) => m.topic === `${PREFIX}/decision` && m.at >= t, 20_000, `a decision ${what}`);
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = tempDir();
  rec = await TopicRecorder.start(broker.url, `${PREFIX}/#`);
  client = connect(broker.url, { clientId: `cmd-client-${process.pid}` });
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  const config = {
    device: { id: ID, site: "plant-a", line: "7" },
    camera: { replay: { path: FOOTAGE, fps: 30 } },
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db"), audit_fraction: 0 },
    mqtt: { url: broker.url, health_interval_s: 1, group_prefix: GROUP },
    log: { level: "info" },
  };
  daemon = new DaemonProcess(["run", "--config", writeConfig(dir, config)]);
  await rec.waitFor((m) => m.topic === `${PREFIX}/state` && body(m).pipeline === "running", 60_000, "state running");
  await daemon.waitForLog((l) => l.msg === "listening for commands", 30_000, "listening for commands");
});

afterAll(async () => {
  daemon?.kill("SIGKILL");
  await client?.endAsync(true);
  await rec?.close();
  await broker?.dispose();
  if (dir) cleanup(dir);
});

describe("remote commands", () => {
  it("answers ping with the id echoed, and get_config / get_stats", async () => {
    const r = await request("ping");
    expect(r).toMatchObject({ schema: 1, command: "ping", ok: true, result: { version: expect.any(String) } });
    const c = await request("get_config");
    expect(c).toMatchObject({ ok: true, result: { device: { id: ID }, mqtt: { url: broker.url } } });
    expect(JSON.stringify(c)).not.toMatch(/password"\s*:\s*"[^"]/);
    await rec.waitFor((m) => m.topic === `${PREFIX}/health`, 20_000, "a health report");
    const s = await request("get_stats");
    expect(s).toMatchObject({ ok: true, result: { health: { schema: 1 } } });
  });

  it("set_threshold changes the threshold in state and decisions, and is announced", async () => {
    const r = await request("set_threshold", { threshold: 0.3 });
    expect(r).toMatchObject({ ok: true, result: { threshold: 0.3 } });
    await rec.waitFor((m) => m.topic === `${PREFIX}/state` && body(m).threshold === 0.3, 10_000, "state threshold 0.3");
    await rec.waitFor(
      (m) => m.topic === `${PREFIX}/decision` && body(m).threshold === 0.3,
      20_000,
      "a decision at threshold 0.3",
    );
    const e = await rec.waitFor(
      (m) => m.topic === `${PREFIX}/event` && body(m).type === "command",
      10_000,
      "a command event",
    );
    expect(parseWirePayload("event", e.payload).success).toBe(true);
    await daemon?.waitForLog((l) => l.command === "set_threshold", 10_000, "a set_threshold log line");
  });

  it("pause stops decisions while health goes on; resume restarts them", async () => {
    expect(await request("pause")).toMatchObject({ ok: true, result: { paused: true } });
    await rec.waitFor((m) => m.topic === `${PREFIX}/state` && body(m).pipeline === "paused", 10_000, "state paused");
    await sleep(1000); // a frame in flight may still be decided
    const t = Date.now();
    await sleep(3000);
    expect(decisionsSince(t)).toHaveLength(0);
    expect(rec.messages.filter((m) => m.topic === `${PREFIX}/health` && m.at >= t).length).toBeGreaterThanOrEqual(1);
    const snap = await request("snapshot");
    expect(snap).toMatchObject({ ok: false, error: { code: "paused" } });

    expect(await request("resume")).toMatchObject({ ok: true, result: { paused: false } });
    await rec.waitFor(
      (m) => m.topic === `${PREFIX}/state` && body(m).pipeline === "running" && m.at >= t,
      10_000,
      "state running again",
    );
    await expectDecisionsFlow("after resume");
  });

  it("snapshot stores the next decided frame as a sample and replies with the sample's id", async () => {
    const r = await request("snapshot");
    expect(r).toMatchObject({
      ok: true,
      result: { sample_id: expect.any(Number), seq: expect.any(Number), reason: "snapshot" },
    });
    const result = (r.ok ? r.result : {}) as { sample_id: number; seq: number };
    const db = new Database(join(dir, "linesight.db"), { readonly: true, fileMustExist: true });
    try {
      // The reply comes once the row is written: it is there at once.
      expect(db.prepare("select seq, reason from samples where id = ?").get(result.sample_id)).toEqual({
        seq: result.seq,
        reason: "snapshot",
      });
    } finally {
      db.close();
    }
  });

  it("answers every kind of bad request with an error and keeps deciding", async () => {
    expect(await raw("ping", Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x7b]))).toMatchObject({
      ok: false,
      error: { code: "bad_json" },
    });
    expect(await raw("ping", "{ id: nope")).toMatchObject({ ok: false, error: { code: "bad_json" } });
    // Over the 64 KiB command limit but within mqtt.max_message_kb: read, then refused. (Above
    // max_message_kb nothing is read or answered: test/integration/mqtt-message-size.test.ts.)
    expect(await raw("ping", Buffer.alloc(100 * 1024, 0x7b))).toMatchObject({
      ok: false,
      error: { code: "too_large" },
    });
    expect(await request("set_threshold", { threshold: "high" })).toMatchObject({
      ok: false,
      error: { code: "invalid_args" },
    });
    expect(await request("set_threshold", { threshold: 7 })).toMatchObject({
      ok: false,
      error: { code: "invalid_args" },
    });
    expect(await request("self_destruct")).toMatchObject({ ok: false, error: { code: "unknown_command" } });
    await expectDecisionsFlow("after bad requests");
  });

  it("survives a flood of 1,000 commands in a second: every one answered, decisions keep flowing", async () => {
    await sleep(1500); // a full token bucket
    const ids = Array.from({ length: 1000 }, (_, i) => `flood-${i}`);
    const t = Date.now();
    for (let i = 0; i < ids.length; i += 100) {
      for (const id of ids.slice(i, i + 100)) client.publish(`${PREFIX}/cmd/ping`, JSON.stringify({ id }), { qos: 1 });
      await sleep(100);
    }
    const pending = new Set(ids);
    const end = Date.now() + 60_000;
    const replies: CommandReplyPayload[] = [];
    while (pending.size > 0) {
      for (const m of rec.messages) {
        if (!isReply("ping")(m) || m.at < t) continue;
        const r = reply(m);
        if (r.id && pending.delete(r.id)) replies.push(r);
      }
      if (pending.size === 0) break;
      if (Date.now() > end) throw new Error(`${pending.size} flood commands got no reply`);
      await sleep(200);
    }
    const ok = replies.filter((r) => r.ok).length;
    const limited = replies.filter((r) => !r.ok && r.error.code === "rate_limited").length;
    expect(ok + limited).toBe(1000);
    expect(ok).toBeGreaterThanOrEqual(50);
    expect(limited).toBeGreaterThan(500);
    expect(decisionsSince(t).length).toBeGreaterThan(0);
    await expectDecisionsFlow("after the flood");
  }, 120_000);

  it("takes commands on the group topic and replies under its own prefix", async () => {
    await sleep(1500);
    const r = await request("ping", {}, `${GROUP}/cmd/ping`);
    expect(r).toMatchObject({ ok: true, command: "ping" });
  });
});

// MqttPublisher against a real Mosquitto and a real mqtt.js subscriber: birth and will, a broker
// that is down at boot, lost and restarted, frozen, or unreachable at shutdown.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DecisionPayload, EventPayload, HealthPayload, StatePayload } from "../../src/mqtt/payloads.js";
import { MqttPublisher, type MqttPublisherOptions } from "../../src/mqtt/publisher.js";
import { MemoryOutbox } from "../../src/store/outbox.js";
import { Mosquitto, sleep, TopicRecorder, until } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// --- payload builders -------------------------------------------------------------------------

const state = (pipeline: StatePayload["pipeline"] = "running"): StatePayload => ({
  schema: 1,
  version: "0.1.0",
  device: { id: "cam-1", site: "plant-a", line: "L1" },
  model: { name: "round-parts", version: "1.0.0", sha256: "ab".repeat(32) },
  camera: { source: "replay", state: "streaming" },
  pipeline,
  threshold: 0.5,
  since: new Date().toISOString(),
});

const health = (n: number): HealthPayload => ({
  schema: 1,
  time: new Date().toISOString(),
  uptime_s: n,
  fps_in: 30,
  fps_out: 30,
  frames: { received: n, decided: n, dropped: 0, corrupt: 0, ood: 0 },
  camera: { state: "streaming", frames: n, restarts: 0, stalls: 0, corrupt: 0, skipped_bytes: 0 },
  decisions: { pass: n, reject: 0, uncertain: 0 },
  reject_rate: 0,
  latency_ms: { end_to_end: { p50: 5, p95: 8, p99: 9, max: 12, count: n } },
  memory: { rss_mb: 100, heap_mb: 40 },
  storage: null,
  mqtt: { dropped: 0, queued: 0, queued_bytes: 0, oversized: 0 },
  system: null,
  alerts: [],
  model: { shadow: null },
});

const event = (n: number): EventPayload => ({
  schema: 1,
  time: new Date().toISOString(),
  type: "camera_stalled",
  severity: "warning",
  message: `event ${n}`,
  data: { n },
});

const decision = (seq: number, label = "ok"): DecisionPayload => ({
  schema: 1,
  seq,
  time: new Date().toISOString(),
  label,
  score: 0.1,
  action: "pass",
  uncertain: false,
  ood: false,
  threshold: 0.5,
  model_version: "1.0.0",
  latency_ms: 5,
});

// --- fixtures ---------------------------------------------------------------------------------

/** pino logger whose output the test can read (level debug, to catch secrets in any line). */
function captureLogger(): { logger: pino.Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  return { logger, lines, text: () => lines.join("") };
}

let n = 0;
const uniquePrefix = () => `linesight/test-${process.pid}-${++n}`;

const started: MqttPublisher[] = [];
function startPublisher(url: string, extra: Partial<MqttPublisherOptions> = {}) {
  const log = captureLogger();
  const prefix = extra.prefix ?? uniquePrefix();
  const publisher = MqttPublisher.start({
    url,
    clientId: `pub-${prefix}`,
    prefix,
    keepaliveS: 30,
    logger: log.logger,
    ...extra,
  });
  started.push(publisher);
  return { publisher, prefix, log };
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

const isMsg = (topic: string, payload?: string) => (m: { topic: string; payload: string }) =>
  m.topic === topic && (payload === undefined || m.payload === payload);

let broker: Mosquitto;
const recorders: TopicRecorder[] = [];
async function record(url: string, filter: string): Promise<TopicRecorder> {
  const r = await TopicRecorder.start(url, filter);
  recorders.push(r);
  return r;
}

beforeAll(async () => {
  broker = await Mosquitto.start();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
  await Promise.all(recorders.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await broker?.dispose();
});

describe("MqttPublisher with a real Mosquitto", () => {
  it("publishes birth `online` and the state retained, events and decisions live, with the documented QoS", async () => {
    const { publisher, prefix } = startPublisher(broker.url);
    publisher.publish("state", state("starting")); // before the connection exists: remembered
    await until(() => publisher.connected, 10_000, "connect");

    // A subscriber that arrives later still sees availability and state: both retained.
    const late = await record(broker.url, `${prefix}/#`);
    const status = await late.waitFor(isMsg(`${prefix}/status`, "online"));
    expect(status.retain).toBe(true);
    const st = await late.waitFor(isMsg(`${prefix}/state`));
    expect(st.retain).toBe(true);
    expect(JSON.parse(st.payload)).toMatchObject({ schema: 1, pipeline: "starting", device: { id: "cam-1" } });

    publisher.publish("health", health(1));
    publisher.publish("event", event(1));
    publisher.publish("decision", decision(1));
    const h = await late.waitFor(isMsg(`${prefix}/health`));
    const e = await late.waitFor(isMsg(`${prefix}/event`));
    const d = await late.waitFor(isMsg(`${prefix}/decision`));
    expect(JSON.parse(h.payload)).toMatchObject({ uptime_s: 1 });
    expect(JSON.parse(e.payload)).toMatchObject({ message: "event 1", severity: "warning" });
    expect(JSON.parse(d.payload)).toMatchObject({ seq: 1, action: "pass" });
    // Live deliveries to an existing subscription are not flagged retained.
    expect([h.retain, e.retain, d.retain]).toEqual([false, false, false]);
    expect([e.qos, d.qos]).toEqual([1, 0]);
    expect(publisher.stats()).toMatchObject({ dropped: 0, connects: 1 });

    // And a fresh subscriber gets the retained health too.
    const later = await record(broker.url, `${prefix}/health`);
    expect((await later.waitFor(isMsg(`${prefix}/health`))).retain).toBe(true);
  });

  it("the broker publishes the will `offline` when the publisher's process dies abruptly (SIGKILL)", async () => {
    const prefix = uniquePrefix();
    const seen = await record(broker.url, `${prefix}/#`);
    const child = spawnPublisherChild(broker.url, prefix);
    try {
      await seen.waitFor(isMsg(`${prefix}/status`, "online"), 20_000, "the child's birth message");
      await seen.waitFor(isMsg(`${prefix}/state`));
      child.kill("SIGKILL");
      const will = await seen.waitFor(isMsg(`${prefix}/status`, "offline"), 10_000, "the will");
      expect(will.qos).toBe(1);
      // Retained: anyone looking later learns the device is offline.
      const late = await record(broker.url, `${prefix}/status`);
      expect((await late.waitFor(isMsg(`${prefix}/status`))).payload).toBe("offline");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("started while the broker is down: publish returns at once; on connect sends status, the last state, every health sample and the events, in order, keeping the newest when the outbox is full; decisions are dropped and counted", async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const { publisher, prefix, log } = startPublisher(url, {
      outbox: new MemoryOutbox({ maxMessages: 10, maxBytes: 1 << 20 }),
    });
    expect(publisher.connected).toBe(false);

    const took = await timed(async () => {
      publisher.publish("state", state("starting"));
      publisher.publish("state", state("running"));
      for (let i = 1; i <= 3; i++) publisher.publish("health", health(i));
      // The outbox holds 10 of these 12: both states (the oldest) are dropped.
      for (let i = 1; i <= 7; i++) publisher.publish("event", event(i));
      for (let i = 1; i <= 100; i++) publisher.publish("decision", decision(i));
    });
    expect(took).toBeLessThan(100);
    expect(publisher.stats()).toMatchObject({ dropped: 100 + 2, queued: 10, connects: 0 });

    // Bring the broker up just after a failed retry, so the subscriber is in place before the
    // publisher's next attempt (backoff: 1 s, then 2 s).
    await until(() => log.text().includes("MQTT reconnecting"), 5_000, "the first retry");
    const retriedAt = Date.now();
    const upLater = await Mosquitto.start({ port });
    try {
      const seen = await record(upLater.url, `${prefix}/#`);
      await until(() => publisher.connected, 10_000, "connect once the broker is up");
      expect(Date.now() - retriedAt).toBeGreaterThan(1_500); // the second wait is 2 s, not 1 s

      await until(() => seen.payloads("/event").length === 7, 5_000, "seven events");
      expect(seen.payloads("/event").map((p) => (JSON.parse(p) as EventPayload).message)).toEqual(
        [1, 2, 3, 4, 5, 6, 7].map((i) => `event ${i}`),
      );
      expect(seen.payloads("/status")).toEqual(["online"]);
      // Dropped from the outbox, but the newest state is still known and restored (retained).
      expect(seen.payloads("/state").map((p) => (JSON.parse(p) as StatePayload).pipeline)).toEqual(["running"]);
      expect(seen.payloads("/health").map((p) => (JSON.parse(p) as HealthPayload).uptime_s)).toEqual([1, 2, 3]);
      expect(seen.on("/decision")).toEqual([]);
      // Birth first: a consumer never sees state from a device it believes offline.
      expect(seen.messages[0]?.topic).toBe(`${prefix}/status`);
      await until(() => publisher.stats().queued === 0, 5_000, "queue drained");
      expect(publisher.stats()).toEqual({ dropped: 102, queued: 0, queuedBytes: 0, connects: 1, oversized: 0 });

      // Connected again: decisions flow.
      publisher.publish("decision", decision(101));
      await seen.waitFor(isMsg(`${prefix}/decision`));
    } finally {
      await upLater.dispose();
    }
  });

  it("after the broker crashes and restarts (losing retained messages) republishes online and state, and the events queued meanwhile", async () => {
    const own = await Mosquitto.start();
    try {
      const { publisher, prefix, log } = startPublisher(own.url);
      publisher.publish("state", state("running"));
      publisher.publish("health", health(1));
      await until(() => publisher.connected, 10_000, "connect");
      const seen = await record(own.url, `${prefix}/#`);
      await seen.waitFor(isMsg(`${prefix}/state`));

      const linesBefore = log.lines.length;
      await own.kill();
      await until(() => !publisher.connected, 5_000, "noticing the loss");
      publisher.publish("event", event(1));
      publisher.publish("decision", decision(1));
      publisher.publish("event", event(2));
      publisher.publish("health", health(2));
      expect(publisher.stats().dropped).toBe(1);

      await until(() => log.lines.slice(linesBefore).some((l) => l.includes("MQTT reconnecting")), 5_000, "a retry");
      seen.clear();
      await own.restart(); // persistence off: the restarted broker has no retained messages
      // The recorder reconnects every 200 ms, the publisher's next attempt is 2 s away.
      await until(() => seen.client.connected, 5_000, "recorder reconnect");
      await sleep(100); // let the recorder's resubscription land
      await until(() => publisher.connected, 10_000, "reconnect");
      await until(() => seen.payloads("/event").length === 2, 5_000, "queued events");
      expect(seen.payloads("/status")).toEqual(["online"]);
      expect(seen.on("/state")).toHaveLength(1);
      expect(seen.payloads("/health").map((p) => (JSON.parse(p) as HealthPayload).uptime_s)).toEqual([2]);
      expect(seen.payloads("/event").map((p) => (JSON.parse(p) as EventPayload).message)).toEqual([
        "event 1",
        "event 2",
      ]);
      expect(publisher.stats().connects).toBe(2);

      // A subscriber arriving now finds the state retained again.
      const late = await record(own.url, `${prefix}/state`);
      expect((await late.waitFor(isMsg(`${prefix}/state`))).retain).toBe(true);
    } finally {
      await own.dispose();
    }
  });

  it("stop() publishes `offline` retained, disconnects cleanly (no will) and is quick", async () => {
    const { publisher, prefix } = startPublisher(broker.url);
    await until(() => publisher.connected, 10_000, "connect");
    const seen = await record(broker.url, `${prefix}/#`);
    await seen.waitFor(isMsg(`${prefix}/status`, "online"));
    const ms = await timed(() => publisher.stop());
    expect(ms).toBeLessThan(1000);
    expect(publisher.connected).toBe(false);
    await seen.waitFor(isMsg(`${prefix}/status`, "offline"));
    const late = await record(broker.url, `${prefix}/status`);
    const retained = await late.waitFor(isMsg(`${prefix}/status`));
    expect([retained.payload, retained.retain]).toEqual(["offline", true]);
    // Publishing after stop is a no-op, not an error.
    publisher.publish("decision", decision(1));
    await publisher.stop();
  });

  describe("stop() returns within 2 s when the broker cannot be reached", () => {
    it("nothing listening (connection refused)", async () => {
      const { publisher } = startPublisher(`mqtt://127.0.0.1:${await freePort()}`);
      publisher.publish("event", event(1));
      await sleep(300);
      expect(await timed(() => publisher.stop())).toBeLessThan(2000);
    });

    it("a server that accepts TCP but never answers CONNECT", async () => {
      const silent = await silentServer();
      try {
        const { publisher } = startPublisher(`mqtt://127.0.0.1:${silent.port}`);
        await until(() => silent.sockets.size > 0, 5_000, "TCP connection");
        expect(await timed(() => publisher.stop())).toBeLessThan(2000);
      } finally {
        await silent.close();
      }
    });

    it("a broker frozen after connecting (SIGSTOP: connection open, nothing acknowledged)", async () => {
      const own = await Mosquitto.start();
      try {
        const { publisher } = startPublisher(own.url);
        await until(() => publisher.connected, 10_000, "connect");
        own.pause();
        publisher.publish("event", event(1)); // awaits a PUBACK that will not come
        expect(await timed(() => publisher.stop())).toBeLessThan(2000);
      } finally {
        await own.dispose();
      }
    });
  });

  it("a broker that stops reading: decisions are dropped, not buffered without bound", async () => {
    const own = await Mosquitto.start();
    try {
      const { publisher, log } = startPublisher(own.url);
      await until(() => publisher.connected, 10_000, "connect");
      own.pause();
      // 2000 x 64 KiB = 125 MiB if buffered; the kernel's socket buffers take a few MiB.
      const big = "x".repeat(64 * 1024);
      const took = await timed(async () => {
        for (let i = 0; i < 2000; i++) publisher.publish("decision", decision(i, big));
      });
      expect(took).toBeLessThan(5_000);
      expect(publisher.stats().dropped).toBeGreaterThan(1500);
      expect(log.text()).toContain("not keeping up");
      own.resume();
    } finally {
      await own.dispose();
    }
  });

  it("a broker refusing the credentials: keeps retrying with backoff (mqtt.js alone would give up) and warns once, with a hint", async () => {
    const strict = await Mosquitto.start({ config: ["allow_anonymous false"] });
    try {
      const { publisher, log } = startPublisher(strict.url, { username: "ops", password: "opt-s3cret" });
      const attempts = () => log.lines.filter((l) => l.includes("MQTT reconnecting")).length;
      await until(() => attempts() >= 2, 5_000, "two retries (after 1 s and 2 s)");
      expect(publisher.connected).toBe(false);
      const warnings = log.lines.filter((l) => l.includes("MQTT connection failed"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("Not authorized");
      expect(warnings[0]).toContain("check mqtt.username");
      expect(log.text()).not.toContain("s3cret");
    } finally {
      await strict.dispose();
    }
  });

  it("never logs the password or a URL containing it", async () => {
    const url = `mqtt://ops:url-s3cret@127.0.0.1:${broker.port}`;
    const ok = startPublisher(url, { username: "ops", password: "opt-s3cret" });
    await until(() => ok.publisher.connected, 10_000, "connect"); // anonymous broker accepts any credentials
    await ok.publisher.stop();
    const down = startPublisher(`mqtt://ops:url-s3cret@127.0.0.1:${await freePort()}`, { password: "opt-s3cret" });
    await until(() => down.log.text().includes("MQTT connection failed"), 5_000, "a failure log");
    await down.publisher.stop();
    for (const text of [ok.log.text(), down.log.text()]) {
      expect(text).toContain("127.0.0.1");
      expect(text).not.toContain("s3cret");
    }
  });

  it("rejects an unusable configuration at start, without echoing secrets", () => {
    const logger = pino({ level: "silent" });
    const base = { clientId: "x", keepaliveS: 30, logger };
    expect(() => MqttPublisher.start({ ...base, url: "mqtt://h:1883", prefix: "linesight/#" })).toThrow(/wildcard/);
    expect(() => MqttPublisher.start({ ...base, url: "broker.local:1883", prefix: "p" })).toThrow(/scheme/);
    expect(() => MqttPublisher.start({ ...base, url: "http://u:s3cret@h", prefix: "p" })).toThrow(/^(?!.*s3cret)/);
    expect(() => MqttPublisher.start({ ...base, url: "not a url s3cret", prefix: "p" })).toThrow(
      /^(?!.*s3cret).*valid URL/,
    );
  });
});

// --- helpers for this file --------------------------------------------------------------------

/**
 * Runs a publisher in a separate Node process (TypeScript through vite-node) so the test can
 * SIGKILL it: the broker then sees the connection die without a DISCONNECT.
 */
function spawnPublisherChild(url: string, prefix: string): ChildProcess {
  const dir = mkdtempSync(join(tmpdir(), "linesight-mqtt-child-"));
  const script = join(dir, "child.ts");
  writeFileSync(
    script,
    `import pino from "pino";
import { MqttPublisher } from ${JSON.stringify(join(ROOT, "src/mqtt/publisher.ts"))};
const p = MqttPublisher.start({ url: process.env.URL!, clientId: "child-" + process.pid, prefix: process.env.PREFIX!, keepaliveS: 30, logger: pino({ level: "warn" }) });
p.publish("state", ${JSON.stringify(state("running"))});
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, [join(ROOT, "node_modules/vite-node/vite-node.mjs"), "--root", ROOT, script], {
    cwd: ROOT,
    env: { ...process.env, URL: url, PREFIX: prefix },
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return child;
}

/** A TCP server that accepts connections and never says a word (a broker hung before CONNACK). */
async function silentServer(): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

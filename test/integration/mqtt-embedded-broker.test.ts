// The embedded aedes broker: serves real mqtt.js clients (our publisher and a subscriber), and
// explains itself when its port is taken.
import { createServer } from "node:net";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { startEmbeddedBroker } from "../../src/mqtt/embedded-broker.js";
import { MqttPublisher } from "../../src/mqtt/publisher.js";
import { Mosquitto, sleep, TopicRecorder } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const logger = pino({ level: "silent" });

describe("embedded MQTT broker", () => {
  it("serves the publisher and a real mqtt.js subscriber: retained birth and state, live decisions", async () => {
    const port = await freePort();
    const broker = await startEmbeddedBroker({ host: "127.0.0.1", port, logger });
    expect(broker.url).toBe(`mqtt://127.0.0.1:${port}`);
    const publisher = MqttPublisher.start({
      url: broker.url,
      clientId: "embedded-test",
      prefix: "linesight/emb",
      keepaliveS: 30,
      logger,
    });
    let seen: TopicRecorder | undefined;
    try {
      publisher.publish("state", {
        schema: 1,
        version: "0.1.0",
        device: { id: "emb", site: "s", line: "l" },
        model: null,
        camera: { source: "replay", state: "starting" },
        pipeline: "starting",
        threshold: null,
        since: new Date().toISOString(),
      });
      while (!publisher.connected) await sleep(10);
      seen = await TopicRecorder.start(broker.url, "linesight/#");
      const status = await seen.waitFor((m) => m.topic === "linesight/emb/status");
      expect([status.payload, status.retain]).toEqual(["online", true]);
      const state = await seen.waitFor((m) => m.topic === "linesight/emb/state");
      expect(state.retain).toBe(true);
      expect(JSON.parse(state.payload)).toMatchObject({ device: { id: "emb" } });

      publisher.publish("decision", {
        schema: 1,
        seq: 7,
        time: new Date().toISOString(),
        label: "ok",
        score: 0.02,
        action: "pass",
        uncertain: false,
        ood: false,
        threshold: 0.5,
        model_version: "1",
        latency_ms: 4,
      });
      const decision = await seen.waitFor((m) => m.topic === "linesight/emb/decision");
      expect(JSON.parse(decision.payload)).toMatchObject({ seq: 7 });

      await publisher.stop();
      await seen.waitFor((m) => m.topic === "linesight/emb/status" && m.payload === "offline");
    } finally {
      await publisher.stop();
      await seen?.close();
      await broker.close();
    }
  });

  it("close() resolves promptly with clients still connected, and frees the port", async () => {
    const port = await freePort();
    const broker = await startEmbeddedBroker({ host: "127.0.0.1", port, logger });
    const seen = await TopicRecorder.start(broker.url, "#");
    const t0 = Date.now();
    await broker.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    await seen.close();
    const again = await startEmbeddedBroker({ host: "127.0.0.1", port, logger });
    await again.close();
  });

  it("a wildcard listen address gives a connectable loopback URL", async () => {
    const port = await freePort("0.0.0.0");
    const broker = await startEmbeddedBroker({ host: "0.0.0.0", port, logger });
    try {
      expect(broker.url).toBe(`mqtt://127.0.0.1:${port}`);
      const seen = await TopicRecorder.start(broker.url, "#");
      await seen.close();
    } finally {
      await broker.close();
    }
  });

  it("on a port Mosquitto already holds, fails with a clear error naming the port and the fixes", async () => {
    const mosquitto = await Mosquitto.start();
    try {
      const err = await startEmbeddedBroker({ host: "127.0.0.1", port: mosquitto.port, logger }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      const message = err?.message ?? "";
      expect(message).toContain(`port ${mosquitto.port}`);
      expect(message).toContain("already in use");
      expect(message).toMatch(/mosquitto/i);
      expect(message).toContain("mqtt.url");
      expect(message).toContain("mqtt.embedded.port");
      expect(err?.name).toBe("UserFacingError");
    } finally {
      await mosquitto.dispose();
    }
  });

  it("on a port held by any other program, also fails with the clear error", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const address = holder.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      await expect(startEmbeddedBroker({ host: "127.0.0.1", port, logger })).rejects.toThrow(
        `port ${port} on 127.0.0.1 is already in use`,
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

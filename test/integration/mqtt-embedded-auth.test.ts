// The embedded broker's login (issue 14, item 5): with mqtt.embedded.username and a password file
// it accepts only that login, and the daemon's own client uses it; a broker open to the network
// without a login is refused at start unless allow_anonymous says so.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type IClientOptions } from "mqtt";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedBroker } from "../../src/mqtt/embedded-broker.js";
import { MqttPublisher } from "../../src/mqtt/publisher.js";
import { cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { TopicRecorder, until } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const logger = pino({ level: "silent" });
const dir = tempDir();
const daemons: DaemonProcess[] = [];

afterAll(() => {
  for (const d of daemons) d.kill("SIGKILL");
  cleanup(dir);
});

/** How a connection attempt ends: "connected", or the broker's refusal code (4: bad login, 5: not authorized). */
function tryConnect(url: string, opts: IClientOptions = {}): Promise<"connected" | number | string> {
  return new Promise((resolve) => {
    const c = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once("connect", () => {
      c.end(true);
      resolve("connected");
    });
    c.once("error", (err: Error & { code?: number | string }) => {
      c.end(true);
      resolve(err.code ?? err.message);
    });
  });
}

function daemonConfig(sub: string, embedded: Record<string, unknown>) {
  return writeConfig(sub, {
    device: { id: "emb-auth" },
    camera: { replay: { path: FOOTAGE, fps: 10 } },
    model: { path: MODEL },
    storage: { path: join(sub, "linesight.db"), audit_fraction: 0 },
    mqtt: { embedded, health_interval_s: 1 },
    http: { enabled: false },
  });
}

describe("embedded broker login", () => {
  it("accepts only the configured login: anonymous and wrong passwords are refused", async () => {
    const port = await freePort();
    const broker = await startEmbeddedBroker({
      host: "127.0.0.1",
      port,
      logger,
      login: { username: "line", password: "correct horse" },
    });
    try {
      expect(await tryConnect(broker.url)).toBe(4);
      expect(await tryConnect(broker.url, { username: "line", password: "wrong" })).toBe(4);
      expect(await tryConnect(broker.url, { username: "line", password: "correct horse!" })).toBe(4);
      expect(await tryConnect(broker.url, { username: "other", password: "correct horse" })).toBe(4);
      expect(await tryConnect(broker.url, { username: "line", password: "correct horse" })).toBe("connected");

      const publisher = MqttPublisher.start({
        url: broker.url,
        clientId: "auth-test",
        prefix: "linesight/auth",
        username: "line",
        password: "correct horse",
        keepaliveS: 30,
        logger,
      });
      await until(() => publisher.connected, 10_000, "the publisher's login");
      await publisher.stop();
    } finally {
      await broker.close();
    }
  });

  it("the daemon logs its own client in; a subscriber without the login is refused", async () => {
    const sub = join(dir, "login");
    mkdirSync(sub, { recursive: true });
    const passwordFile = join(sub, "broker-password");
    writeFileSync(passwordFile, "s3cret-broker\n", { mode: 0o600 });
    const port = await freePort();
    const d = new DaemonProcess([
      "run",
      "--config",
      daemonConfig(sub, { host: "127.0.0.1", port, username: "linesight", password_file: passwordFile }),
    ]);
    daemons.push(d);
    await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "the daemon connected and subscribed");
    const url = `mqtt://127.0.0.1:${port}`;
    const rec = await TopicRecorder.start(url, "linesight/emb-auth/#", {
      username: "linesight",
      password: "s3cret-broker",
    });
    try {
      await rec.waitFor((m) => m.topic === "linesight/emb-auth/state", 20_000, "state through the logged-in broker");
      expect(await tryConnect(url)).toBe(4);
      expect(JSON.stringify(d.logs)).not.toContain("s3cret-broker");
    } finally {
      await rec.close();
      d.kill("SIGTERM");
      expect(await d.exited).toBe(0);
    }
  });

  it("the daemon refuses to open the broker to the network without a login, naming the key and the fixes", async () => {
    const sub = join(dir, "open");
    mkdirSync(sub, { recursive: true });
    const d = new DaemonProcess(["run", "--config", daemonConfig(sub, { host: "0.0.0.0", port: await freePort() })]);
    daemons.push(d);
    expect(await d.exited).toBe(1);
    const said = `${d.stderr}${JSON.stringify(d.logs)}`;
    expect(said).toContain("mqtt.embedded.host");
    expect(said).toContain("mqtt.embedded.username");
    expect(said).toContain("allow_anonymous: true");
  });
});

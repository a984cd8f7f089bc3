// The daemon against a Mosquitto that speaks only TLS, wants a client certificate, a password and
// enforces an ACL (docs/mqtt.md#security). Certificates are made here with openssl; the password
// file with mosquitto_passwd. Wrong credentials must be said plainly in the log, retried with
// backoff, and never stop inspection.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CommandReplyPayload, HealthPayload } from "../../src/mqtt/payloads.js";
import { makePki, type Pki } from "../helpers/certs.js";
import { cleanup, DaemonProcess, FOOTAGE, type LogLine, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, sleep, TopicRecorder } from "../helpers/mosquitto.js";

const ID = "sec-1";
const PREFIX = `linesight/${ID}`;
const DEVICE_PASSWORD = "s3cret-Device-pw";
const OPS_PASSWORD = "ops-pw-42";

let dir: string;
let pki: Pki;
let broker: Mosquitto;
let url: string;
const daemons: DaemonProcess[] = [];
const recorders: TopicRecorder[] = [];

beforeAll(async () => {
  dir = tempDir();
  pki = makePki(dir);
  const pw = join(dir, "passwords");
  execFileSync("mosquitto_passwd", ["-b", "-c", pw, "dev1", DEVICE_PASSWORD]);
  execFileSync("mosquitto_passwd", ["-b", pw, "ops", OPS_PASSWORD]);
  const acl = join(dir, "acl");
  // The device may publish under its prefix and read only its own and its group's commands.
  writeFileSync(
    acl,
    [
      "user dev1",
      `topic write ${PREFIX}/#`,
      `topic read ${PREFIX}/cmd/#`,
      "topic read linesight/all/cmd/#",
      "",
      "user ops",
      "topic readwrite #",
      "",
    ].join("\n"),
  );
  broker = await Mosquitto.start({
    config: [
      `cafile ${pki.ca}`,
      `certfile ${pki.serverCert}`,
      `keyfile ${pki.serverKey}`,
      "require_certificate true",
      "allow_anonymous false",
      `password_file ${pw}`,
      `acl_file ${acl}`,
    ],
  });
  url = `mqtts://127.0.0.1:${broker.port}`;
});

afterEach(async () => {
  for (const d of daemons.splice(0)) d.kill("SIGKILL");
  for (const r of recorders.splice(0)) await r.close();
});

afterAll(async () => {
  await broker?.dispose();
  if (dir) cleanup(dir);
});

const opsTls = () => ({
  username: "ops",
  password: OPS_PASSWORD,
  ca: readFileSync(pki.ca),
  cert: readFileSync(pki.clientCert),
  key: readFileSync(pki.clientKey),
});

function startDaemon(mqtt: Record<string, unknown>, passwordFileText = DEVICE_PASSWORD): DaemonProcess {
  const runDir = tempDir();
  writeFileSync(join(runDir, "mqtt-password"), `${passwordFileText}\n`);
  const config = {
    device: { id: ID },
    camera: { replay: { path: FOOTAGE, fps: 10 } },
    model: { path: MODEL },
    storage: { path: join(runDir, "linesight.db"), audit_fraction: 0 },
    mqtt: {
      url,
      username: "dev1",
      password_file: join(runDir, "mqtt-password"),
      health_interval_s: 1,
      tls: { ca_file: pki.ca, cert_file: pki.clientCert, key_file: pki.clientKey },
      ...mqtt,
    },
    log: { level: "info" },
  };
  const d = new DaemonProcess(["run", "--config", writeConfig(runDir, config)]);
  daemons.push(d);
  return d;
}

const decidedSoFar = (d: DaemonProcess) =>
  Math.max(0, ...d.logs.filter((l) => l.msg === "health").map((l) => (l.health as HealthPayload).frames.decided));

/** The daemon keeps inspecting: health reports show frames being decided over a few seconds. */
async function expectStillDeciding(d: DaemonProcess): Promise<void> {
  const before = decidedSoFar(d);
  await sleep(3_000);
  expect(decidedSoFar(d)).toBeGreaterThan(before + 10);
}

const isFailure = (l: LogLine) => l.msg.startsWith("MQTT connection failed");

describe("MQTT security: TLS, client certificates, passwords, ACL", () => {
  it("connects over TLS with a client certificate and a password, publishes, and answers commands within its ACL", async () => {
    const rec = await TopicRecorder.start(url, `${PREFIX}/#`, opsTls());
    recorders.push(rec);
    const d = startDaemon({});
    await rec.waitFor(
      (m) => m.topic === `${PREFIX}/state` && m.payload.includes('"running"'),
      60_000,
      "state over TLS",
    );
    const listening = await d.waitForLog((l) => l.msg === "listening for commands", 30_000);
    // Only its own and its group's command topics.
    expect(listening.topics).toEqual([`${PREFIX}/cmd/+`, "linesight/all/cmd/+"]);
    expect(d.logs.some((l) => l.msg.startsWith("could not subscribe"))).toBe(false);

    const ops = connect(url, { ...opsTls(), clientId: `ops-${process.pid}` });
    try {
      await new Promise<void>((resolve) => ops.once("connect", () => resolve()));
      await ops.publishAsync(`${PREFIX}/cmd/ping`, JSON.stringify({ id: "tls-ping" }), { qos: 1 });
      const m = await rec.waitFor((x) => x.topic === `${PREFIX}/cmd/ping/reply`, 20_000, "the ping reply");
      expect(JSON.parse(m.payload) as CommandReplyPayload).toMatchObject({ id: "tls-ping", ok: true });
    } finally {
      await ops.endAsync(true);
    }
    // The password is read from its file and never written to the log.
    expect(JSON.stringify(d.logs) + d.stderr).not.toContain(DEVICE_PASSWORD);
  }, 120_000);

  it("wrong password: one clear log line naming what to check, retries with growing delays, inspection goes on", async () => {
    const attemptsBefore = broker.log.split("New connection").length;
    const d = startDaemon({}, "not-the-password");
    const failure = await d.waitForLog(isFailure, 60_000, "the connection failure");
    expect(String(failure.hint)).toMatch(/refused the login: check mqtt\.username, the password file/);
    await expectStillDeciding(d);
    await sleep(4_000);
    // Backoff 1 s, 2 s, 4 s...: a few attempts in ~8 s, not one every few milliseconds.
    const attempts = broker.log.split("New connection").length - attemptsBefore;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(6);
    // Said once, not once per attempt.
    expect(d.logs.filter(isFailure)).toHaveLength(1);
    expect(JSON.stringify(d.logs) + d.stderr).not.toContain("not-the-password");
  }, 120_000);

  it("broker certificate signed by a CA the device does not trust: says so and how to fix it, inspection goes on", async () => {
    const d = startDaemon({ tls: { ca_file: pki.rogueCa, cert_file: pki.clientCert, key_file: pki.clientKey } });
    const failure = await d.waitForLog(isFailure, 60_000, "the TLS failure");
    expect(String(failure.hint)).toMatch(/not trusted: set mqtt\.tls\.ca_file/);
    await expectStillDeciding(d);
  }, 120_000);

  it("client certificate the broker does not trust: the handshake failure is explained, inspection goes on", async () => {
    const d = startDaemon({ tls: { ca_file: pki.ca, cert_file: pki.rogueClientCert, key_file: pki.rogueClientKey } });
    const failure = await d.waitForLog(isFailure, 60_000, "the TLS failure");
    expect(String(failure.hint)).toMatch(/client certificate/);
    await expectStillDeciding(d);
  }, 120_000);

  it("a CA file that is not PEM stops the start with the key and the fix", async () => {
    const bad = join(dir, "not-a-cert.txt");
    writeFileSync(bad, "hello");
    const d = startDaemon({ tls: { ca_file: bad } });
    expect(await d.exited).not.toBe(0);
    expect(d.stderr + JSON.stringify(d.logs)).toMatch(/mqtt\.tls\.ca_file: .*not-a-cert\.txt is not a PEM file/);
  }, 60_000);
});

// Camera passwords never leave the device (issue 14, item 1): get_config over a real Mosquitto,
// the daemon's log and the capture program's echoed errors all show them masked, and a password
// kept in a file still reaches the camera, inserted into the URL only when ffmpeg starts.
// The "camera" is a TCP listener that answers every RTSP request 401 with Basic auth, so the real
// ffmpeg shows the credentials it would log in with.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { connect, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandReplyPayload } from "../../src/mqtt/payloads.js";
import { cleanup, DaemonProcess, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, TopicRecorder } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const ID = "secrets-1";
const PREFIX = `linesight/${ID}`;
const CAMERA_PASSWORD = "p@ss/w0rd:cam-secret-1";
const SECRETS = [
  CAMERA_PASSWORD,
  "cam-secret-1",
  "gst-secret-2",
  "pipe-secret-3",
  "pipe-secret-4",
  "arg-secret-5",
  "url-secret-6",
];

let broker: Mosquitto;
let rec: TopicRecorder;
let client: MqttClient;
let rtsp: Server;
const authorizations: string[] = [];
let dir: string;
const daemons: DaemonProcess[] = [];

/** Answers every RTSP request 401 (Basic), remembering the Authorization headers it was sent. */
async function unauthorizedRtsp(port: number): Promise<Server> {
  const server = createServer((c) => {
    c.on("error", () => {});
    c.on("data", (d) => {
      const text = d.toString();
      const auth = /Authorization: Basic (\S+)/.exec(text)?.[1];
      if (auth) authorizations.push(Buffer.from(auth, "base64").toString());
      const cseq = /CSeq: (\d+)/.exec(text)?.[1] ?? "1";
      c.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return server;
}

function startDaemon(name: string, ffmpeg: Record<string, unknown>): DaemonProcess {
  const sub = join(dir, name);
  const config = {
    device: { id: ID },
    camera: {
      source: "ffmpeg",
      ffmpeg: { input: "rtsp", ...ffmpeg },
      gstreamer: {
        element: "custom",
        pipeline: "rtspsrc location=rtsp://viewer:pipe-secret-3@cam/s user-pw=pipe-secret-4",
        properties: { "user-pw": "gst-secret-2" },
      },
      libcamera: { extra_args: ["--password", "arg-secret-5"] },
      stall_timeout_s: 2,
    },
    model: { path: MODEL },
    storage: { path: join(sub, "linesight.db") },
    mqtt: { url: broker.url, health_interval_s: 1 },
    http: { enabled: false },
  };
  mkdirSync(sub, { recursive: true });
  const d = new DaemonProcess(["run", "--config", writeConfig(sub, config)]);
  daemons.push(d);
  return d;
}

async function getConfig(): Promise<CommandReplyPayload> {
  const id = `cfg-${Date.now()}`;
  rec.clear();
  await client.publishAsync(`${PREFIX}/cmd/get_config`, JSON.stringify({ id }), { qos: 1 });
  const m = await rec.waitFor(
    (x) => x.topic === `${PREFIX}/cmd/get_config/reply` && x.payload.includes(id),
    20_000,
    "the get_config reply",
  );
  return JSON.parse(m.payload) as CommandReplyPayload;
}

function everythingLogged(d: DaemonProcess): string {
  return `${JSON.stringify(d.logs)}\n${d.stderr}`;
}

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = tempDir();
  rec = await TopicRecorder.start(broker.url, `${PREFIX}/#`);
  client = connect(broker.url, { clientId: `secrets-client-${process.pid}` });
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  rtsp = await unauthorizedRtsp(await freePort());
});

afterAll(async () => {
  for (const d of daemons) d.kill("SIGKILL");
  await client?.endAsync(true);
  await rec?.close();
  await broker?.dispose();
  await new Promise<void>((resolve) => (rtsp ? rtsp.close(() => resolve()) : resolve()));
  if (dir) cleanup(dir);
});

describe("camera credentials", () => {
  it("a password inline in the camera URL is masked in get_config, in the log and in ffmpeg's echoed errors", async () => {
    const port = (rtsp.address() as { port: number }).port;
    const d = startDaemon("inline", { url: `rtsp://admin:url-secret-6@127.0.0.1:${port}/stream` });
    await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "listening for commands");
    // ffmpeg logged in (the listener saw the password) and failed: its stderr repeats the URL.
    await d.waitForLog((l) => l.msg.startsWith("capture process ended"), 30_000, "ffmpeg's failure");
    expect(authorizations).toContain("admin:url-secret-6");

    const reply = await getConfig();
    expect(reply.ok).toBe(true);
    const text = JSON.stringify(reply);
    for (const s of SECRETS) expect(text, `get_config shows ${s}`).not.toContain(s);
    if (!reply.ok) throw new Error(reply.error.message);
    const cam = (reply.result as { camera: { ffmpeg: { url: string } } }).camera.ffmpeg;
    expect(cam.url).toBe(`rtsp://admin:***@127.0.0.1:${port}/stream`);

    const logged = everythingLogged(d);
    expect(logged).toContain("401");
    for (const s of SECRETS) expect(logged, `the log shows ${s}`).not.toContain(s);
    d.kill("SIGKILL");
    await d.exited;
  });

  it("a password from camera.ffmpeg.password_file reaches the camera and nothing else", async () => {
    const port = (rtsp.address() as { port: number }).port;
    const passwordFile = join(dir, "camera-password");
    writeFileSync(passwordFile, `${CAMERA_PASSWORD}\n`, { mode: 0o600 });
    authorizations.length = 0;
    const d = startDaemon("file", { url: `rtsp://admin@127.0.0.1:${port}/stream`, password_file: passwordFile });
    await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "listening for commands");
    await d.waitForLog((l) => l.msg.startsWith("capture process ended"), 30_000, "ffmpeg's failure");
    expect(authorizations).toContain(`admin:${CAMERA_PASSWORD}`);
    const started = await d.waitForLog((l) => l.msg === "capture process started");
    expect(String(started.command)).toContain(`rtsp://admin:***@127.0.0.1:${port}/stream`);

    const reply = await getConfig();
    const text = JSON.stringify(reply);
    for (const s of SECRETS) expect(text).not.toContain(s);
    expect(text).toContain(passwordFile); // where the secret is kept is not a secret
    const logged = everythingLogged(d);
    for (const s of SECRETS) expect(logged, `the log shows ${s}`).not.toContain(s);
    expect(logged).not.toContain(encodeURIComponent(CAMERA_PASSWORD));
    d.kill("SIGKILL");
    await d.exited;
  });
});

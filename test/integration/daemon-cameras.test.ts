// The built daemon with real capture processes instead of replayed footage: ffmpeg's and
// GStreamer's test pictures, and the stand-in rpicam-vid, against a real Mosquitto. Also
// `linesight check` and `linesight cameras` for those sources.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { useBrokerHarness } from "../helpers/broker-harness.js";
import { DaemonProcess, isAlive, MODEL, ROOT, tempDir, writeConfig } from "../helpers/daemon.js";
import { TopicRecorder } from "../helpers/mosquitto.js";

const FAKE_RPICAM = join(ROOT, "test/fixtures/fake-rpicam");

const line = useBrokerHarness();
const { dirs, daemons, recorders } = line;

function newDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function config(dir: string, id: string, camera: Record<string, unknown>): Record<string, unknown> {
  return {
    device: { id },
    camera,
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db") },
    mqtt: { url: line.broker.url, health_interval_s: 1 },
    log: { level: "info" },
  };
}

interface StateMsg {
  camera: { source: string; state: string };
}

/** Runs the daemon on `camera`, waits for decisions over MQTT, stops it, and checks the capture process is gone. */
async function inspects(id: string, camera: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dir = newDir();
  const rec = await TopicRecorder.start(line.broker.url, `linesight/${id}/#`);
  recorders.push(rec);
  const d = new DaemonProcess(["run", "--config", writeConfig(dir, config(dir, id, camera))], env);
  daemons.push(d);
  const started = await d.waitForLog((l) => l.msg === "capture process started", 30_000, "the capture process");
  await d.waitForLog((l) => l.msg === "ready: first frame decided", 60_000, "the first decision");
  const state = await rec.waitFor(
    (m) => m.topic.endsWith("/state") && (JSON.parse(m.payload) as StateMsg).camera.state === "streaming",
    30_000,
    "state with the camera streaming",
  );
  expect((JSON.parse(state.payload) as StateMsg).camera.source).toBe(camera.source);
  const decision = await rec.waitFor((m) => m.topic.endsWith("/decision"), 30_000, "a decision");
  expect(JSON.parse(decision.payload)).toMatchObject({ action: expect.stringMatching(/^(pass|reject)$/) });
  const health = await rec.waitFor(
    (m) => m.topic.endsWith("/health") && JSON.parse(m.payload).frames.decided >= 5,
    30_000,
    "health with decisions",
  );
  expect(JSON.parse(health.payload).camera).toMatchObject({ state: "streaming", restarts: 0, stalls: 0 });
  d.kill("SIGTERM");
  expect(await d.exited).toBe(0);
  expect(isAlive(started.pid as number)).toBe(false);
}

describe("linesight run with a capture process", () => {
  it("inspects ffmpeg's test picture", async () => {
    await inspects("cam-ffmpeg", { source: "ffmpeg", ffmpeg: { input: "lavfi", width: 320, height: 240, fps: 10 } });
  });

  it("inspects GStreamer's test picture", async () => {
    await inspects("cam-gst", {
      source: "gstreamer",
      gstreamer: { element: "videotestsrc", width: 320, height: 240, fps: 10 },
    });
  });

  it("inspects a (stand-in) Raspberry Pi camera", async () => {
    await inspects(
      "cam-pi",
      { source: "libcamera", libcamera: { width: 320, height: 240, fps: 10 } },
      { PATH: `${FAKE_RPICAM}:${process.env.PATH}` },
    );
  });

  it("stays up with the camera failed when the capture program is missing, and stops cleanly", async () => {
    const dir = newDir();
    const rec = await TopicRecorder.start(line.broker.url, "linesight/cam-missing/#");
    recorders.push(rec);
    const cfg = config(dir, "cam-missing", { source: "libcamera" });
    const d = new DaemonProcess(["run", "--config", writeConfig(dir, cfg)], { PATH: newDir() });
    daemons.push(d);
    await rec.waitFor(
      (m) => m.topic.endsWith("/state") && (JSON.parse(m.payload) as StateMsg).camera.state === "failed",
      30_000,
      "state with the camera failed",
    );
    const err = await d.waitForLog((l) => l.level === 50 && String(l.msg).includes("not found"), 10_000, "the error");
    expect(err.msg).toMatch(/rpicam-vid not found on PATH; install rpicam-apps/);
    await d.waitForLog((l) => l.msg === "restarting the capture process after a pause" && l.delayMs === 1000, 15_000);
    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  });
});

/** Runs the daemon on a raw yuv420 camera; its live view and its stored samples are JPEGs. */
async function inspectsRaw(id: string, camera: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const dir = newDir();
  const cfg = {
    ...config(dir, id, camera),
    storage: { path: join(dir, "linesight.db"), audit_fraction: 1 },
    http: { port: 0 },
  };
  const d = new DaemonProcess(["run", "--config", writeConfig(dir, cfg)], env);
  daemons.push(d);
  const up = await d.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page");
  await d.waitForLog((l) => l.msg === "ready: first frame decided", 60_000, "the first decision");
  // The newest frame, as the page fetches it; at 10 fps it may be replaced between the two requests.
  let res: Response | null = null;
  for (let i = 0; i < 20 && res?.status !== 200; i++) {
    const live = (await (await fetch(`${up.url}api/live`)).json()) as { decision: { seq: number } };
    res = await fetch(`${up.url}api/live/frame/${live.decision.seq}.jpg`);
  }
  expect(res?.status).toBe(200);
  if (!res) return;
  expect(res.headers.get("content-type")).toBe("image/jpeg");
  const shown = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  expect(shown).toMatchObject({ format: "jpeg", width: 320, height: 240 });
  d.kill("SIGTERM");
  expect(await d.exited).toBe(0);
  const db = new Database(join(dir, "linesight.db"), { readonly: true });
  try {
    const rows = db.prepare("SELECT width, height, image FROM samples").all() as {
      width: number;
      height: number;
      image: Buffer;
    }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect([r.width, r.height]).toEqual([320, 240]);
      expect(await sharp(r.image).metadata()).toMatchObject({ format: "jpeg", width: 320, height: 240 });
    }
  } finally {
    db.close();
  }
}

describe("linesight run with raw yuv420 frames", () => {
  it("inspects ffmpeg's test picture", async () => {
    await inspectsRaw("raw-ffmpeg", {
      source: "ffmpeg",
      ffmpeg: { input: "lavfi", width: 320, height: 240, fps: 10, format: "yuv420" },
    });
  });

  it("inspects GStreamer's test picture", async () => {
    await inspectsRaw("raw-gst", {
      source: "gstreamer",
      gstreamer: { element: "videotestsrc", width: 320, height: 240, fps: 10, format: "yuv420" },
    });
  });

  it("inspects a (stand-in) Raspberry Pi camera", async () => {
    await inspectsRaw(
      "raw-pi",
      { source: "libcamera", libcamera: { width: 320, height: 240, fps: 10, format: "yuv420" } },
      { PATH: `${FAKE_RPICAM}:${process.env.PATH}` },
    );
  });
});

describe("linesight check and cameras", () => {
  it("check grabs and decodes a frame from the capture process", async () => {
    const dir = newDir();
    const cfg = config(dir, "check-ffmpeg", {
      source: "ffmpeg",
      ffmpeg: { input: "lavfi", width: 320, height: 240, fps: 10 },
    });
    const d = new DaemonProcess(["check", "--config", writeConfig(dir, cfg)]);
    expect(await d.exited).toBe(0);
    const out = d.logs.map((l) => l.msg).join("\n");
    expect(out).toMatch(/✓ camera: ffmpeg via \S*ffmpeg; first frame 320x240 decodes/);
  });

  it("check names the missing capture program and its package", async () => {
    const dir = newDir();
    const d = new DaemonProcess(
      ["check", "--config", writeConfig(dir, config(dir, "check-pi", { source: "libcamera" }))],
      {
        PATH: newDir(),
      },
    );
    expect(await d.exited).toBe(1);
    expect(d.logs.map((l) => l.msg).join("\n")).toMatch(/✗ camera: rpicam-vid not found on PATH; install rpicam-apps/);
  });

  it("cameras lists a Raspberry Pi camera with a config section", async () => {
    const d = new DaemonProcess(["cameras"], { PATH: `${FAKE_RPICAM}:${process.env.PATH}` });
    expect(await d.exited).toBe(0);
    const out = d.logs.map((l) => l.msg).join("\n");
    expect(out).toContain("0: imx708 [4608x2592 10-bit RGGB]");
    expect(out).toMatch(/source: libcamera\n\s+libcamera:\n\s+camera: 0/);
  });

  it("cameras says what to do on a machine without cameras", async () => {
    const d = new DaemonProcess(["cameras"], { PATH: newDir() });
    expect(await d.exited).toBe(0);
    const out = d.logs.map((l) => l.msg).join("\n");
    expect(out).toMatch(/libcamera: rpicam-hello is not installed; on a Raspberry Pi install rpicam-apps/);
    const hasVideoDevices = existsSync("/dev") && readdirSync("/dev").some((n) => /^video\d+$/.test(n));
    if (!hasVideoDevices) {
      expect(out).toContain("V4L2 (/dev/video*): none found");
      expect(out).toMatch(/No cameras found\. To try linesight without one.*\n\s+camera:\n\s+source: ffmpeg/);
    }
  });
});

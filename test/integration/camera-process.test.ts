// Capture processes for real: Debian's ffmpeg and gst-launch-1.0 generating test pictures, and a
// stand-in rpicam-vid (test/fixtures/fake-rpicam) that can crash, stall, write garbage or cut a
// frame short, all through the ProcessSource the daemon uses. Conditions are waited for with
// generous time limits; nothing asserts how fast anything happened.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { createCameraSource } from "../../src/camera/create-source.js";
import type { CameraState, Frame } from "../../src/camera/frame.js";
import { FrameSlot } from "../../src/camera/frame-slot.js";
import { MjpegSplitter } from "../../src/camera/mjpeg-splitter.js";
import { ProcessSource } from "../../src/camera/process-source.js";
import type { CameraStats } from "../../src/camera/source.js";
import { yuv420Bytes } from "../../src/camera/yuv420.js";
import { parseConfig } from "../../src/config/load.js";
import { isAlive, ROOT } from "../helpers/daemon.js";

const FAKE_RPICAM = join(ROOT, "test/fixtures/fake-rpicam");

interface Run {
  source: ProcessSource;
  frames: Frame[];
  states: { state: CameraState; why: string }[];
  logs: { level: number; msg: string; [k: string]: unknown }[];
  stats(): CameraStats;
}

const running: Run[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.source.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "linesight-camera-"));
  dirs.push(d);
  return d;
}

/** Starts a source from a `camera:` config section and keeps every frame it delivers. */
async function start(camera: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const cfg = parseConfig({ device: { id: "t" }, camera }, "test.yaml", "/").config.camera;
  const logs: Run["logs"] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const source = createCameraSource(cfg, { logger, env }) as ProcessSource;
  return collect(source, logs);
}

async function collect(source: ProcessSource, logs: Run["logs"] = []): Promise<Run> {
  const slot = new FrameSlot();
  const run: Run = { source, frames: [], states: [], logs, stats: () => source.stats() };
  source.on("state", (state, why) => run.states.push({ state, why }));
  running.push(run);
  await source.start(slot);
  void (async () => {
    for (;;) {
      const f = await slot.take();
      if (!f) return;
      run.frames.push(f);
    }
  })();
  return run;
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000, run?: Run): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) {
      const detail = run
        ? `\nstates: ${run.states.map((s) => `${s.state} (${s.why})`).join(" -> ")}\nstats: ${JSON.stringify(run.stats())}\nstderr: ${run.source.stderrTail().join(" | ")}`
        : "";
      throw new Error(`not within ${timeoutMs} ms: ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** JPEGs that decode at this size, or whole raw frames of it. */
async function expectDecodableFrames(frames: Frame[], width: number, height: number): Promise<void> {
  for (const f of frames) {
    if (f.raw) {
      expect(f.raw).toMatchObject({ format: "yuv420p", width, height });
      expect(f.data.length).toBe(yuv420Bytes(width, height));
      continue;
    }
    const meta = await sharp(f.data).metadata();
    expect(meta).toMatchObject({ format: "jpeg", width, height });
  }
}

const small = { width: 320, height: 240, fps: 15 };
const withFake = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${FAKE_RPICAM}:${process.env.PATH}`,
  ...extra,
});

describe("capture processes", () => {
  it("ffmpeg's test source streams whole JPEG frames, stamped on arrival, until stopped", async () => {
    const before = performance.now();
    const run = await start({ source: "ffmpeg", ffmpeg: { input: "lavfi", ...small } });
    await until("10 frames", () => run.frames.length >= 10, 30_000, run);
    const pid = run.source.pid as number;
    expect(run.states.map((s) => s.state).slice(0, 2)).toEqual(["starting", "streaming"]);
    await expectDecodableFrames(run.frames.slice(0, 10), 320, 240);
    const seqs = run.frames.map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const f of run.frames) {
      expect(f.capturedMono).toBeGreaterThan(before);
      expect(f.capturedMono).toBeLessThanOrEqual(performance.now());
      expect(Math.abs(f.capturedAt - Date.now())).toBeLessThan(60_000);
    }
    await run.source.stop();
    expect(run.source.state).toBe("stopped");
    expect(isAlive(pid)).toBe(false);
    expect(run.stats()).toMatchObject({ restarts: 0, stalls: 0, corrupt: 0, skipped_bytes: 0 });
  });

  it("gst-launch-1.0 with videotestsrc streams through the same path", async () => {
    const run = await start({ source: "gstreamer", gstreamer: { element: "videotestsrc", ...small } });
    await until("10 frames", () => run.frames.length >= 10, 30_000, run);
    await expectDecodableFrames(run.frames.slice(0, 10), 320, 240);
    expect(run.stats()).toMatchObject({ restarts: 0, corrupt: 0, skipped_bytes: 0 });
  });

  it("a stand-in rpicam-vid accepts the arguments built for it and streams", async () => {
    const argsFile = join(tempDir(), "args.jsonl");
    const run = await start(
      {
        source: "libcamera",
        libcamera: { ...small, awb_gains: [1.6, 1.4], denoise: "cdn_off", lens_position: 1.5, hflip: true },
      },
      withFake({ FAKE_RPICAM_ARGS_FILE: argsFile }),
    );
    await until("5 frames", () => run.frames.length >= 5, 30_000, run);
    await expectDecodableFrames(run.frames.slice(0, 5), 320, 240);
    const args = JSON.parse(readFileSync(argsFile, "utf8").split("\n")[0] as string) as string[];
    expect(args).toEqual(expect.arrayContaining(["--awbgains", "1.6,1.4", "--hflip", "--lens-position", "1.5"]));
  });
});

describe("supervision", () => {
  it("restarts a killed capture process after a pause, and counts it", async () => {
    const run = await start({ source: "ffmpeg", ffmpeg: { input: "lavfi", ...small } });
    await until("first frames", () => run.frames.length >= 3, 30_000, run);
    const first = run.source.pid as number;
    process.kill(first, "SIGKILL");
    await until(
      "a new process streaming",
      () => run.stats().restarts === 1 && run.source.state === "streaming",
      30_000,
      run,
    );
    expect(run.source.pid).not.toBe(first);
    const states = run.states.map((s) => s.state);
    expect(states.slice(states.indexOf("failed"))).toEqual(["failed", "starting", "streaming"]);
    expect(run.states.find((s) => s.state === "failed")?.why).toMatch(/ffmpeg was killed by SIGKILL/);
    const n = run.frames.length;
    await until("frames after the restart", () => run.frames.length > n + 3, 30_000, run);
  });

  it("logs the last stderr lines of a process that crashes, and restarts it", async () => {
    const once = tempDir();
    const run = await start(
      { source: "libcamera", libcamera: small },
      withFake({ FAKE_RPICAM_CRASH_AFTER: "5", FAKE_RPICAM_ONCE_DIR: once }),
    );
    await until(
      "a restart and streaming again",
      () => run.stats().restarts >= 1 && run.source.state === "streaming",
      30_000,
      run,
    );
    const ended = run.logs.find((l) => l.msg.startsWith("capture process ended"));
    expect(ended?.msg).toMatch(/rpicam-vid exited with code 1: ERROR: \*\*\* camera frontend has timed out/);
    expect(ended?.stderr).toEqual(expect.arrayContaining([expect.stringContaining("libcamera v0.0.0 (fake")]));
    expect(ended?.command).toMatch(/^rpicam-vid -t 0 --nopreview --codec yuv420/);
  });

  it("detects a stall within the stall timeout, counts it, and restarts the process", async () => {
    const once = tempDir();
    const run = await start(
      { source: "libcamera", libcamera: small, stall_timeout_s: 2 },
      withFake({ FAKE_RPICAM_STALL_AFTER: "5", FAKE_RPICAM_ONCE_DIR: once }),
    );
    await until("the stall", () => run.stats().stalls >= 1, 30_000, run);
    expect(run.states.find((s) => s.state === "stalled")?.why).toMatch(/no frame from rpicam-vid for \d+\.\d s/);
    await until(
      "streaming again after the restart",
      () => run.source.state === "streaming" && run.stats().restarts >= 1,
      30_000,
      run,
    );
    const n = run.frames.length;
    await until("new frames", () => run.frames.length > n + 3, 30_000, run);
  });

  it("skips garbage and a truncated frame, counts both, and passes on only whole frames", async () => {
    const run = await start(
      { source: "libcamera", libcamera: { ...small, format: "mjpeg" } },
      withFake({ FAKE_RPICAM_GARBAGE_AFTER: "3", FAKE_RPICAM_TRUNCATE_AT: "6" }),
    );
    await until("12 frames", () => run.frames.length >= 12, 30_000, run);
    const garbage = "garbage between frames, e.g. a debug print on stdout\n".repeat(20);
    expect(run.stats()).toMatchObject({ corrupt: 1, skipped_bytes: garbage.length, restarts: 0 });
    await expectDecodableFrames(run.frames, 320, 240);
  });

  it("raw frames: a frame cut off by a crash is counted, and the restarted stream is whole frames again", async () => {
    const once = tempDir();
    const run = await start(
      { source: "libcamera", libcamera: small },
      withFake({ FAKE_RPICAM_TRUNCATE_AT: "4", FAKE_RPICAM_CRASH_AFTER: "5", FAKE_RPICAM_ONCE_DIR: once }),
    );
    await until("frames after the restart", () => run.stats().restarts >= 1 && run.frames.length >= 10, 30_000, run);
    expect(run.stats()).toMatchObject({ corrupt: 1, restarts: 1 });
    // Frames 0-3 before the crash, then only the restarted process's; the half frame never.
    expect(run.frames.length).toBeGreaterThanOrEqual(10);
    await expectDecodableFrames(run.frames, 320, 240);
  });

  it("names the missing program and its package, stays failed while retrying, and starts once it is installed", async () => {
    const env = { ...process.env, PATH: tempDir() };
    const run = await start({ source: "libcamera", libcamera: small }, env);
    await until("two retries", () => run.stats().restarts >= 2, 30_000, run);
    expect(run.source.state).toBe("failed");
    expect(run.source.lastError).toMatch(
      /^rpicam-vid not found on PATH; install rpicam-apps .*sudo apt install rpicam-apps/,
    );
    expect(run.logs.some((l) => l.level === 50 && l.msg.includes("rpicam-vid not found on PATH"))).toBe(true);
    env.PATH = `${FAKE_RPICAM}:${process.env.PATH}`; // "apt install" while it waits
    await until("streaming", () => run.source.state === "streaming", 60_000, run);
  });

  it("falls back to libcamera-vid where rpicam-vid is not installed", async () => {
    const { pickLibcameraVid } = await import("../../src/camera/create-source.js");
    const dir = tempDir();
    const { symlinkSync } = await import("node:fs");
    symlinkSync(join(FAKE_RPICAM, "rpicam-vid"), join(dir, "libcamera-vid"));
    expect(pickLibcameraVid(dir)).toBe("libcamera-vid");
    expect(pickLibcameraVid(`${FAKE_RPICAM}:${dir}`)).toBe("rpicam-vid");
    expect(pickLibcameraVid(tempDir())).toBe("rpicam-vid");
  });

  it("gives a new process longer for its first frame than the stall timeout, then holds it to that", async () => {
    const frame = join(ROOT, "footage/round-parts", "footage-000000-good.jpg");
    // Silent for 2.5 s (a camera starting), then 10 frames, then silent again (a stall).
    const script = `const b = require("fs").readFileSync(${JSON.stringify(frame)});
      setTimeout(() => { let n = 0; const t = setInterval(() => { process.stdout.write(b); if (++n === 10) clearInterval(t); }, 50); }, 2500);
      setInterval(() => {}, 1000);`;
    const source = (firstFrameTimeoutMs: number) =>
      new ProcessSource({
        kind: "test",
        command: () => ({ bin: process.execPath, args: ["-e", script] }),
        splitter: () => new MjpegSplitter(),
        stallTimeoutMs: 1000,
        firstFrameTimeoutMs,
        backoff: { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 60_000 },
      });
    const slow = await collect(source(8000));
    await until("10 frames", () => slow.frames.length >= 10, 30_000, slow);
    expect(slow.stats().stalls).toBe(0);
    await until("the stall after streaming", () => slow.stats().stalls === 1, 30_000, slow);
    await slow.source.stop();
    // A camera that never starts is still caught, at the first-frame limit.
    const dead = await collect(source(1500));
    await until("the stall before any frame", () => dead.stats().stalls === 1, 30_000, dead);
    expect(dead.frames).toHaveLength(0);
    expect(dead.states.find((st) => st.state === "stalled")?.why).toMatch(/no frame from .* for \d+\.\d s/);
    await dead.source.stop();
  });

  it("stops a process that ignores SIGTERM with SIGKILL, and stops promptly while waiting to retry", async () => {
    const stubborn = new ProcessSource({
      kind: "test",
      command: () => ({
        bin: process.execPath,
        args: ["-e", "process.on('SIGTERM', () => {}); console.error('ignoring SIGTERM'); setInterval(() => {}, 1000)"],
      }),
      splitter: () => new MjpegSplitter(),
      stallTimeoutMs: 60_000,
      killTimeoutMs: 300,
    });
    const run = await collect(stubborn);
    await until("it runs", () => run.source.stderrTail().includes("ignoring SIGTERM"), 30_000, run);
    const pid = run.source.pid as number;
    await run.source.stop();
    expect(isAlive(pid)).toBe(false);
    expect(run.source.state).toBe("stopped");

    const missing = new ProcessSource({
      kind: "test",
      command: () => ({ bin: "/nonexistent/capture", args: [] }),
      splitter: () => new MjpegSplitter(),
      stallTimeoutMs: 1000,
      backoff: { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 1000 },
    });
    const waiting = await collect(missing);
    await until("failed", () => waiting.source.state === "failed", 30_000, waiting);
    await waiting.source.stop(); // the 60 s retry timer must not hold it
    expect(waiting.source.state).toBe("stopped");
  });
});

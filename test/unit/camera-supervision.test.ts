import { describe, expect, it } from "vitest";
import { diagnoseStderr, installHint, spawnFailure } from "../../src/camera/capture-diagnosis.js";
import { LineTail } from "../../src/camera/line-tail.js";
import { RestartBackoff } from "../../src/camera/restart-backoff.js";

describe("RestartBackoff", () => {
  it("doubles from 0.5 s to a 30 s cap, and starts over after a good stretch of streaming", () => {
    const b = new RestartBackoff({ initialMs: 500, maxMs: 30_000, resetAfterMs: 30_000 });
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    b.streamedFor(29_000);
    expect(b.next()).toBe(30_000);
    b.streamedFor(30_000);
    expect(b.next()).toBe(500);
  });
});

describe("LineTail", () => {
  it("keeps the last complete lines and the unfinished one, joins lines split across chunks, and bounds line length", () => {
    const t = new LineTail(3, 10);
    t.push("one\ntw");
    t.push("o\r\nthree\n\nfour\nfive and a very long line\npartial");
    expect(t.get()).toEqual(["three", "four", "five and a...", "partial"]);
    t.clear();
    expect(t.get()).toEqual([]);
  });
});

describe("capture diagnosis", () => {
  it("names the package that provides a missing program", () => {
    expect(spawnFailure("rpicam-vid", "ENOENT", "spawn rpicam-vid ENOENT")).toMatch(
      /^rpicam-vid not found on PATH; install rpicam-apps .*sudo apt install rpicam-apps/,
    );
    expect(installHint("/usr/bin/gst-launch-1.0")).toMatch(/gstreamer1\.0-plugins-good/);
    expect(spawnFailure("ffmpeg", "EACCES", "denied")).toMatch(/not executable/);
  });

  it("recognises the usual camera errors", () => {
    expect(diagnoseStderr(["[video4linux2,v4l2 @ 0x1] ioctl(VIDIOC_STREAMON): Device or resource busy"])).toMatch(
      /in use by another process/,
    );
    expect(diagnoseStderr(["/dev/video0: Permission denied"])).toMatch(/video group/);
    expect(diagnoseStderr(["ERROR: *** no cameras available ***"])).toMatch(/ribbon cable/);
    expect(diagnoseStderr(['WARNING: erroneous pipeline: no element "nvarguscamerasrc"'])).toMatch(/plugin package/);
    expect(diagnoseStderr(["Internal data stream error.", "streaming stopped, reason not-negotiated (-4)"])).toMatch(
      /format, size or frame rate/,
    );
    expect(diagnoseStderr(["all is well"])).toBeNull();
  });
});

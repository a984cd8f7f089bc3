import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { configProblems } from "../helpers/config.js";

const problems = (camera: unknown): string[] => configProblems({ device: { id: "t" }, camera });

describe("camera configuration", () => {
  it("keeps replay the default and gives every capture source its defaults", () => {
    const { camera } = parseConfig({ device: { id: "t" } }, "test.yaml", "/etc/linesight").config;
    expect(camera.source).toBe("replay");
    expect(camera.libcamera).toMatchObject({ width: 640, height: 480, fps: 30, shutter_us: 10000, gain: 1 });
    expect(camera.gstreamer).toMatchObject({ element: "v4l2src", device: "/dev/video0", quality: 90 });
    expect(camera.ffmpeg).toMatchObject({ input: "v4l2", input_format: "mjpeg", reencode: false, quality: 5 });
  });

  it("accepts each capture source", () => {
    for (const source of ["libcamera", "gstreamer", "ffmpeg"]) expect(problems({ source })).toEqual([]);
    expect(problems({ source: "webcam" })[0]).toMatch(/^camera\.source: .*"webcam"/);
  });

  it("names unknown keys in the sources' sections", () => {
    expect(problems({ ffmpeg: { devise: "/dev/video0" } })).toEqual([
      expect.stringContaining('camera.ffmpeg.devise: unknown key; did you mean "device"?'),
    ]);
    expect(problems({ libcamera: { shutter: 100 } })[0]).toMatch(/camera\.libcamera\.shutter: unknown key.*shutter_us/);
    expect(problems({ gstreamer: { sensor: 0 } })[0]).toMatch(/camera\.gstreamer\.sensor: unknown key/);
  });

  it("checks what belongs together", () => {
    expect(problems({ source: "ffmpeg", ffmpeg: { input: "rtsp" } })[0]).toMatch(
      /camera\.ffmpeg\.url: input: rtsp needs/,
    );
    expect(problems({ gstreamer: { element: "custom" } })[0]).toMatch(
      /camera\.gstreamer\.pipeline: element: custom needs/,
    );
    expect(problems({ gstreamer: { pipeline: "v4l2src" } })[0]).toMatch(/only with element: custom/);
    expect(problems({ gstreamer: { element: "custom", pipeline: 'v4l2src device="/dev/video0' } })[0]).toMatch(
      /camera\.gstreamer\.pipeline: unterminated "/,
    );
    expect(problems({ ffmpeg: { url: "http://cam/stream" } })[0]).toMatch(/camera\.ffmpeg\.url: expected an rtsp/);
    expect(problems({ libcamera: { awb_gains: [1.5] } })[0]).toMatch(/camera\.libcamera\.awb_gains/);
    expect(problems({ libcamera: { rotation: 90 } })[0]).toMatch(/camera\.libcamera\.rotation/);
    expect(problems({ ffmpeg: { input_format: "mjpeg -i /etc/passwd" } })[0]).toMatch(/camera\.ffmpeg\.input_format/);
  });
});

describe("raw yuv420 frames", () => {
  it("asks for widths the capture program does not pad, naming the fix", () => {
    expect(problems({ source: "libcamera", libcamera: { format: "yuv420", width: 640, height: 480 } })).toEqual([]);
    expect(problems({ source: "libcamera", libcamera: { format: "yuv420", width: 1000, height: 750 } })).toEqual([
      expect.stringMatching(
        /^camera\.libcamera\.width: width 1000 cannot be read as raw yuv420: rpicam-vid pads each row to a multiple of 64 pixels; use a width that is one \(e\.g\. 960 or 1024\) or format: mjpeg/,
      ),
    ]);
    expect(problems({ gstreamer: { format: "yuv420", width: 804, height: 600 } })[0]).toMatch(
      /^camera\.gstreamer\.width: .*multiple of 8 pixels.*800 or 808/,
    );
    expect(problems({ ffmpeg: { format: "yuv420", width: 640, height: 481 } })[0]).toMatch(
      /^camera\.ffmpeg\.height: format: yuv420 needs an even height \(481 is odd\)/,
    );
    // Only raw frames care: MJPEG takes any size.
    expect(problems({ libcamera: { format: "mjpeg", width: 1000, height: 750 } })).toEqual([]);
    expect(problems({ gstreamer: { width: 804, height: 601 } })).toEqual([]);
  });

  it("is the Raspberry Pi camera's default; USB and GStreamer sources default to MJPEG", () => {
    const { camera } = parseConfig({ device: { id: "t" } }, "test.yaml", "/etc/linesight").config;
    expect([camera.libcamera.format, camera.gstreamer.format, camera.ffmpeg.format]).toEqual([
      "yuv420",
      "mjpeg",
      "mjpeg",
    ]);
    expect(problems({ libcamera: { width: 1000, height: 750 } })[0]).toMatch(/or format: mjpeg/);
  });
});

import { describe, expect, it } from "vitest";
import {
  describeCommand,
  ffmpegCommand,
  gstFraction,
  gstreamerCommand,
  libcameraCommand,
  yuv420Layout,
} from "../../src/camera/commands.js";
import { splitPipeline } from "../../src/camera/pipeline-tokens.js";
import { parseConfig } from "../../src/config/load.js";
import type { CameraConfig } from "../../src/config/schema.js";

function camera(section: Record<string, unknown>): CameraConfig {
  return parseConfig({ device: { id: "t" }, camera: section }, "test.yaml", "/etc/linesight").config.camera;
}

/** The value after `flag` in argv. */
function argAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

describe("libcamera command", () => {
  it("streams raw yuv420 to stdout until killed, with fixed exposure and gain by default", () => {
    const cmd = libcameraCommand(camera({}).libcamera);
    expect(cmd.bin).toBe("rpicam-vid");
    expect(cmd.args).toEqual([
      ...["-t", "0", "--nopreview", "--codec", "yuv420", "--flush", "-o", "-"],
      ...["--camera", "0", "--width", "640", "--height", "480", "--framerate", "30"],
      ...["--shutter", "10000", "--gain", "1", "--awb", "auto", "--denoise", "auto"],
    ]);
  });

  it("streams MJPEG at the configured quality when asked to", () => {
    const { args } = libcameraCommand(camera({ libcamera: { format: "mjpeg", quality: 80 } }).libcamera);
    expect(args.slice(0, 7)).toEqual(["-t", "0", "--nopreview", "--codec", "mjpeg", "--quality", "80"]);
  });

  it("fixes white balance with --awbgains and then passes no --awb mode", () => {
    const c = camera({ libcamera: { awb_gains: [1.8, 1.45], awb: "daylight" } }).libcamera;
    const { args } = libcameraCommand(c, "libcamera-vid");
    expect(argAfter(args, "--awbgains")).toBe("1.8,1.45");
    expect(args).not.toContain("--awb");
  });

  it("leaves exposure and gain to the camera when set to null, and passes the other controls", () => {
    const c = camera({
      libcamera: {
        camera: 1,
        width: 1280,
        height: 720,
        fps: 7.5,
        shutter_us: null,
        gain: null,
        denoise: "cdn_off",
        lens_position: 2.5,
        sharpness: 0,
        hflip: true,
        rotation: 180,
        extra_args: ["--metering", "spot"],
      },
    }).libcamera;
    const { args } = libcameraCommand(c);
    expect(args).not.toContain("--shutter");
    expect(args).not.toContain("--gain");
    expect(argAfter(args, "--camera")).toBe("1");
    expect(argAfter(args, "--framerate")).toBe("7.5");
    expect(argAfter(args, "--denoise")).toBe("cdn_off");
    expect(argAfter(args, "--autofocus-mode")).toBe("manual");
    expect(argAfter(args, "--lens-position")).toBe("2.5");
    expect(argAfter(args, "--sharpness")).toBe("0");
    expect(args).toContain("--hflip");
    expect(args).not.toContain("--vflip");
    expect(argAfter(args, "--rotation")).toBe("180");
    expect(args.slice(-2)).toEqual(["--metering", "spot"]);
  });
});

describe("gstreamer command", () => {
  const tail = ["!", "jpegenc", "quality=90", "!", "fdsink", "fd=1", "sync=false"];

  it("v4l2src: convert, scale, caps, JPEG to fd 1, quiet", () => {
    expect(gstreamerCommand(camera({ gstreamer: {} }).gstreamer)).toEqual({
      bin: "gst-launch-1.0",
      args: [
        ...["-q", "v4l2src", "device=/dev/video0", "!", "videoconvert", "!", "videoscale", "!"],
        "video/x-raw,width=640,height=480,framerate=30/1",
        ...tail,
      ],
    });
  });

  it("videotestsrc runs live at the caps' rate", () => {
    const { args } = gstreamerCommand(
      camera({ gstreamer: { element: "videotestsrc", pattern: "ball", width: 320, height: 240, fps: 15 } }).gstreamer,
    );
    expect(args.slice(0, 5)).toEqual(["-q", "videotestsrc", "is-live=true", "pattern=ball", "!"]);
    expect(args).toContain("video/x-raw,width=320,height=240,framerate=15/1");
  });

  it("nvarguscamerasrc goes through nvvidconv, with its properties as single tokens", () => {
    const { args } = gstreamerCommand(
      camera({
        gstreamer: {
          element: "nvarguscamerasrc",
          sensor_id: 1,
          properties: { exposuretimerange: "10000000 10000000", aelock: true, wbmode: 0 },
        },
      }).gstreamer,
    );
    expect(args.slice(0, 10)).toEqual([
      ...["-q", "nvarguscamerasrc", "sensor-id=1", "exposuretimerange=10000000 10000000", "aelock=true", "wbmode=0"],
      ...["!", "video/x-raw(memory:NVMM),framerate=30/1", "!", "nvvidconv"],
    ]);
    expect(args).toContain("video/x-raw,format=I420,width=640,height=480");
    expect(args).not.toContain("videoconvert");
  });

  it("libcamerasrc names its camera when asked", () => {
    const { args } = gstreamerCommand(
      camera({ gstreamer: { element: "libcamerasrc", camera_name: "/base/imx708" } }).gstreamer,
    );
    expect(args.slice(1, 3)).toEqual(["libcamerasrc", "camera-name=/base/imx708"]);
  });

  it("a custom source pipeline is split into tokens, never given to a shell", () => {
    const pipeline = `v4l2src device=/dev/video2 extra-controls="c,exposure_time_absolute=100" ! image/jpeg,width=1280 ! jpegdec ; rm -rf /`;
    const { args } = gstreamerCommand(camera({ gstreamer: { element: "custom", pipeline } }).gstreamer);
    expect(args.slice(0, 10)).toEqual([
      "-q",
      "v4l2src",
      "device=/dev/video2",
      "extra-controls=c,exposure_time_absolute=100",
      "!",
      "image/jpeg,width=1280",
      "!",
      "jpegdec",
      ";",
      "rm",
    ]);
  });

  it("writes a frame rate as a fraction", () => {
    expect(gstFraction(30)).toBe("30/1");
    expect(gstFraction(7.5)).toBe("15/2");
    expect(gstFraction(29.97)).toBe("2997/100");
  });
});

describe("ffmpeg command", () => {
  const head = ["-hide_banner", "-loglevel", "error", "-nostdin"];
  const out = ["-f", "mjpeg", "-flush_packets", "1", "-"];

  it("copies a USB camera's own MJPEG frames instead of re-encoding them", () => {
    expect(ffmpegCommand(camera({ ffmpeg: { device: "/dev/video2" } }).ffmpeg)).toEqual({
      bin: "ffmpeg",
      args: [
        ...head,
        ...["-f", "v4l2", "-input_format", "mjpeg", "-video_size", "640x480", "-framerate", "30", "-i", "/dev/video2"],
        ...["-an", "-c:v", "copy", ...out],
      ],
    });
  });

  it("encodes when the camera gives raw frames, or when asked to", () => {
    for (const ffmpeg of [{ input_format: "yuyv422" }, { reencode: true }]) {
      const { args } = ffmpegCommand(camera({ ffmpeg }).ffmpeg);
      expect(args.slice(-10)).toEqual(["-an", "-c:v", "mjpeg", "-q:v", "5", ...out]);
    }
  });

  it("reads an RTSP camera over TCP without buffering, scaled to the configured size", () => {
    const { args } = ffmpegCommand(
      camera({ ffmpeg: { input: "rtsp", url: "rtsp://cam:secret@10.0.0.9/stream1", width: 800, height: 600 } }).ffmpeg,
    );
    expect(args).toEqual([
      ...head,
      ...[
        "-rtsp_transport",
        "tcp",
        "-fflags",
        "nobuffer",
        "-flags",
        "low_delay",
        "-i",
        "rtsp://cam:secret@10.0.0.9/stream1",
      ],
      ...["-an", "-vf", "scale=800:600", "-c:v", "mjpeg", "-q:v", "5", ...out],
    ]);
  });

  it("generates a test picture in real time", () => {
    const { args } = ffmpegCommand(camera({ ffmpeg: { input: "lavfi", width: 320, height: 240, fps: 10 } }).ffmpeg);
    expect(args.slice(4, 9)).toEqual(["-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10"]);
  });

  it("is described for the log with the password masked and odd tokens quoted", () => {
    const cmd = ffmpegCommand(camera({ ffmpeg: { input: "rtsp", url: "rtsp://cam:secret@10.0.0.9/s" } }).ffmpeg);
    const line = describeCommand(cmd);
    expect(line).toContain("rtsp://cam:***@10.0.0.9/s");
    expect(line).not.toContain("secret");
    expect(describeCommand({ bin: "x", args: ["a b", "it's"] })).toBe(`x 'a b' 'it'\\''s'`);
  });
});

describe("splitPipeline", () => {
  it("splits on whitespace and honours quotes and backslashes, expanding nothing", () => {
    expect(splitPipeline(`a  b\t"c d" 'e "f"' g\\ h "i\\"j" $HOME *`)).toEqual([
      "a",
      "b",
      "c d",
      'e "f"',
      "g h",
      'i"j',
      "$HOME",
      "*",
    ]);
    expect(splitPipeline(`x="1 2"y`)).toEqual(["x=1 2y"]);
  });

  it("refuses unterminated quotes and an empty pipeline", () => {
    expect(() => splitPipeline(`a "b`)).toThrow(/unterminated "/);
    expect(() => splitPipeline(`a 'b`)).toThrow(/unterminated '/);
    expect(() => splitPipeline("  ")).toThrow(/empty/);
  });
});

describe("raw yuv420 capture", () => {
  it("rpicam-vid writes --codec yuv420, read in the colour space it picks for the size", () => {
    const sd = camera({ source: "libcamera", libcamera: { format: "yuv420" } });
    const { args } = libcameraCommand(sd.libcamera);
    expect(argAfter(args, "--codec")).toBe("yuv420");
    expect(args).not.toContain("--quality");
    expect(yuv420Layout(sd)).toEqual({
      format: "yuv420p",
      width: 640,
      height: 480,
      colour: { matrix: "bt601", range: "limited" },
    });
    const hd = camera({ source: "libcamera", libcamera: { format: "yuv420", width: 1280, height: 720 } });
    expect(yuv420Layout(hd)?.colour).toEqual({ matrix: "bt709", range: "limited" });
  });

  it("GStreamer asks for BT.601 I420 at the configured size and encodes nothing", () => {
    const c = camera({ source: "gstreamer", gstreamer: { format: "yuv420", width: 320, height: 240, fps: 10 } });
    const { args } = gstreamerCommand(c.gstreamer);
    expect(args).toContain("video/x-raw,width=320,height=240,framerate=10/1,format=I420,colorimetry=bt601");
    expect(args).not.toContain("jpegenc");
    expect(args.slice(-3)).toEqual(["fdsink", "fd=1", "sync=false"]);
    expect(yuv420Layout(c)?.colour).toEqual({ matrix: "bt601", range: "limited" });
  });

  it("ffmpeg scales to exactly the configured size in BT.601 limited range, even when copying would be possible", () => {
    const c = camera({ source: "ffmpeg", ffmpeg: { format: "yuv420", width: 320, height: 240 } });
    const { args } = ffmpegCommand(c.ffmpeg);
    expect(argAfter(args, "-vf")).toBe("scale=320:240:out_color_matrix=bt601:out_range=tv,format=yuv420p");
    expect(args.slice(-3)).toEqual(["-f", "rawvideo", "-"]);
    expect(args).not.toContain("copy");
  });

  it("MJPEG sources and replay have no raw layout", () => {
    expect(yuv420Layout(camera({ source: "ffmpeg" }))).toBeNull();
    expect(yuv420Layout(camera({}))).toBeNull();
  });
});

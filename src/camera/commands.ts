// The capture command for each camera source, built from its config section as an argument array
// for spawn(): no shell, so nothing in the config is ever interpreted as shell syntax. Every
// command writes MJPEG (JPEG after JPEG) or raw I420 frames (format: yuv420) to stdout and runs
// until killed. Pure functions.

import { redactArgs } from "../config/redact.js";
import type { CameraConfig, FfmpegConfig, GstreamerConfig, LibcameraConfig } from "../config/schema.js";
import { splitPipeline } from "./pipeline-tokens.js";
import type { RawLayout, YuvMatrix } from "./yuv420.js";

export interface CaptureCommand {
  /** Program name, looked up on PATH, or a path. */
  bin: string;
  args: string[];
}

/** Raspberry Pi OS Bookworm names it rpicam-vid; Bullseye's libcamera-vid is the same program. */
export const LIBCAMERA_VID = ["rpicam-vid", "libcamera-vid"] as const;
export type LibcameraVid = (typeof LIBCAMERA_VID)[number];

const num = (n: number) => String(n);

export function libcameraCommand(c: LibcameraConfig, bin: LibcameraVid = "rpicam-vid"): CaptureCommand {
  const codec = c.format === "yuv420" ? ["--codec", "yuv420"] : ["--codec", "mjpeg", "--quality", num(c.quality)];
  const args = [
    ...["-t", "0", "--nopreview", ...codec],
    // Without --flush, stdio buffering holds each frame's last few KB until the next frame arrives.
    ...["--flush", "-o", "-"],
    ...["--camera", num(c.camera), "--width", num(c.width), "--height", num(c.height), "--framerate", num(c.fps)],
  ];
  if (c.shutter_us !== null) args.push("--shutter", num(c.shutter_us));
  if (c.gain !== null) args.push("--gain", num(c.gain));
  // Explicit colour gains switch the AWB algorithm off by themselves (rpicam-apps has no "--awb off").
  if (c.awb_gains) args.push("--awbgains", `${c.awb_gains[0]},${c.awb_gains[1]}`);
  else args.push("--awb", c.awb);
  args.push("--denoise", c.denoise);
  if (c.lens_position !== null) args.push("--autofocus-mode", "manual", "--lens-position", num(c.lens_position));
  for (const key of ["sharpness", "contrast", "brightness", "saturation"] as const) {
    const v = c[key];
    if (v !== null) args.push(`--${key}`, num(v));
  }
  if (c.hflip) args.push("--hflip");
  if (c.vflip) args.push("--vflip");
  if (c.rotation !== 0) args.push("--rotation", num(c.rotation));
  args.push(...c.extra_args);
  return { bin, args };
}

/** A GStreamer fraction for a frame rate: 30 -> 30/1, 7.5 -> 15/2, 29.97 -> 2997/100. */
export function gstFraction(fps: number): string {
  for (const den of [1, 2, 4, 100, 1000]) {
    const n = fps * den;
    if (Math.abs(n - Math.round(n)) < 1e-9) return `${Math.round(n)}/${den}`;
  }
  return `${Math.round(fps * 1000)}/1000`;
}

function gstValue(v: string | number | boolean): string {
  return typeof v === "boolean" ? (v ? "true" : "false") : String(v);
}

/** The source element (or custom source pipeline) as argv tokens, with the configured properties. */
export function gstreamerSource(c: GstreamerConfig): string[] {
  const extra = Object.entries(c.properties).map(([k, v]) => `${k}=${gstValue(v)}`);
  switch (c.element) {
    case "v4l2src":
      return ["v4l2src", `device=${c.device}`, ...extra];
    case "nvarguscamerasrc":
      return ["nvarguscamerasrc", `sensor-id=${c.sensor_id}`, ...extra];
    case "libcamerasrc":
      return ["libcamerasrc", ...(c.camera_name ? [`camera-name=${c.camera_name}`] : []), ...extra];
    case "videotestsrc":
      // is-live: produce frames at the caps' rate, as a camera does, not as fast as possible.
      return ["videotestsrc", "is-live=true", `pattern=${c.pattern}`, ...extra];
    case "custom":
      return splitPipeline(c.pipeline ?? "");
  }
}

export function gstreamerCommand(c: GstreamerConfig): CaptureCommand {
  const rate = `framerate=${gstFraction(c.fps)}`;
  const size = `width=${c.width},height=${c.height}`;
  // Jetson's CSI source yields NVMM (GPU) buffers: only nvvidconv can bring them to system memory.
  // Raw output asks for BT.601 limited range, which yuv420Layout() promises the reader.
  const raw = c.format === "yuv420" ? ",format=I420,colorimetry=bt601" : "";
  const convert =
    c.element === "nvarguscamerasrc"
      ? [`video/x-raw(memory:NVMM),${rate}`, "!", "nvvidconv", "!", `video/x-raw,format=I420,${size}`]
      : ["videoconvert", "!", "videoscale", "!", `video/x-raw,${size},${rate}${raw}`];
  const encode = c.format === "yuv420" ? [] : ["jpegenc", `quality=${c.quality}`, "!"];
  return {
    bin: "gst-launch-1.0",
    // -q: otherwise gst-launch prints its progress to stdout, into the frame stream.
    args: ["-q", ...gstreamerSource(c), "!", ...convert, "!", ...encode, "fdsink", "fd=1", "sync=false"],
  };
}

/** True when ffmpeg can pass the camera's own JPEG frames through untouched. */
export function ffmpegCopies(c: FfmpegConfig): boolean {
  return c.input === "v4l2" && c.input_format === "mjpeg" && !c.reencode && c.format === "mjpeg";
}

/** Secrets read from files or systemd credentials, put into the command only when it is started. */
export interface CameraSecrets {
  /** The RTSP camera's password (camera.ffmpeg.password_file / password_credential). */
  ffmpegPassword?: string;
}

/**
 * `url` with `password` inserted after its user name (rtsp://user@cam -> rtsp://user:pw@cam),
 * percent-encoded so any character works. The config check makes sure the URL has a user and no
 * password of its own.
 */
export function urlWithPassword(url: string, password: string): string {
  const start = url.indexOf("://") + 3;
  const at = url.lastIndexOf("@", url.indexOf("/", start) >= 0 ? url.indexOf("/", start) : url.length);
  if (start < 3 || at < start) throw new Error("the camera URL has no user name to go with the password");
  const user = url.slice(start, at).split(":")[0] as string;
  return `${url.slice(0, start)}${user}:${encodeURIComponent(password)}${url.slice(at)}`;
}

export function ffmpegCommand(c: FfmpegConfig, secrets: CameraSecrets = {}): CaptureCommand {
  const args = ["-hide_banner", "-loglevel", "error", "-nostdin"];
  const size = `${c.width}x${c.height}`;
  switch (c.input) {
    case "v4l2":
      args.push("-f", "v4l2", "-input_format", c.input_format, "-video_size", size);
      args.push("-framerate", num(c.fps), "-i", c.device);
      break;
    case "rtsp":
      // TCP: a lost UDP packet corrupts a frame; low-delay flags stop ffmpeg buffering ahead.
      args.push("-rtsp_transport", c.rtsp_transport, "-fflags", "nobuffer", "-flags", "low_delay");
      args.push("-i", c.url && secrets.ffmpegPassword ? urlWithPassword(c.url, secrets.ffmpegPassword) : (c.url ?? ""));
      break;
    case "lavfi":
      // -re: generate in real time, as a camera would, instead of as fast as the CPU allows.
      args.push("-re", "-f", "lavfi", "-i", `${c.pattern}=size=${size}:rate=${c.fps}`);
      break;
  }
  args.push("-an");
  if (c.format === "yuv420") {
    // Exactly the configured size and BT.601 limited range, whatever the camera sends: the
    // reader cuts the stream by size and converts with that matrix.
    args.push("-vf", `scale=${c.width}:${c.height}:out_color_matrix=bt601:out_range=tv,format=yuv420p`);
    args.push("-f", "rawvideo", "-");
    return { bin: "ffmpeg", args };
  }
  if (ffmpegCopies(c)) {
    args.push("-c:v", "copy");
  } else {
    if (c.input === "rtsp") args.push("-vf", `scale=${c.width}:${c.height}`);
    args.push("-c:v", "mjpeg", "-q:v", num(c.quality));
  }
  // One write per frame: a pipe is not seekable, but say so rather than rely on the default.
  args.push("-f", "mjpeg", "-flush_packets", "1", "-");
  return { bin: "ffmpeg", args };
}

/** What a yuv420 capture command writes: its size, and the colour its program was asked for. */
export function yuv420Layout(camera: CameraConfig): RawLayout | null {
  switch (camera.source) {
    case "replay":
      return null;
    case "libcamera": {
      const c = camera.libcamera;
      if (c.format !== "yuv420") return null;
      // rpicam-apps' choice for video: Rec.709 from 1280x720 up, SMPTE 170M (BT.601) below.
      const hd = c.width >= 1280 || c.height >= 720;
      return raw(c.width, c.height, hd ? "bt709" : "bt601");
    }
    case "gstreamer":
    case "ffmpeg": {
      const c = camera[camera.source];
      return c.format === "yuv420" ? raw(c.width, c.height, "bt601") : null;
    }
  }
}

function raw(width: number, height: number, matrix: YuvMatrix): RawLayout {
  return { format: "yuv420p", width, height, colour: { matrix, range: "limited" } };
}

/** The command as one line for logs, with every secret masked (config/redact.ts). */
export function describeCommand(cmd: CaptureCommand): string {
  return redactArgs([cmd.bin, ...cmd.args])
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(" ");
}

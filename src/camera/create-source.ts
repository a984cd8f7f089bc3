// The camera source the config asks for: the replayed footage, or a capture process.
import type { Logger } from "pino";
import type { CameraConfig } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import {
  type CameraSecrets,
  type CaptureCommand,
  ffmpegCommand,
  gstreamerCommand,
  LIBCAMERA_VID,
  type LibcameraVid,
  libcameraCommand,
  yuv420Layout,
} from "./commands.js";
import { findProgram } from "./find-program.js";
import { MjpegSplitter } from "./mjpeg-splitter.js";
import { ProcessSource } from "./process-source.js";
import { RawSplitter } from "./raw-splitter.js";
import { ReplaySource } from "./replay-source.js";
import type { CameraSource } from "./source.js";
import { yuv420Bytes } from "./yuv420.js";

/** rpicam-vid where it exists (Bookworm), else libcamera-vid (Bullseye), else rpicam-vid (to be installed). */
export function pickLibcameraVid(path = process.env.PATH): LibcameraVid {
  return LIBCAMERA_VID.find((bin) => findProgram(bin, path)) ?? "rpicam-vid";
}

/** The capture command of a process source; null for replay. */
export function captureCommand(
  camera: CameraConfig,
  path = process.env.PATH,
  secrets: CameraSecrets = {},
): CaptureCommand | null {
  switch (camera.source) {
    case "replay":
      return null;
    case "libcamera":
      return libcameraCommand(camera.libcamera, pickLibcameraVid(path));
    case "gstreamer":
      return gstreamerCommand(camera.gstreamer);
    case "ffmpeg":
      return ffmpegCommand(camera.ffmpeg, secrets);
  }
}

export function createCameraSource(
  camera: CameraConfig,
  opts: { logger?: Logger; env?: NodeJS.ProcessEnv; secrets?: CameraSecrets } = {},
): CameraSource {
  if (camera.source === "replay") return new ReplaySource(camera.replay);
  const env = opts.env ?? process.env;
  const raw = yuv420Layout(camera);
  return new ProcessSource({
    kind: camera.source,
    // Looked up again at every start: installing rpicam-apps while the daemon waits is enough.
    command: () => captureCommand(camera, env.PATH, opts.secrets) as CaptureCommand,
    splitter: raw ? () => new RawSplitter(yuv420Bytes(raw.width, raw.height)) : () => new MjpegSplitter(),
    ...(raw ? { raw } : {}),
    stallTimeoutMs: camera.stall_timeout_s * 1000,
    env,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}

/** Reads the camera's password file or systemd credential, if the config names one. */
export async function readCameraSecrets(camera: CameraConfig): Promise<CameraSecrets> {
  const f = camera.ffmpeg;
  if (camera.source !== "ffmpeg" || !(f.password_file || f.password_credential)) return {};
  const ffmpegPassword = await readSecret({
    key: f.password_file ? "camera.ffmpeg.password_file" : "camera.ffmpeg.password_credential",
    file: f.password_file ?? undefined,
    credential: f.password_credential ?? undefined,
  });
  return { ffmpegPassword };
}

/** What is being inspected, in a few words for a person at a terminal. */
export function describeCamera(camera: CameraConfig): string {
  switch (camera.source) {
    case "replay":
      return camera.replay.path;
    case "libcamera": {
      const c = camera.libcamera;
      return `libcamera camera ${c.camera} (${c.width}x${c.height} at ${c.fps} fps, ${c.format})`;
    }
    case "gstreamer": {
      const g = camera.gstreamer;
      const what = g.element === "v4l2src" ? g.device : g.element === "custom" ? "a custom pipeline" : g.element;
      return `GStreamer ${what} (${g.width}x${g.height} at ${g.fps} fps, ${g.format})`;
    }
    case "ffmpeg": {
      const f = camera.ffmpeg;
      const what = f.input === "v4l2" ? f.device : f.input === "rtsp" ? "an RTSP camera" : `lavfi ${f.pattern}`;
      return `ffmpeg ${what} (${f.width}x${f.height} at ${f.fps} fps, ${f.format})`;
    }
  }
}

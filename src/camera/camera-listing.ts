// Reads what the camera tools print (rpicam-hello --list-cameras, v4l2-ctl --list-formats-ext,
// ffmpeg -list_formats all) and turns a camera into a ready config section. Pure: the commands
// are run by `linesight cameras`.

export interface LibcameraCamera {
  index: number;
  /** Sensor model, e.g. imx708. */
  sensor: string;
  /** The rest of the line, e.g. "4608x2592 10-bit RGGB". */
  detail: string;
}

export interface FrameSizeRates {
  width: number;
  height: number;
  /** Frame rates offered at this size; empty when the tool does not say. */
  fps: number[];
}

export interface V4l2Format {
  /** The pixel format as ffmpeg's -input_format names it: mjpeg, yuyv422, nv12, ... */
  format: string;
  description: string;
  sizes: FrameSizeRates[];
}

/** `rpicam-hello --list-cameras` (or libcamera-hello): "0 : imx708 [4608x2592 10-bit RGGB] (/base/...)". */
export function parseLibcameraList(text: string): LibcameraCamera[] {
  const out: LibcameraCamera[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s*:\s*(\S+)\s*\[([^\]]*)\]/.exec(line);
    if (m) out.push({ index: Number(m[1]), sensor: m[2] as string, detail: (m[3] as string).trim() });
  }
  return out;
}

const FOURCC_TO_FFMPEG: Record<string, string> = {
  MJPG: "mjpeg",
  JPEG: "mjpeg",
  YUYV: "yuyv422",
  UYVY: "uyvy422",
  NV12: "nv12",
  YU12: "yuv420p",
  H264: "h264",
  RGB3: "rgb24",
  BGR3: "bgr24",
  GREY: "gray",
};

/** `v4l2-ctl -d DEV --list-formats-ext`. */
export function parseV4l2CtlFormats(text: string): V4l2Format[] {
  const out: V4l2Format[] = [];
  let format: V4l2Format | null = null;
  let size: FrameSizeRates | null = null;
  for (const line of text.split("\n")) {
    const f = /^\s*\[\d+\]:\s*'([^']+)'\s*\(([^)]*)/.exec(line);
    if (f) {
      const fourcc = (f[1] as string).trim();
      format = {
        format: FOURCC_TO_FFMPEG[fourcc] ?? fourcc.toLowerCase(),
        description: (f[2] as string).trim(),
        sizes: [],
      };
      out.push(format);
      size = null;
      continue;
    }
    const s = /^\s*Size:\s*\w+\s+(\d+)x(\d+)/.exec(line);
    if (s && format) {
      size = { width: Number(s[1]), height: Number(s[2]), fps: [] };
      format.sizes.push(size);
      continue;
    }
    const r = /Interval:.*\(([\d.]+)\s*fps\)/.exec(line);
    if (r && size) size.fps.push(Number(r[1]));
  }
  return out;
}

/** `ffmpeg -f v4l2 -list_formats all -i DEV` (stderr): "... Compressed: mjpeg : Motion-JPEG : 1280x720 640x480". */
export function parseFfmpegFormats(text: string): V4l2Format[] {
  const out: V4l2Format[] = [];
  for (const line of text.split("\n")) {
    const body = line.slice(line.indexOf("]") + 1);
    // "Raw : yuyv422 : YUYV 4:2:2 : 640x480": the fields are separated by a colon and a space.
    const [kind, format, description, sizes] = body.split(/\s*:\s+/).map((x) => x.trim());
    if (!(kind === "Raw" || kind === "Compressed") || !format || sizes === undefined) continue;
    out.push({
      format,
      description: description ?? "",
      sizes: [...sizes.matchAll(/\b(\d+)x(\d+)\b/g)].map((x) => ({
        width: Number(x[1]),
        height: Number(x[2]),
        fps: [],
      })),
    });
  }
  return out;
}

/** One line per format: "mjpeg (Motion-JPEG): 1280x720@30 640x480@30,15". */
export function describeFormats(formats: V4l2Format[]): string[] {
  return formats.map((f) => {
    const sizes = f.sizes.map(
      (s) => `${s.width}x${s.height}${s.fps.length ? `@${s.fps.map((x) => +x.toFixed(2)).join(",")}` : ""}`,
    );
    return `${f.format} (${f.description}): ${sizes.join(" ") || "sizes not listed"}`;
  });
}

/** The size to ask for: 640x480 when offered, else the smallest at least 640 wide, else the largest. */
export function pickSize(sizes: FrameSizeRates[]): FrameSizeRates | null {
  if (sizes.length === 0) return null;
  const exact = sizes.find((s) => s.width === 640 && s.height === 480);
  if (exact) return exact;
  const wide = sizes.filter((s) => s.width >= 640).sort((a, b) => a.width * a.height - b.width * b.height);
  return wide[0] ?? [...sizes].sort((a, b) => b.width * b.height - a.width * a.height)[0] ?? null;
}

/** The fastest listed rate up to 30 fps (30 when none is listed). */
export function pickFps(size: FrameSizeRates): number {
  const ok = size.fps.filter((f) => f <= 30.5);
  return ok.length ? Math.round(Math.max(...ok) * 100) / 100 : 30;
}

/** The config's camera section for a V4L2 device: its MJPEG frames copied as they are when offered. */
export function v4l2Snippet(device: string, formats: V4l2Format[]): Record<string, unknown> | null {
  const usable = formats.filter((f) => f.format !== "h264");
  const chosen = usable.find((f) => f.format === "mjpeg" && f.sizes.length) ?? usable.find((f) => f.sizes.length);
  if (!chosen) return null;
  const size = pickSize(chosen.sizes) as FrameSizeRates;
  return {
    camera: {
      source: "ffmpeg",
      ffmpeg: {
        input: "v4l2",
        device,
        input_format: chosen.format,
        width: size.width,
        height: size.height,
        fps: pickFps(size),
      },
    },
  };
}

export function libcameraSnippet(cam: LibcameraCamera): Record<string, unknown> {
  return {
    camera: {
      source: "libcamera",
      libcamera: { camera: cam.index, width: 640, height: 480, fps: 30, format: "yuv420", shutter_us: 10000, gain: 1 },
    },
  };
}

export function jetsonSnippet(sensorId: number): Record<string, unknown> {
  return {
    camera: {
      source: "gstreamer",
      gstreamer: { element: "nvarguscamerasrc", sensor_id: sensorId, width: 640, height: 480, fps: 30 },
    },
  };
}

/** No camera at all: ffmpeg's test picture, to try everything else. */
export function testSourceSnippet(): Record<string, unknown> {
  return { camera: { source: "ffmpeg", ffmpeg: { input: "lavfi", width: 640, height: 480, fps: 30 } } };
}

/** Nodes that are not cameras (codecs, ISPs) or that libcamera drives (CSI receivers). */
export function v4l2NodeRole(name: string): "camera" | "csi" | "other" {
  if (/unicam|rp1-cfe|tegra-capture|vi-output/i.test(name)) return "csi";
  if (/codec|isp|pispbe|hevc|rpivid|hantro|encoder|decoder|scaler|m2m/i.test(name)) return "other";
  return "camera";
}

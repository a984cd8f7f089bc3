// `linesight cameras`: which cameras this machine has, what they offer, and a config section for
// each, ready to paste. Runs the vendors' own listing tools where installed.
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import {
  describeFormats,
  jetsonSnippet,
  libcameraSnippet,
  parseFfmpegFormats,
  parseLibcameraList,
  parseV4l2CtlFormats,
  testSourceSnippet,
  type V4l2Format,
  v4l2NodeRole,
  v4l2Snippet,
} from "../camera/camera-listing.js";
import { installHint } from "../camera/capture-diagnosis.js";
import { findProgram } from "../camera/find-program.js";

export const CAMERAS_HELP = `Usage: linesight cameras

Lists the cameras this machine has and prints a config section (camera:) for each:
  - Raspberry Pi cameras, with rpicam-hello --list-cameras (libcamera-hello on Bullseye)
  - V4L2 devices (/dev/video*: USB cameras), with their formats from v4l2-ctl --list-formats-ext
    (package v4l-utils) or, without it, ffmpeg -f v4l2 -list_formats all
  - Jetson CSI cameras, when GStreamer has nvarguscamerasrc
Paste the section into the config file and run 'linesight check' to grab and decode a frame.
The camera must be free: stop linesight (or anything else using it) first.`;

interface ToolResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

function runTool(bin: string, args: string[], timeoutMs = 10_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

function indent(text: string, by: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((l) => by + l)
    .join("\n");
}

function printSnippet(snippet: Record<string, unknown>): void {
  console.log(indent(stringify(snippet), "      "));
}

async function listLibcamera(): Promise<number> {
  const bin = ["rpicam-hello", "libcamera-hello"].find((b) => findProgram(b));
  if (!bin) {
    console.log(`libcamera: rpicam-hello is not installed; on a Raspberry Pi install ${installHint("rpicam-hello")}`);
    return 0;
  }
  const r = await runTool(bin, ["--list-cameras"]);
  const cams = parseLibcameraList(r.stdout + r.stderr);
  if (cams.length === 0) {
    console.log(`libcamera (${bin} --list-cameras): none found`);
    console.log(
      "    check the ribbon cable (contacts facing the right way), camera_auto_detect=1 in /boot/firmware/config.txt, then reboot",
    );
    return 0;
  }
  console.log(`libcamera (${bin} --list-cameras):`);
  for (const c of cams) {
    console.log(`  ${c.index}: ${c.sensor} [${c.detail}]`);
    console.log("    config (fixed exposure: tune shutter_us and gain to your lighting, see docs/cameras.md):");
    printSnippet(libcameraSnippet(c));
  }
  return cams.length;
}

async function v4l2Formats(dev: string): Promise<{ formats: V4l2Format[]; via: string }> {
  if (findProgram("v4l2-ctl")) {
    const r = await runTool("v4l2-ctl", ["-d", dev, "--list-formats-ext"]);
    return { formats: parseV4l2CtlFormats(r.stdout), via: "v4l2-ctl" };
  }
  if (findProgram("ffmpeg")) {
    const r = await runTool("ffmpeg", ["-hide_banner", "-f", "v4l2", "-list_formats", "all", "-i", dev]);
    return { formats: parseFfmpegFormats(r.stderr), via: "ffmpeg" };
  }
  return { formats: [], via: "" };
}

async function listV4l2(): Promise<number> {
  const devices = (await readdir("/dev").catch(() => [] as string[]))
    .filter((n) => /^video\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  if (devices.length === 0) {
    console.log("V4L2 (/dev/video*): none found");
    console.log(
      "    plug in a USB camera and look at `dmesg | tail` (uvcvideo); in a container, pass the device (--device /dev/video0)",
    );
    return 0;
  }
  if (!findProgram("v4l2-ctl") && !findProgram("ffmpeg")) {
    console.log(`V4L2: to list formats install ${installHint("v4l2-ctl")} (or ${installHint("ffmpeg")})`);
  }
  console.log("V4L2 (/dev/video*):");
  let found = 0;
  for (const name of devices) {
    const dev = `/dev/${name}`;
    const label = (await readFile(`/sys/class/video4linux/${name}/name`, "utf8").catch(() => "")).trim();
    const role = v4l2NodeRole(label);
    if (role === "other") continue; // codecs, ISPs: not cameras
    if (role === "csi") {
      console.log(
        `  ${dev} "${label}": a CSI camera receiver; use camera.source libcamera (Pi) or gstreamer nvarguscamerasrc (Jetson)`,
      );
      continue;
    }
    const { formats, via } = await v4l2Formats(dev);
    if (via && formats.length === 0) continue; // metadata nodes list no formats
    found++;
    console.log(`  ${dev}${label ? ` "${label}"` : ""}:`);
    for (const line of describeFormats(formats)) console.log(`    ${line}`);
    const snippet = v4l2Snippet(dev, formats);
    if (snippet) {
      console.log("    config:");
      printSnippet(snippet);
    }
  }
  if (found === 0) console.log("    no capture devices among them");
  return found;
}

async function listJetson(): Promise<number> {
  if (!findProgram("gst-inspect-1.0")) return 0;
  const r = await runTool("gst-inspect-1.0", ["nvarguscamerasrc"]);
  if (!r.ok) return 0;
  console.log("Jetson CSI (nvarguscamerasrc is installed; sensor_id 0, 1, ... per connected camera):");
  printSnippet(jetsonSnippet(0));
  return 1;
}

export async function camerasCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(CAMERAS_HELP);
    return 0;
  }
  const found = (await listLibcamera()) + (await listV4l2()) + (await listJetson());
  if (found === 0) {
    console.log("\nNo cameras found. To try linesight without one, use ffmpeg's test picture:");
    printSnippet(testSourceSnippet());
  }
  return 0;
}

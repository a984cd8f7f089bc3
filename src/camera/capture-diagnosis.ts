// Turns a capture process's failure into a sentence that names the fix: which package provides a
// missing program, and what the usual camera errors on stderr mean. Pure.

/** Where each capture program comes from (Debian / Raspberry Pi OS / JetPack package names). */
const PACKAGES: Record<string, string> = {
  "rpicam-vid": "rpicam-apps (Raspberry Pi OS Bookworm; rpicam-apps-lite on Lite images): sudo apt install rpicam-apps",
  "rpicam-hello": "rpicam-apps (Raspberry Pi OS Bookworm): sudo apt install rpicam-apps",
  "libcamera-vid": "libcamera-apps (Raspberry Pi OS Bullseye): sudo apt install libcamera-apps",
  "libcamera-hello": "libcamera-apps (Raspberry Pi OS Bullseye): sudo apt install libcamera-apps",
  "gst-launch-1.0":
    "gstreamer1.0-tools with its base and good plugins: sudo apt install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good",
  ffmpeg: "ffmpeg: sudo apt install ffmpeg",
  "v4l2-ctl": "v4l-utils: sudo apt install v4l-utils",
};

export function installHint(bin: string): string {
  const name = bin.slice(bin.lastIndexOf("/") + 1);
  return PACKAGES[name] ?? `the package that provides ${name}`;
}

/** The message for a program that could not be started at all. */
export function spawnFailure(bin: string, code: string | undefined, message: string): string {
  if (code === "ENOENT") return `${bin} not found on PATH; install ${installHint(bin)}`;
  if (code === "EACCES") return `${bin} is not executable by this user (${message}); check its permissions`;
  return `${bin} could not be started: ${message}`;
}

const KNOWN: { test: RegExp; says: string }[] = [
  {
    test: /device or resource busy|EBUSY|pipeline handler in use|failed to acquire camera/i,
    says: "the camera is in use by another process (another linesight, a preview, a browser tab); stop it, e.g. `fuser -v /dev/video*`",
  },
  {
    test: /permission denied|EACCES|operation not permitted/i,
    says: "no permission to open the camera: add the service user to the video group (sudo usermod -aG video linesight) and restart it",
  },
  {
    test: /no cameras available|no camera found|camera.*not (found|available)/i,
    says: "libcamera sees no camera: check the ribbon cable and its orientation, the camera_auto_detect=1 / dtoverlay line in /boot/firmware/config.txt, then reboot; `rpicam-hello --list-cameras` must list it",
  },
  {
    test: /No such file or directory|cannot open video device|cannot open .*\/dev\/video/i,
    says: "the video device does not exist: check the cable and `ls /dev/video*`, or run `linesight cameras`",
  },
  {
    test: /no element "([^"]+)"/i,
    says: "a GStreamer element is missing: install its plugin package (v4l2src: gstreamer1.0-plugins-good, libcamerasrc: gstreamer1.0-libcamera, nvarguscamerasrc: JetPack's nvidia-l4t-gstreamer)",
  },
  {
    test: /not-negotiated|could not negotiate|invalid argument|inappropriate ioctl|unsupported (pixel )?format|cannot find a proper format/i,
    says: "the camera does not offer this format, size or frame rate: `linesight cameras` lists what it does",
  },
];

/** What the last lines of a capture program's stderr point to, or null if nothing known. */
export function diagnoseStderr(lines: readonly string[]): string | null {
  const text = lines.join("\n");
  for (const k of KNOWN) if (k.test.test(text)) return k.says;
  return null;
}

#!/usr/bin/env node
// Brings a fresh clone to a runnable state for `npm start`, `npm test` or `npm run model:build`:
// npm packages, the TypeScript build, and the Debian packages each needs (installed when run as
// root, otherwise the exact command is printed). Idempotent and quick when nothing is missing.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { for: { type: "string", default: "start" } } });
const purpose = values.for;

const DEBIAN = {
  start: [],
  test: [
    { pkg: "mosquitto", check: () => has("mosquitto", "/usr/sbin/mosquitto") },
    // Camera tests run real capture processes: ffmpeg and gst-launch-1.0 with their test sources.
    { pkg: "ffmpeg", check: () => has("ffmpeg", "/usr/bin/ffmpeg") },
    {
      pkg: "gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good",
      check: () =>
        has("gst-launch-1.0", "/usr/bin/gst-launch-1.0") &&
        spawnSync("gst-inspect-1.0", ["videotestsrc"]).status === 0 &&
        spawnSync("gst-inspect-1.0", ["jpegenc"]).status === 0,
    },
    // The MQTT security tests make their certificates with openssl (and passwords with mosquitto_passwd).
    { pkg: "openssl", check: () => has("openssl", "/usr/bin/openssl") },
    // The operator page's browser tests drive Debian's Chromium (playwright-core, no download).
    { pkg: "chromium", check: () => has("chromium", "/usr/bin/chromium") },
    // The PLC's Modbus server is tested with an independent client.
    { pkg: "mbpoll", check: () => has("mbpoll", "/usr/bin/mbpoll") },
    // The retraining recipe's export reader (models/recipe/device_data.py) is tested on real exports.
    {
      pkg: "python3-pil",
      check: () => spawnSync("/usr/bin/python3", ["-c", "import PIL"]).status === 0,
    },
    // The gpio-sim VM test builds a minimal kernel from Debian's source and boots it under QEMU
    // (deploy/gpio-sim/).
    {
      pkg: "linux-source-6.1 qemu-system-x86 bc flex bison libelf-dev",
      check: () =>
        existsSync("/usr/src/linux-source-6.1.tar.xz") &&
        has("qemu-system-x86_64", "/usr/bin/qemu-system-x86_64") &&
        has("bc", "/usr/bin/bc") &&
        has("flex", "/usr/bin/flex") &&
        has("bison", "/usr/bin/bison") &&
        existsSync("/usr/include/libelf.h"),
    },
  ],
  model: [
    {
      pkg: "python3-torch python3-onnx python3-pil python3-numpy",
      check: () => spawnSync("/usr/bin/python3", ["-c", "import torch, onnx, PIL, numpy"]).status === 0,
    },
  ],
};

function has(cmd, path) {
  return existsSync(path) || spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

function run(cmd, args, opts = {}) {
  console.log(`setup: ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
}

function whichNpm() {
  return execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
}

function newestMtime(dir, skip = null) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === skip) continue;
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 9)) {
  console.error(`setup: linesight needs Node.js 20.9 or newer; this is ${process.version}`);
  process.exit(1);
}

const missing = (DEBIAN[purpose] ?? []).filter((d) => !d.check()).map((d) => d.pkg);
if (missing.length > 0) {
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (process.getuid?.() === 0) {
    run("sh", ["-c", cmd], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } else {
    console.error(`setup: missing Debian packages for '${purpose}'. Run:\n  sudo sh -c '${cmd}'`);
    process.exit(1);
  }
}

const lock = join(root, "package-lock.json");
const installed = join(root, "node_modules", ".package-lock.json");
if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

// The GPIO character-device addon (line.backend: gpio), built against this machine's Node headers.
const addonDir = join(root, "native", "gpio-chardev");
const addon = join(addonDir, "build", "Release", "gpio_chardev.node");
if (!existsSync(addon) || newestMtime(addonDir, "build") > statSync(addon).mtimeMs) {
  const npmGyp = join(
    dirname(dirname(realpathSync(process.env.npm_execpath ?? whichNpm()))),
    "node_modules/node-gyp/bin/node-gyp.js",
  );
  const gyp = existsSync(npmGyp) ? ["node", [npmGyp]] : ["node-gyp", []];
  // Against the running Node's own headers (its install prefix), never a download.
  const prefix = process.env.npm_config_nodedir ?? dirname(dirname(process.execPath));
  const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
  run(gyp[0], [...gyp[1], "rebuild", "--release", "--loglevel=warn", "-j", "2", ...nodedir], {
    cwd: addonDir,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

const stamp = join(root, "dist", "src", "cli", "main.js");
const sources = Math.max(
  newestMtime(join(root, "src")),
  existsSync(join(root, "bench")) ? newestMtime(join(root, "bench")) : 0,
);
if (!existsSync(stamp) || sources > statSync(stamp).mtimeMs) {
  run("npm", ["run", "--silent", "build"]);
}

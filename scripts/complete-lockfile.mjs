#!/usr/bin/env node
// The build machines' npm registry mirror only serves linux-glibc builds of platform packages, so
// `npm install` leaves the other platforms' optional packages out of package-lock.json and
// `npm ci` then refuses the lockfile as out of sync. This adds a platform-tagged entry for every
// missing optional dependency; npm skips them on linux, and a machine of that platform fetches
// them from its registry as usual. Run after changing dependencies: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const lockPath = join(dirname(fileURLToPath(import.meta.url)), "..", "package-lock.json");
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const packages = lock.packages;

const OS = ["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "netbsd", "sunos", "aix"];
const CPU = {
  arm64: "arm64",
  x64: "x64",
  ia32: "ia32",
  arm: "arm",
  loong64: "loong64",
  ppc64: "ppc64",
  riscv64: "riscv64",
  s390x: "s390x",
  wasm32: "wasm32",
  mips64el: "mips64el",
};

/** Platform fields from a package name such as @rollup/rollup-linux-arm64-musl. */
function platformOf(name) {
  const tokens = name.split("/").pop().split("-");
  const os = tokens.find((t) => OS.includes(t));
  const cpu = tokens.map((t) => CPU[t]).find(Boolean);
  const fields = {};
  if (cpu) fields.cpu = [cpu];
  if (os === "linux") {
    if (tokens.some((t) => t.startsWith("musl"))) fields.libc = ["musl"];
    else if (tokens.some((t) => t.startsWith("gnu") || t === "glibc")) fields.libc = ["glibc"];
  }
  if (os) fields.os = [os];
  return os || cpu ? fields : null;
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ""}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (packages[nested] || packages[hoisted]) continue;
    const platform = platformOf(dep);
    if (!platform) continue; // not a platform build: leave it to npm
    packages[hoisted] = {
      version: spec.replace(/^[\^~=]/, ""),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platform,
    };
    added++;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);

// Do live-view viewers cost stored samples? One daemon on a raw yuv420 camera (ffmpeg's test
// picture, so every kept frame and every frame shown must be made a JPEG in the encoder thread),
// a share of frames kept as audit samples, and phases with 0 and with N greedy viewers that
// fetch the newest frame's JPEG as fast as they can (no SSE pacing: request, answer, repeat).
// Counts: frames decided, samples stored, samples lost ("sample lost" in the log), the
// encoder's refusals, and what the viewers got.
//
//   node dist/bench/viewer-samples.js [--seconds 30] [--viewers 5] [--size 1280x720] [--fps 15] [--audit 0.5]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { packageRoot } from "../src/package-info.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    viewers: { type: "string", default: "5" },
    size: { type: "string", default: "1280x720" },
    fps: { type: "string", default: "15" },
    audit: { type: "string", default: "0.5" },
    "mqtt-port": { type: "string", default: "18951" },
  },
});
const seconds = Number(values.seconds);
const viewersN = Number(values.viewers);
const [width, height] = (values.size as string).split("x").map(Number) as [number, number];

const dir = mkdtempSync(join(tmpdir(), "linesight-bench-viewers-"));
const dbPath = join(dir, "db.sqlite");
writeFileSync(
  join(dir, "config.yaml"),
  [
    "device: {id: bench-viewers}",
    `camera: {source: ffmpeg, ffmpeg: {input: lavfi, width: ${width}, height: ${height}, fps: ${values.fps}, format: yuv420}}`,
    `model: {path: ${join(packageRoot, "models/round-parts")}}`,
    `storage: {path: ${dbPath}, audit_fraction: ${values.audit}}`,
    `mqtt: {embedded: {port: ${values["mqtt-port"]}}, health_interval_s: 2, publish_decisions: false}`,
    "http: {port: 0}",
    "drift: {defect_prevalence: 0.4}",
  ].join("\n"),
);

const child = spawn(
  process.execPath,
  [join(packageRoot, "dist/src/cli/main.js"), "run", "--config", join(dir, "config.yaml")],
  { stdio: ["ignore", "pipe", "inherit"] },
);
let pageUrl = "";
let lost = 0;
let buf = "";
child.stdout.on("data", (d: Buffer) => {
  buf += d.toString();
  for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
    const line = JSON.parse(buf.slice(0, nl)) as { msg?: string; url?: string };
    buf = buf.slice(nl + 1);
    if (line.msg === "operator page up") pageUrl = line.url as string;
    if (line.msg?.startsWith("sample lost")) lost++;
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
while (!pageUrl && Date.now() - t0 < 30_000) await sleep(20);
if (!pageUrl) throw new Error("the operator page did not come up");
await sleep(5000); // warm-up: the capture process and the model are running

function fetchJson<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    get(`${pageUrl}${path}`, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => {
        s += c.toString();
      });
      res.on("end", () => resolve(JSON.parse(s) as T));
    }).on("error", reject);
  });
}

function fetchStatus(path: string): Promise<number> {
  return new Promise((resolve) => {
    get(`${pageUrl}${path}`, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", () => resolve(0));
  });
}

/** A viewer that asks for the newest frame's JPEG again as soon as it has an answer. */
async function greedyViewer(until: number, counts: { shown: number; skipped: number }): Promise<void> {
  while (Date.now() < until) {
    const live = await fetchJson<{ decision: { seq: number } | null }>("api/live");
    if (!live.decision) continue;
    const status = await fetchStatus(`api/live/frame/${live.decision.seq}.jpg`);
    if (status === 200) counts.shown++;
    else counts.skipped++;
  }
}

/** Samples of frames captured in [from, to). */
function stored(from: number, to: number): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare("SELECT count(*) AS n FROM samples WHERE captured_at >= ? AND captured_at < ?").get(from, to) as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

const inspected = async () => (await fetchJson<{ counters: { inspected: number } }>("api/live")).counters.inspected;

interface Phase {
  viewers: number;
  decided: number;
  storedSamples: number;
  lostSamples: number;
  viewerFramesShown: number;
  viewerFramesSkipped: number;
}

async function phase(viewers: number): Promise<Phase> {
  await sleep(2000); // samples of the previous phase reach the database
  const [decided0, lost0, from] = [await inspected(), lost, Date.now()];
  const counts = { shown: 0, skipped: 0 };
  const until = Date.now() + seconds * 1000;
  await Promise.all([sleep(seconds * 1000), ...Array.from({ length: viewers }, () => greedyViewer(until, counts))]);
  const decided = (await inspected()) - decided0;
  const to = Date.now();
  await sleep(3000); // the last samples are written in batches
  return {
    viewers,
    decided,
    storedSamples: stored(from, to),
    lostSamples: lost - lost0,
    viewerFramesShown: counts.shown,
    viewerFramesSkipped: counts.skipped,
  };
}

try {
  const phases = [await phase(0), await phase(viewersN)];
  console.log(
    `viewers vs samples: raw yuv420 ${width}x${height} at ${values.fps} fps, audit_fraction ${values.audit}, ${seconds} s per phase`,
  );
  console.log(
    "| viewers | frames decided | samples stored | samples lost | viewer frames shown | viewer frames skipped |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|");
  for (const p of phases)
    console.log(
      `| ${p.viewers} | ${p.decided} | ${p.storedSamples} | ${p.lostSamples} | ${p.viewerFramesShown} | ${p.viewerFramesSkipped} |`,
    );
  console.log(JSON.stringify({ width, height, fps: Number(values.fps), audit: Number(values.audit), seconds, phases }));
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}

// The labeling page's tar export against the real daemon (issue 14, item 6): a failure before
// the archive starts is an error answer, not a 200; a failure midway aborts the download
// (never a short tar that looks complete); a client that drops before the end leaves the
// samples "not exported"; a complete download (node's fetch, real Chromium) marks them.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { CLI, cleanup, DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { freePort } from "../helpers/ports.js";

const TOKEN = "export-test-token-0123456789";
const bearer = { authorization: `Bearer ${TOKEN}` };
let dir: string;
let dbPath: string;
let url: string;
let daemon: DaemonProcess;
const good: number[] = [];
const defect: number[] = [];

function db(): Database.Database {
  const d = new Database(dbPath, { fileMustExist: true });
  d.pragma("busy_timeout = 5000");
  return d;
}

function exported(ids: number[]): number {
  const d = db();
  try {
    return (
      d
        .prepare(`SELECT count(*) AS n FROM samples WHERE exported_at IS NOT NULL AND id IN (${ids.join(",")})`)
        .get() as { n: number }
    ).n;
  } finally {
    d.close();
  }
}

/** The pid of the daemon's running `linesight samples export` child. */
function exportPid(): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes("samples") && argv.includes("export") && argv.includes(dbPath)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error("no export process running");
}

/** The file names in a tar, and whether it ends with the two empty blocks of a complete archive. */
function tarNames(tar: Buffer): { names: string[]; complete: boolean } {
  const names: string[] = [];
  let at = 0;
  while (at + 512 <= tar.length && tar[at] !== 0) {
    const name = tar
      .subarray(at, at + 100)
      .toString()
      .replace(/\0.*$/s, "");
    const size = Number.parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString()
        .replace(/\0.*$/s, ""),
      8,
    );
    names.push(name);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  const complete = at + 1024 <= tar.length && tar.subarray(at, at + 1024).every((b) => b === 0);
  return { names, complete };
}

beforeAll(async () => {
  dir = tempDir("linesight-export-");
  dbPath = join(dir, "linesight.db");
  writeFileSync(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const config = writeConfig(dir, {
    device: { id: "export-test" },
    camera: { replay: { path: FOOTAGE, fps: 30 } },
    model: { path: MODEL },
    storage: { path: dbPath, audit_fraction: 0.5 },
    mqtt: { embedded: { port: await freePort() } },
    http: { port: await freePort(), token_file: join(dir, "token") },
  });
  // The export's temporary files go here: moving it away makes an export fail before it starts.
  mkdirSync(join(dir, "tmp"));
  daemon = new DaemonProcess(["run", "--config", config], { TMPDIR: join(dir, "tmp") });
  url = (await daemon.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page")).url as string;
  // 60 samples labeled: 40 good, 20 defect (about 1 MB of JPEGs).
  let ids: number[] = [];
  const end = Date.now() + 60_000;
  while (ids.length < 60) {
    if (Date.now() > end) throw new Error(`only ${ids.length} samples stored in 60 s`);
    await new Promise((r) => setTimeout(r, 250));
    const r = (await (await fetch(`${url}api/samples?limit=500`)).json()) as { samples: { id: number }[] };
    ids = r.samples.map((s) => s.id).sort((a, b) => a - b);
  }
  good.push(...ids.slice(0, 40));
  defect.push(...ids.slice(40, 60));
  for (const [label, sample_ids] of [
    ["good", good],
    ["defect", defect],
  ] as const) {
    const r = await fetch(`${url}api/labels`, {
      method: "POST",
      headers: { ...bearer, "x-linesight-request": "1", "content-type": "application/json" },
      body: JSON.stringify({ sample_ids, label }),
    });
    expect(r.status).toBe(200);
  }
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  if (dir) cleanup(dir);
});

describe("the tar export", () => {
  it("is not run for a HEAD request (which would mark samples no one received)", async () => {
    const r = await fetch(`${url}api/export.tar`, { method: "HEAD", headers: bearer });
    expect(r.status).toBe(405);
    expect(exported([...good, ...defect])).toBe(0);
  });

  it("answers an error, not 200, when the export fails before the archive starts", async () => {
    renameSync(join(dir, "tmp"), join(dir, "tmp-away"));
    try {
      const r = await fetch(`${url}api/export.tar?label=defect`, { headers: bearer });
      expect(r.status).toBe(500);
      expect(((await r.json()) as { error: string }).error).toMatch(/^export failed: .*mkdtemp/);
    } finally {
      renameSync(join(dir, "tmp-away"), join(dir, "tmp"));
    }
    expect(exported(defect)).toBe(0);
  });

  it("aborts the download when the export dies midway: the client sees an error, not a short tar", async () => {
    // 40 MB of defect images: more than every buffer between the export and the client holds.
    const d = db();
    d.prepare(
      `UPDATE samples SET image = randomblob(2000000), image_bytes = 2000000 WHERE id IN (${defect.join(",")})`,
    ).run();
    d.close();
    const r = await fetch(`${url}api/export.tar?label=defect`, { headers: bearer });
    expect(r.status).toBe(200);
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    process.kill(exportPid(), "SIGKILL"); // as the kernel's OOM killer would
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return "looked complete";
      })(),
    ).rejects.toThrow();
    await daemon.waitForLog((l) => l.msg === "export failed; the download was aborted", 10_000, "the export failure");
    expect(exported(defect)).toBe(0);
  });

  it("leaves the samples not exported when the client drops before the end", async () => {
    // The archive's size, from the command line (not marking).
    const size = execFileSync(
      process.execPath,
      [CLI, "samples", "export", "--db", dbPath, "--format", "tar", "--out", "-", "--no-mark", "--label", "good"],
      { maxBuffer: 64 * 1024 * 1024 },
    ).length;
    expect(size).toBeGreaterThan(500_000);
    // A client that reads all but the last 200 kB and then stops reading (the rest stays in the
    // kernel's buffers, the export process is done by then), waits, and goes away. The margin
    // exceeds one read's chunk (64 kB on loopback), so the read that crosses it can never
    // carry the archive's end as well.
    await new Promise<void>((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `GET /api/export.tar?label=good HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
        );
      });
      let got = 0;
      let head = "";
      socket.on("data", (c: Buffer) => {
        if (got === 0) head = c.toString("latin1", 0, 20);
        got += c.length;
        if (got >= size - 200_000) {
          socket.pause();
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 1500);
        }
      });
      socket.on("error", reject);
      socket.on("end", () => reject(new Error(`the server ended after ${got} bytes (${head})`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(exported(good)).toBe(0);
    await daemon.waitForLog((l) => l.msg.startsWith("export not delivered completely"), 10_000, "the export given up");
    expect(exported(good)).toBe(0);
  });

  it("marks the samples once the whole archive was read", async () => {
    const r = await fetch(`${url}api/export.tar?label=good`, { headers: bearer });
    expect(r.status).toBe(200);
    const tar = Buffer.from(await r.arrayBuffer());
    const { names, complete } = tarNames(tar);
    expect(complete).toBe(true);
    expect(names.filter((n) => n.endsWith(".jpg")).sort()).toEqual(good.map((id) => `good/${id}.jpg`).sort());
    await expect.poll(() => exported(good), { timeout: 10_000 }).toBe(40);
    // Every row names the device, so retraining on several devices' exports can tell them apart.
    writeFileSync(join(dir, "good.tar"), tar);
    const [header, ...rows] = execFileSync("tar", ["-xOf", join(dir, "good.tar"), "manifest.csv"], { encoding: "utf8" })
      .trim()
      .split("\n");
    // The last column (the ones before it hold quoted JSON with commas).
    expect((header as string).split(",").at(-1)).toBe("device_id");
    expect(new Set(rows.map((r) => r.split(",").at(-1)))).toEqual(new Set(["export-test"]));
  });

  it("marks them after a download in a real browser", async () => {
    let browser: Browser | null = null;
    try {
      browser = await launchChromium();
      const context = await browser.newContext({ acceptDownloads: true });
      const login = await context.request.post(`${url}api/session`, {
        headers: { "x-linesight-request": "1", "content-type": "application/json" },
        data: { name: "Exporter", token: TOKEN },
      });
      expect(login.status()).toBe(200);
      const page = await context.newPage();
      await page.goto(`${url}label`);
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.evaluate(`location.href = "/api/export.tar?label=defect"`),
      ]);
      const file = join(dir, "defect.tar");
      await download.saveAs(file);
      const { names, complete } = tarNames(readFileSync(file));
      expect(complete).toBe(true);
      expect(names.filter((n) => n.endsWith(".jpg"))).toHaveLength(20);
      // Chromium closes the connection once it has the whole download (here within a second).
      await expect.poll(() => exported(defect), { timeout: 30_000 }).toBe(20);
    } finally {
      await browser?.close();
    }
  });
});

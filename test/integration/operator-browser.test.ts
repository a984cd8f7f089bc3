// The operator's screen and labeling page in real headless Chromium against the real daemon:
// what an operator and a quality engineer see and do. Screenshots and timings go to
// build/test-artifacts/ (recorded, never asserted: timing targets belong in benchmarks).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchChromium } from "../helpers/browser.js";
import {
  CLI,
  cleanup,
  DaemonProcess,
  FOOTAGE,
  MODEL,
  SHIPPED_THRESHOLD,
  tempDir,
  writeConfig,
} from "../helpers/daemon.js";
import { freePort } from "../helpers/ports.js";

// The page.evaluate/waitForFunction callbacks run inside the browser; the project's types have no DOM.
declare const window: unknown;
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

const TOKEN = "test-token-0123456789abcdef";
const LABELER = "Quality Q";

let dir: string;
let dbPath: string;
let url: string;
let daemon: DaemonProcess;
let browser: Browser;
const measured: Record<string, unknown> = {};

beforeAll(async () => {
  dir = tempDir("linesight-browser-");
  dbPath = join(dir, "linesight.db");
  writeFileSync(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = writeConfig(dir, {
    device: { id: "browser-test" },
    camera: { replay: { path: FOOTAGE, fps: 30 } },
    model: { path: MODEL },
    storage: { path: dbPath, audit_fraction: 0.3 },
    mqtt: { embedded: { port: await freePort() }, health_interval_s: 1 },
    http: { port, token_file: join(dir, "token") },
    drift: { defect_prevalence: 0.4 },
  });
  daemon = new DaemonProcess(["run", "--config", config]);
  const up = await daemon.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page");
  url = up.url as string;
  await daemon.waitForLog((l) => l.msg === "ready: first frame decided", 30_000, "the first decision");
  browser = await launchChromium();
});

afterAll(async () => {
  writeFileSync(join(ARTIFACTS, "operator-measurements.json"), `${JSON.stringify(measured, null, 2)}\n`);
  await browser?.close();
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  if (dir) cleanup(dir);
});

function db(): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true });
}

function labelCount(): number {
  const d = db();
  try {
    return (d.prepare("SELECT count(*) AS n FROM labels").get() as { n: number }).n;
  } finally {
    d.close();
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 600 } });
  return context.newPage();
}

describe("live view", () => {
  it("shows each decision as it happens, with counters and plain-language status", async () => {
    const page = await newPage();
    await page.goto(url);
    const verdict = page.locator("#verdict[data-seq]");
    await verdict.waitFor({ timeout: 10_000 });
    const first = Number(await verdict.getAttribute("data-seq"));
    await page.waitForFunction(
      (s) => Number(document.querySelector("#verdict")?.getAttribute("data-seq")) > s + 20,
      first,
      {
        timeout: 10_000,
      },
    );
    // The screen follows the device: what the page shows is within a few frames of the newest decision.
    const shown = Number(await verdict.getAttribute("data-seq"));
    const live = (await (await fetch(`${url}api/live`)).json()) as { decision: { seq: number } };
    expect(live.decision.seq - shown).toBeLessThan(30);
    expect(await page.locator("#verdict").textContent()).toMatch(
      new RegExp(`(PASS|REJECT) · (good|defect).*score \\d\\.\\d{3} vs threshold ${SHIPPED_THRESHOLD}`),
    );
    expect(Number((await page.locator("#inspected").textContent())?.replace(/\D/g, ""))).toBeGreaterThan(0);
    await expect.poll(() => page.locator("#status li").count()).toBe(4);
    expect(await page.locator("#status").textContent()).toMatch(/Frames are arriving/);
    await page.locator("#strip img").first().waitFor({ timeout: 10_000 });
    // Decision-to-screen delay, measured in the page (same machine, same clock): recorded, not asserted.
    await page.waitForTimeout(3000);
    const delays = (await page.evaluate(() => (window as unknown as { liveLatencies: number[] }).liveLatencies)).slice(
      5,
    );
    measured.live_update_ms = {
      frames: delays.length,
      p50: quantile(delays, 0.5),
      p95: quantile(delays, 0.95),
      max: Math.max(...delays),
    };
    console.log("decision -> screen (ms):", measured.live_update_ms);
    await page.screenshot({ path: join(ARTIFACTS, "live.png") });
    // The 7-inch official Pi display is 800 x 480.
    await page.setViewportSize({ width: 800, height: 480 });
    await page.screenshot({ path: join(ARTIFACTS, "live-7inch.png") });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, "live-phone.png"), fullPage: true });
    await page.context().close();
  });
});

describe("changes need the token", () => {
  it("refuses label writes without the header, the token, or from another origin; nothing is stored", async () => {
    const [sample] = ((await (await fetch(`${url}api/samples?limit=1`)).json()) as { samples: { id: number }[] })
      .samples as [{ id: number }];
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    const label = { sample_ids: [sample.id], label: "good" };
    const csrf = { "x-linesight-request": "1" };
    expect((await post("api/labels", label)).status).toBe(403);
    expect((await post("api/labels", label, csrf)).status).toBe(401);
    expect((await post("api/labels", label, { ...csrf, authorization: "Bearer wrong-token-0123456789" })).status).toBe(
      401,
    );
    expect(
      (await post("api/labels", label, { ...csrf, cookie: "linesight_session=QQ.9999999999999.forged" })).status,
    ).toBe(401);
    expect((await post("api/session", { name: "x", token: "nope" }, csrf)).status).toBe(401);
    // A forged form post from another site, even with a real session cookie, is refused.
    const login = await post("api/session", { name: "ann", token: TOKEN }, csrf);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
    expect((await post("api/labels", label, { cookie, ...csrf, origin: "http://evil.example" })).status).toBe(403);
    expect((await post("api/labels", label, { cookie })).status).toBe(403);
    expect((await post("api/labels/undo", { label_ids: [1] }, csrf)).status).toBe(401);
    expect((await fetch(`${url}api/export.tar`)).status).toBe(401);
    expect(labelCount()).toBe(0);
  });
});

describe("labeling page", () => {
  it("labels 100 samples with the keyboard alone, stores who and when, undoes, batches a grid", async () => {
    // Enough unlabeled samples for 100 keypresses and a grid page.
    await expect
      .poll(
        async () => ((await (await fetch(`${url}api/samples?labeled=no&limit=1`)).json()) as { total: number }).total,
        {
          timeout: 60_000,
          interval: 500,
        },
      )
      .toBeGreaterThan(130);
    const page = await newPage();
    await page.goto(`${url}label?labeled=no`);
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#login input[name=name]", LABELER);
    await page.fill("#login input[name=token]", TOKEN);
    await page.click("#login button");
    await page.locator("#who", { hasText: `labeling as ${LABELER}` }).waitFor();
    await page.locator("#login").waitFor({ state: "hidden" });
    await page.waitForFunction(
      () => (window as unknown as { labelState: { queue: unknown[] } }).labelState.queue.length > 0,
    );
    await page.screenshot({ path: join(ARTIFACTS, "label.png") });

    // The defect kinds from the model's manifest are offered, each on its own key.
    expect(await page.locator("#keys").textContent()).toContain("defect (missing chunk)");
    // A labeler who mostly agrees with the model: reads the picture, presses one key (naming
    // the kind of every other defect: key 3 is the manifest's first kind, crack).
    const started = Date.now();
    let cracks = 0;
    for (let i = 1; i <= 100; i++) {
      const predicted = await page.evaluate(() => {
        const s = (window as unknown as { labelState: { queue: { predicted: string }[]; pos: number } }).labelState;
        return s.queue[s.pos]?.predicted;
      });
      const crack = predicted === "defect" && cracks * 2 < i;
      if (crack) cracks++;
      await page.keyboard.press(crack ? "3" : predicted === "defect" ? "2" : "g");
      await page.waitForFunction(
        (n) => (window as unknown as { labelState: { done: number } }).labelState.done === n,
        i,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    measured.label_100_by_keyboard_s = Math.round(seconds * 10) / 10;
    console.log(`100 samples labeled by keyboard in ${seconds.toFixed(1)} s`);

    const d = db();
    const rows = d.prepare("SELECT label, labeled_by, labeled_at, kind FROM labels").all() as {
      label: string;
      labeled_by: string;
      labeled_at: number;
      kind: string | null;
    }[];
    d.close();
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.labeled_by))).toEqual(new Set([LABELER]));
    expect(rows.every((r) => r.labeled_at >= started - 1000 && r.labeled_at <= Date.now())).toBe(true);
    expect(new Set(rows.map((r) => r.label))).toEqual(new Set(["good", "defect"]));
    // The kind is stored with the label, only on defects.
    expect(cracks).toBeGreaterThan(0);
    expect(rows.filter((r) => r.kind === "crack").length).toBe(cracks);
    expect(rows.every((r) => r.kind === null || (r.kind === "crack" && r.label === "defect"))).toBe(true);

    // Undo takes the last label back; labeling it again restores the count.
    await page.keyboard.press("u");
    await expect.poll(labelCount).toBe(99);
    await page.keyboard.press("1");
    await expect.poll(labelCount).toBe(100);
    // Keys pressed faster than labels are saved are all applied, in order (none dropped).
    await page.keyboard.press("u");
    await page.keyboard.press("u");
    await page.keyboard.press("1");
    await page.keyboard.press("1");
    await page.evaluate(() => (window as { labelIdle(): Promise<void> }).labelIdle());
    expect(await page.evaluate(() => (window as { labelState: { done: number } }).labelState.done)).toBe(100);
    expect(labelCount()).toBe(100);

    // The accuracy estimate from labeled audit samples is on the page, and in MQTT health.
    const d2 = db();
    const audits = (
      d2
        .prepare(
          "SELECT count(DISTINCT l.sample_id) AS n FROM labels l JOIN samples s ON s.id = l.sample_id WHERE s.reason = 'audit'",
        )
        .get() as { n: number }
    ).n;
    d2.close();
    expect(audits).toBeGreaterThan(0);
    await page.locator(`#accuracy[data-samples="${audits}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator("#accuracy").textContent()).toMatch(/accuracy\d+\.\d% \(\d+\.\d%–\d+\.\d%, n=\d+\)/);
    const health = await daemon.waitForLog(
      (l) => l.msg === "health" && (l.health as { audit?: { samples: number } }).audit?.samples === audits,
      10_000,
      "a health report with the audit estimate",
    );
    measured.audit_estimate = (health.health as { audit: unknown }).audit;

    // Grid: v switches view, x selects the dashed one, a label key labels the selection.
    await page.keyboard.press("v");
    await page.locator("#grid figure").nth(11).waitFor();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("x");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("x");
    await page.locator("#grid figure.sel").nth(1).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "label-grid.png") });
    await page.keyboard.press("2");
    await expect.poll(labelCount).toBe(102);
    // Without a selection the whole grid page is labeled at once.
    await page.keyboard.press("1");
    await expect.poll(labelCount).toBe(114);
    await page.context().close();
  });

  it("exports exactly the labeled samples, from the command line and as a download", async () => {
    const d = db();
    const labeled = new Map(
      (
        d
          .prepare(
            "SELECT s.id, l.label FROM samples s JOIN labels l ON l.id = (SELECT max(id) FROM labels WHERE sample_id = s.id)",
          )
          .all() as { id: number; label: string }[]
      ).map((r) => [r.id, r.label]),
    );
    d.close();
    expect(labeled.size).toBe(114);
    const expected = [...labeled].map(([id, label]) => `${label}/${id}.jpg`).sort();

    const out = join(dir, "export");
    execFileSync(process.execPath, [CLI, "samples", "export", "--db", dbPath, "--out", out, "--no-mark"]);
    const files = ["good", "defect"].flatMap((l) => {
      try {
        return readdirSync(join(out, l)).map((f) => `${l}/${f}`);
      } catch {
        return [];
      }
    });
    expect(files.sort()).toEqual(expected);
    const manifest = readFileSync(join(out, "manifest.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: number; label: string; labeled_by: string });
    expect(manifest.map((m) => m.id).sort((a, b) => a - b)).toEqual([...labeled.keys()].sort((a, b) => a - b));
    expect(manifest.every((m) => m.label === labeled.get(m.id) && m.labeled_by === LABELER)).toBe(true);

    // The page's download: a tar with the same files, streamed by the daemon.
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${url}label?labeled=any`);
    await page.fill("#login input[name=name]", LABELER);
    await page.fill("#login input[name=token]", TOKEN);
    await page.click("#login button");
    await page.locator("#who", { hasText: LABELER }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
    const tar = join(dir, "download.tar");
    await download.saveAs(tar);
    const names = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n");
    expect(names.filter((n) => n.endsWith(".jpg")).sort()).toEqual(expected);
    expect(names).toEqual(expect.arrayContaining(["manifest.csv", "manifest.jsonl", "label-studio.json"]));
    // The download marked them as exported, once the browser had read all of it and closed.
    const marked = () => {
      const d3 = db();
      try {
        return (d3.prepare("SELECT count(*) AS n FROM samples WHERE exported_at IS NOT NULL").get() as { n: number }).n;
      } finally {
        d3.close();
      }
    };
    await expect.poll(marked, { timeout: 30_000 }).toBe(114);
    await context.close();
  });
});

describe("live view status in plain words", () => {
  it("says when the lighting changed and when the broker is unreachable", async () => {
    const d2 = tempDir("linesight-browser-drift-");
    const port = await freePort();
    const deadBroker = await freePort(); // nothing listens there
    const config = writeConfig(d2, {
      device: { id: "browser-drift" },
      // The lights dim by 30% from the first frame on.
      camera: { replay: { path: FOOTAGE, fps: 100, drift: { kind: "brightness", amount: -0.3, from_frame: 0 } } },
      model: { path: MODEL },
      storage: { path: join(d2, "linesight.db"), audit_fraction: 0 },
      mqtt: { url: `mqtt://127.0.0.1:${deadBroker}` },
      http: { port, token_file: join(dir, "token") },
      drift: { defect_prevalence: 0.4 },
    });
    const d = new DaemonProcess(["run", "--config", config]);
    try {
      const up = await d.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page");
      const page = await newPage();
      await page.goto(up.url as string);
      await page
        .locator("#status li.alarm, #status li.warn", { hasText: /Lighting changed: brightness down \d+%/ })
        .waitFor({
          timeout: 60_000,
        });
      const status = (await page.locator("#status").textContent()) ?? "";
      expect(status).toMatch(/check the lighting/);
      expect(status).toMatch(/Broker unreachable: \d+ message\(s\) kept for later; inspection goes on/);
      await page.screenshot({ path: join(ARTIFACTS, "live-drift.png") });
      await page.context().close();
    } finally {
      d.kill("SIGTERM");
      await d.exited;
      cleanup(d2);
    }
  });
});

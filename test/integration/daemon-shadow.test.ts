// Shadow mode in the built daemon, started with a candidate folder (model.shadow.dir) against a
// real Mosquitto and SQLite file: what an ML engineer trying a model on the line would see. The
// candidate is the shipped model with its threshold at 0.005 (no uncertain band): it can only
// reject parts the active model passes, never the other way round.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/dataset/csv.js";
import type { ShadowReport } from "../../src/parts/shadow-control.js";
import { useBrokerHarness } from "../helpers/broker-harness.js";
import { launchChromium } from "../helpers/browser.js";
import { writeCandidateModel } from "../helpers/candidate-model.js";
import { CLI, DaemonProcess, FOOTAGE, MODEL, SHIPPED_THRESHOLD, tempDir, writeConfig } from "../helpers/daemon.js";
import { TopicRecorder } from "../helpers/mosquitto.js";

const line = useBrokerHarness();
const TOKEN = "shadow-test-token-0123456789abcdef";
const { dirs, daemons, recorders } = line;

interface Health {
  frames: { decided: number };
  model: { shadow: ShadowReport | null };
}

describe("linesight run with a candidate in shadow (model.shadow.dir)", () => {
  it("reports it in health model.shadow over MQTT and on the live page, stores disagreements with both scores, lists them on the labeling page and exports them", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const candidate = writeCandidateModel(join(dir, "candidate"), {
      version: "1.1.0",
      threshold: 0.005,
      uncertainBand: 0,
    });
    const db = join(dir, "linesight.db");
    writeFileSync(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
    const cfg = {
      device: { id: "shadow-1" },
      camera: { replay: { path: FOOTAGE, fps: 30 } },
      model: { path: MODEL, shadow: { dir: candidate, samples_per_minute: 1000 } },
      storage: { path: db, audit_fraction: 0, store_rejects: false, store_uncertain: false },
      mqtt: { url: line.broker.url, health_interval_s: 1, publish_decisions: true },
      http: { port: 0, token_file: join(dir, "token") },
      log: { level: "info" },
    };
    // `linesight check` loads the candidate (the daemon would only log a broken one and go on).
    const configPath = writeConfig(dir, cfg);
    const checked = spawnSync(process.execPath, [CLI, "check", "--config", configPath], { encoding: "utf8" });
    expect(checked.stdout).toContain(`✓ shadow: candidate round-parts 1.1.0 (${candidate}) loads, threshold 0.005`);
    const broken = spawnSync(
      process.execPath,
      [
        CLI,
        "check",
        "--config",
        writeConfig(dir, { ...cfg, model: { path: MODEL, shadow: { dir: join(dir, "none") } } }),
      ],
      { encoding: "utf8" },
    );
    expect(broken.stdout).toMatch(/✗ shadow: .*none/);
    expect(broken.status).toBe(1);

    const rec = await TopicRecorder.start(line.broker.url, "linesight/shadow-1/#");
    recorders.push(rec);
    const d = new DaemonProcess(["run", "--config", writeConfig(dir, cfg)]);
    daemons.push(d);
    const up = await d.waitForLog((l) => l.msg === "operator page up", 30_000, "the operator page");

    // A health report after more than one pass over the 200 frames of footage.
    const msg = await rec.waitFor(
      (m) =>
        m.topic === "linesight/shadow-1/health" && ((JSON.parse(m.payload) as Health).model.shadow?.frames ?? 0) > 250,
      60_000,
      "health with the candidate past 250 frames",
    );
    const health = JSON.parse(msg.payload) as Health;
    const shadow = health.model.shadow as ShadowReport;
    const manifest = JSON.parse(readFileSync(join(candidate, "manifest.json"), "utf8"));
    expect(shadow.candidate).toEqual({ name: "round-parts", version: "1.1.0", sha256: manifest.sha256 });
    // It disagrees only one way, on a share of the frames; everything it saw is counted.
    expect(shadow.disagreements.candidate_passes).toBe(0);
    expect(shadow.disagreements.candidate_rejects).toBeGreaterThan(0);
    expect(shadow.agree + shadow.disagreements.candidate_rejects).toBe(shadow.frames);
    expect(shadow.agreement).toBeCloseTo(shadow.agree / shadow.frames, 4);
    expect(shadow.agreement).toBeGreaterThan(0.5);
    expect(shadow.frames + shadow.dropped).toBeLessThanOrEqual(health.frames.decided);
    expect(shadow.latency_ms.p50).toBeGreaterThan(0);
    expect(shadow.drift).toMatch(/^(ok|warn|alarm)$/);

    // Never acted on: every decision message is the active model's, at its threshold.
    const decisions = rec.messages
      .filter((m) => m.topic === "linesight/shadow-1/decision")
      .map((m) => JSON.parse(m.payload) as { model_version: string; threshold: number });
    expect(decisions.length).toBeGreaterThan(0);
    expect(new Set(decisions.map((x) => `${x.model_version}@${x.threshold}`))).toEqual(
      new Set([`1.0.0@${SHIPPED_THRESHOLD}`]),
    );

    // The live page says it in plain words.
    const live = (await (await fetch(`${up.url}api/live`)).json()) as {
      status: Record<string, { title: string; text: string }>;
    };
    expect(live.status.shadow?.title).toBe("Model on trial");
    expect(live.status.shadow?.text).toMatch(
      /^Trying model round-parts 1\.1\.0 beside the running one \(not acted on\)/,
    );

    // The labeling page lists the disagreements (filter by reason) and shows both models' scores.
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${up.url}label?reason=disagreement`);
      await page.fill("#login input[name=name]", "Quality Q");
      await page.fill("#login input[name=token]", TOKEN);
      await page.click("#login button");
      await page.locator("#login").waitFor({ state: "hidden" });
      const info = page.locator("#info");
      await info.locator("text=kept as disagreement").waitFor();
      await expect
        .poll(() => info.textContent())
        .toMatch(
          new RegExp(
            `Model: good 0\\.\\d{3} \\(threshold ${SHIPPED_THRESHOLD}\\) → pass[\\s\\S]*Model on trial: 0\\.\\d{3} \\(threshold 0\\.005\\) → reject · round-parts 1\\.1\\.0`,
          ),
        );
      expect(await page.locator("select[name=reason]").inputValue()).toBe("disagreement");
    } finally {
      await browser.close();
    }

    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);

    // Disagreements are samples with both models' decisions; a label makes one exportable.
    const sqlite = new Database(db);
    const rows = sqlite
      .prepare(
        "SELECT id, reason, action, score, threshold, candidate_version, candidate_score, candidate_threshold, candidate_action FROM samples",
      )
      .all() as Record<string, number | string>[];
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r).toMatchObject({
        reason: "disagreement",
        action: "pass",
        threshold: SHIPPED_THRESHOLD,
        candidate_version: "1.1.0",
        candidate_threshold: 0.005,
        candidate_action: "reject",
      });
      expect(r.candidate_score as number).toBeGreaterThanOrEqual(0.005);
      expect(r.candidate_score as number).toBeCloseTo(r.score as number, 3);
    }
    const first = rows[0] as { id: number; candidate_score: number };
    sqlite
      .prepare("INSERT INTO labels (sample_id, label, labeled_by, labeled_at) VALUES (?, 'good', 'ana', 1)")
      .run(first.id);
    sqlite.close();
    const csv = execFileSync(
      process.execPath,
      [CLI, "samples", "export", "--db", db, "--out", "-", "--format", "csv", "--reason", "disagreement"],
      { encoding: "utf8" },
    );
    const [header, row] = parseCsv(csv) as [string[], string[]];
    const cells = Object.fromEntries(header.map((h, i) => [h, row[i]]));
    expect(cells).toMatchObject({
      id: String(first.id),
      reason: "disagreement",
      label: "good",
      candidate_action: "reject",
    });
    expect(Number(cells.candidate_score)).toBe(first.candidate_score);
  });
});

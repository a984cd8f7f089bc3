// Checks a device makes before accepting a candidate model (session, compatibility, golden
// frames, latency), the install command that runs them into the store, and the gate refusing
// a deliberately worse model with the numbers.
import { spawnSync } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import { extractBundle, verifyBundle } from "../../src/model/bundle.js";
import { packBundle } from "../../src/model/bundle-pack.js";
import { bufferSource } from "../../src/model/byte-source.js";
import { type CandidateCheckOptions, CandidateRefusedError, checkCandidate } from "../../src/model/candidate-check.js";
import { selectGolden } from "../../src/model/golden.js";
import { type Manifest, parseManifest } from "../../src/model/manifest.js";
import { generateKeyPair, loadPrivateKey, loadPublicKey } from "../../src/model/signing.js";
import { csvLine } from "../../src/store/sample-export.js";
import { rebuild, withManifest } from "../helpers/bundles.js";
import { CLI, DaemonProcess, FOOTAGE, MODEL } from "../helpers/daemon.js";

let dir: string;
let key: KeyObject;
let pub: string;
let bundle: Buffer;
let shipped: Manifest;
const MAX = 64 * 1048576;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "linesight-candidate-"));
  const k = await generateKeyPair(dir, "release");
  pub = k.publicPath;
  key = await loadPrivateKey(k.privatePath);
  const out = join(dir, "rp.lsm");
  await packBundle({ modelDir: MODEL, out, privateKey: key, golden: selectGolden(await readLabelledDir(FOOTAGE), 6) });
  bundle = readFileSync(out);
  shipped = parseManifest(JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8")), "manifest.json");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function check(b: Buffer, over: Partial<CandidateCheckOptions> = {}) {
  const verified = await verifyBundle(bufferSource(b), {
    trust: { keys: [await loadPublicKey(pub)], allowUnsigned: false },
    maxBytes: MAX,
  });
  const target = join(dir, `x-${n++}`);
  await extractBundle(verified, target);
  return checkCandidate(target, verified.index.golden, {
    threads: 1,
    goldenTolerance: 0.02,
    latencyBudgetMs: 1000,
    active: shipped,
    cameraRegion: { width: 640, height: 480 },
    ...over,
  });
}

async function refusal(b: Buffer, over: Partial<CandidateCheckOptions> = {}): Promise<CandidateRefusedError> {
  const err = await check(b, over).catch((e: unknown) => e);
  if (err instanceof CandidateRefusedError) return err;
  throw new Error(`expected a refusal, got ${err instanceof Error ? err.stack : JSON.stringify(err)}`);
}

describe("candidate checks on this device", () => {
  it("pass for the shipped model: golden frames reproduce, latency measured", async () => {
    const r = await check(bundle);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ["compatibility", true],
      ["session", true],
      ["golden", true],
      ["latency", true],
    ]);
    expect(r.golden).toHaveLength(6);
    // Not bit-exact even on one machine (int8 kernels), hence model.golden_tolerance.
    for (const g of r.golden) expect(g.difference).toBeLessThanOrEqual(1e-3);
    expect(r.latencyMs?.runs).toBe(30);
    expect(r.latencyMs?.median).toBeGreaterThan(0);
  });

  it("refuse golden frames that do not reproduce, naming them and both scores", async () => {
    const wrong = await rebuild(bundle, key, (index) => {
      const g = (index.golden as { score: number }[])[1] as { score: number };
      g.score = g.score > 0.5 ? g.score - 0.3 : g.score + 0.3;
    });
    const err = await refusal(wrong);
    expect(err.code).toBe("golden");
    expect(err.message).toMatch(
      /1 of 6 golden frames score differently on this device than when packed \(model\.golden_tolerance 0\.02\): golden\/\S+ [\d.]+ vs [\d.]+/,
    );
    expect(err.report.golden.filter((g) => !g.ok)).toHaveLength(1);
  });

  it("refuse a model whose input shape does not fit its manifest", async () => {
    const wrong = await withManifest(bundle, key, (m) => {
      (m.input as { shape: number[] }).shape = [1, 3, 224, 224];
    });
    const err = await refusal(wrong);
    expect(err.code).toBe("session");
    expect(err.message).toMatch(
      /manifest input\.shape is \[1, 3, 224, 224\] but the model's "image" is \[1, 3, 120, 160\]/,
    );
  });

  it("refuse a model that decides other labels or wants more pixels than the camera gives", async () => {
    const relabelled = await withManifest(bundle, key, (m) => {
      m.labels = ["ok", "scrap"];
      m.positive_label = "scrap";
    });
    const err = await refusal(relabelled);
    expect(err.code).toBe("incompatible");
    expect(err.message).toMatch(
      /decides \[ok, scrap\] \(reject on "scrap"\) but the active model decides \[good, defect\]/,
    );
    const small = await refusal(bundle, { cameraRegion: { width: 120, height: 90 } });
    expect(small.message).toMatch(
      /input is 160x120 but the camera gives the model 120x90 \(camera\.roi or the capture size\)/,
    );
  });

  it("refuse a model slower than the latency budget", async () => {
    const err = await refusal(bundle, { latencyBudgetMs: 0.001 });
    expect(err.code).toBe("latency");
    expect(err.message).toMatch(/median inference [\d.]+ ms on this device is over model\.latency_budget_ms 0\.001/);
  });
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, "model", ...args], { encoding: "utf8", timeout: 120_000 });
}

describe("linesight model install|status|promote|rollback", () => {
  it("installs from a config's store and trusted keys, refuses with the reason, promotes and rolls back", async () => {
    const store = join(dir, "store");
    const config = join(dir, "linesight.yaml");
    writeFileSync(
      config,
      stringify({
        device: { id: "line-1" },
        model: { path: MODEL, store, trusted_keys: [pub], latency_budget_ms: 1000 },
      }),
    );
    const v1 = join(dir, "v1.lsm");
    const v2 = join(dir, "v2.lsm");
    const bad = join(dir, "bad.lsm");
    writeFileSync(v1, bundle);
    const { versioned } = await import("../helpers/bundles.js");
    writeFileSync(v2, await versioned(bundle, key, "1.1.0"));
    writeFileSync(
      bad,
      await versioned(
        await rebuild(bundle, key, (i) => {
          (i.golden as { score: number }[]).forEach((g) => {
            g.score = g.score > 0.5 ? 0 : 1;
          });
        }),
        key,
        "1.2.0",
      ),
    );

    const first = cli("install", v1, "--config", config);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^round-parts@1\.0\.0 installed as active \(signed by key [0-9a-f]{16}\)/);
    expect(first.stdout).toMatch(/ok {3}golden: 6 golden frames reproduce/);
    const second = cli("install", v2, "--config", config);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/round-parts@1\.1\.0 installed as candidate/);
    const refused = cli("install", bad, "--config", config);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /^refused \(golden\): candidate refused \(golden\): 6 of 6 golden frames score differently/,
    );
    expect(refused.stderr).toMatch(/FAIL golden:/);
    const p = cli("promote", "--config", config);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^active: round-parts@1\.1\.0 {3}previous: round-parts@1\.0\.0 {3}candidate: none/);
    // Rollback protection: the older bundle again is refused, unless a downgrade is asked for.
    const old = cli("install", v1, "--config", config);
    expect(old.status).toBe(1);
    expect(old.stderr).toMatch(/^refused \(downgrade\): version 1\.0\.0 is older than the active model's 1\.1\.0/);
    const downgrade = cli("install", v1, "--config", config, "--allow-downgrade");
    expect(downgrade.status, downgrade.stderr).toBe(0);
    expect(downgrade.stdout).toMatch(/^round-parts@1\.0\.0 was already installed; it is candidate/);
    const status = JSON.parse(cli("status", "--config", config, "--json").stdout);
    expect(status).toMatchObject({
      active: "round-parts@1.1.0",
      previous: "round-parts@1.0.0",
      candidate: "round-parts@1.0.0",
    });
    const rb = cli("rollback", "--config", config);
    expect(rb.status, rb.stderr).toBe(0);
    expect(rb.stdout).toMatch(/^active: round-parts@1\.0\.0 {3}previous: none/);
    const again = cli("rollback", "--config", config);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/there is no previous model to roll back to/);

    // `linesight check` loads the store's active version and re-verifies every recorded one.
    const checkConfig = join(dir, "check.yaml");
    writeFileSync(
      checkConfig,
      stringify({
        device: { id: "line-1" },
        camera: { replay: { path: FOOTAGE } },
        model: { path: MODEL, store, trusted_keys: [pub] },
        storage: { path: join(dir, "db", "linesight.db") },
        http: { enabled: false },
      }),
    );
    const check = () => spawnSync(process.execPath, [CLI, "check", "--config", checkConfig], { encoding: "utf8" });
    const ok = check();
    expect(ok.status, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/✓ model: round-parts 1\.0\.0 \(round-parts@1\.0\.0 from the store /);
    expect(ok.stdout).toMatch(/✓ model store: .*2 version\(s\) verified; active round-parts@1\.0\.0/);
    const card = join(store, "versions", "round-parts@1.1.0", "MODEL_CARD.md");
    writeFileSync(card, "changed on the device");
    const broken = check();
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(
      /✗ model store: .*\n {4}round-parts@1\.1\.0: .*MODEL_CARD\.md does not match its index/,
    );
  });

  it("starts the daemon on the store's active version, not on model.path", async () => {
    const store = join(dir, "store-run");
    const config = join(dir, "run.yaml");
    writeFileSync(
      config,
      stringify({
        device: { id: "line-2" },
        camera: { replay: { path: FOOTAGE, fps: 20 } },
        model: { path: MODEL, store, trusted_keys: [pub], latency_budget_ms: 1000 },
        storage: { path: join(dir, "run-db", "linesight.db") },
        mqtt: { url: "mqtt://127.0.0.1:1", health_interval_s: 60 },
        http: { enabled: false },
      }),
    );
    const { versioned } = await import("../helpers/bundles.js");
    writeFileSync(join(dir, "run-v1.lsm"), bundle);
    writeFileSync(join(dir, "run-v2.lsm"), await versioned(bundle, key, "1.1.0"));
    for (const args of [["install", join(dir, "run-v1.lsm")], ["install", join(dir, "run-v2.lsm")], ["promote"]]) {
      const r = cli(...args, "--config", config);
      expect(r.status, r.stderr).toBe(0);
    }
    const d = new DaemonProcess(["run", "--config", config]);
    try {
      const loaded = await d.waitForLog((l) => l.msg === "model loaded", 30_000, "model loaded");
      expect(loaded).toMatchObject({ name: "round-parts", version: "1.1.0", from: "round-parts@1.1.0" });
      await d.waitForLog((l) => l.msg === "ready: first frame decided", 30_000, "the first decision");
    } finally {
      d.kill();
      expect(await d.exited).toBe(0);
    }
  });

  it("without a store says how to give one", () => {
    const r = cli("status");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs --store DIR, or model\.store in the configuration/);
  });
});

describe("linesight model gate", () => {
  it("refuses a deliberately worse model (the shipped one with its threshold pushed far up) with the numbers", () => {
    const worse = join(dir, "worse");
    cpSync(MODEL, worse, { recursive: true });
    const m = JSON.parse(readFileSync(join(worse, "manifest.json"), "utf8"));
    m.version = "1.1.0";
    m.decision.threshold = 0.999999;
    writeFileSync(join(worse, "manifest.json"), JSON.stringify(m, null, 2));
    const r = cli("gate", worse, "--active", MODEL, "--data", FOOTAGE, "--json");
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      active_model: "round-parts@1.0.0",
      candidate_model: "round-parts@1.1.0",
      verdict: "refuse",
    });
    expect(report.labels).toMatchObject({ defects: 80, good: 120, missing_defects: 0, missing_good: 0 });
    // The candidate misses defects the active model catches, and the test says it is no accident.
    expect(report.candidate.missed_defects).toBeGreaterThan(report.active.missed_defects + 3);
    expect(report.missed_defects.only_active_wrong).toBe(0);
    expect(report.missed_defects.p_worse).toBeLessThan(0.05);
    expect(report.reasons.join("\n")).toMatch(
      /the candidate misses [\d.]+% of defects .* over the margin of 0\.50 points \(model\.gate\.max_missed_defect_increase: 0\.005\)/,
    );
    expect(report.reasons.join("\n")).toMatch(/significantly worse on defects \(McNemar exact/);

    // The same model passes, here on a folder shaped like `linesight samples export` output:
    // a folder per label, manifest.csv with quoted fields, defects labeled by their kind.
    const exported = join(dir, "export");
    const rows = [csvLine(["id", "file", "label", "labeled_by", "reason"])];
    for (const [i, line] of readFileSync(join(FOOTAGE, "labels.csv"), "utf8").trim().split("\n").slice(1).entries()) {
      const [file, , kind] = line.split(",") as [string, string, string];
      mkdirSync(join(exported, kind), { recursive: true });
      cpSync(join(FOOTAGE, file), join(exported, kind, `${i}.jpg`));
      rows.push(csvLine([i, `${kind}/${i}.jpg`, kind, "Ann, shift 2", "audit"]));
    }
    writeFileSync(join(exported, "manifest.csv"), rows.join(""));
    const same = cli("gate", MODEL, "--active", MODEL, "--data", exported);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^gate: PASS \(80 labeled defects, 120 good parts/);
  });
});

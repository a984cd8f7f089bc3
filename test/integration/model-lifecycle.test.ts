// Models changing on a running device (docs/models.md): the built daemon with a model store and a
// real Mosquitto; bundles installed over MQTT (good, worse, broken, oversized, unknown key, two at
// once), the gate on the device's own labeled samples refusing a worse model with the numbers,
// forced promotion between two frames, rollback by hand and by probation, and the restart loop
// that makes the daemon start on `previous`.

import { execFile } from "node:child_process";
import { createHash, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { connect, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import { packBundle } from "../../src/model/bundle-pack.js";
import { bufferSource } from "../../src/model/byte-source.js";
import { selectGolden } from "../../src/model/golden.js";
import { ModelStore } from "../../src/model/model-store.js";
import { generateKeyPair, loadPrivateKey, loadPublicKey } from "../../src/model/signing.js";
import { commandReplyPayloadSchema, parseWirePayload } from "../../src/mqtt/payload-schemas.js";
import type { CommandReplyPayload, ModelPayload } from "../../src/mqtt/payloads.js";
import { withManifest } from "../helpers/bundles.js";
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
import { Mosquitto, type RecordedMessage, TopicRecorder } from "../helpers/mosquitto.js";
import { freePort } from "../helpers/ports.js";

const run = promisify(execFile);
const ID = "lifecycle-1";
const PREFIX = `linesight/${ID}`;
const GROUP = "linesight/lifecycle-fleet";

let broker: Mosquitto;
let dir: string;
let storeDir: string;
let dbPath: string;
let configPath: string;
let daemon: DaemonProcess | undefined;
let rec: TopicRecorder;
let client: MqttClient;
let key: KeyObject;
let shipped: Buffer;
let httpPort: number;
/** The footage's ground truth by the sha256 of each frame's JPEG (a sample's image is those bytes). */
const truth = new Map<string, string>();

const reply = (m: RecordedMessage) => JSON.parse(m.payload) as CommandReplyPayload;
const body = (m: RecordedMessage) => JSON.parse(m.payload) as Record<string, unknown>;
const events = (type: string) => rec.messages.filter((m) => m.topic === `${PREFIX}/event` && body(m).type === type);

let counter = 0;
async function request(name: string, args: Record<string, unknown> = {}, base = PREFIX, timeoutMs = 60_000) {
  const id = `lc-${++counter}`;
  await client.publishAsync(`${base}/cmd/${name}`, JSON.stringify({ id, ...args }), { qos: 1 });
  const m = await rec.waitFor(
    (x) => x.topic === `${PREFIX}/cmd/${name}/reply` && reply(x).id === id,
    timeoutMs,
    `the reply to ${name} ${id}`,
  );
  const r = reply(m);
  expect(commandReplyPayloadSchema.safeParse(r).success, m.payload).toBe(true);
  return r;
}

/** Sends a bundle's raw bytes (what `mosquitto_pub -f FILE.lsm` does) and resolves with the next install reply. */
async function install(bytes: Buffer) {
  const isReply = (x: RecordedMessage) => x.topic === `${PREFIX}/cmd/model_install/reply`;
  const before = rec.messages.filter(isReply).length;
  await client.publishAsync(`${PREFIX}/cmd/model_install`, bytes, { qos: 1 });
  await rec.waitFor(() => rec.messages.filter(isReply).length > before, 60_000, "a model_install reply");
  return reply(rec.messages.filter(isReply)[before] as RecordedMessage);
}

const errorCode = (r: CommandReplyPayload) => (r.ok ? "ok" : r.error.code);
const modelTopic = () =>
  JSON.parse(
    (rec.messages.filter((m) => m.topic === `${PREFIX}/model`).at(-1) as RecordedMessage).payload,
  ) as ModelPayload;

/** The model section every daemon of this file runs with. */
const modelConfig = () => ({
  path: MODEL,
  store: storeDir,
  trusted_keys: [join(dir, "release.pub")],
  latency_budget_ms: 1000,
  max_bundle_mb: 1,
  gate: { min_defects: 30, min_good: 100 },
  probation: { duration_s: 120, min_frames: 60, max_restarts: 2 },
});

function startDaemon(over: Record<string, unknown> = {}) {
  const config = {
    device: { id: ID, site: "plant-a", line: "7" },
    camera: { replay: { path: FOOTAGE, fps: 60 } },
    model: modelConfig(),
    // Every frame kept as an audit sample: the test labels them as an operator would.
    storage: { path: dbPath, audit_fraction: 1 },
    mqtt: { url: broker.url, health_interval_s: 1, group_prefix: GROUP },
    // The bundled footage is 40% defects: the expected reject rate the probation compares with.
    drift: { defect_prevalence: 0.4 },
    log: { level: "info" },
    // The operator's live view shows the last gate's verdict.
    http: { enabled: true, host: "127.0.0.1", port: httpPort },
    ...over,
  };
  configPath = writeConfig(dir, config);
  daemon = new DaemonProcess(["run", "--config", configPath]);
  return daemon;
}

async function running(d: DaemonProcess) {
  await d.waitForLog((l) => l.msg === "listening for commands", 60_000, "listening for commands");
}

/** A version of the shipped model whose manifest threshold is `threshold`. */
const variant = (version: string, threshold: number, signer: KeyObject | null = key) =>
  withManifest(shipped, signer, (manifest, index) => {
    manifest.version = version;
    index.version = version;
    (manifest.decision as { threshold: number }).threshold = threshold;
  });

beforeAll(async () => {
  broker = await Mosquitto.start();
  httpPort = await freePort();
  dir = tempDir("linesight-lifecycle-");
  storeDir = join(dir, "models");
  dbPath = join(dir, "linesight.db");
  const k = await generateKeyPair(dir, "release");
  key = await loadPrivateKey(k.privatePath);
  const out = join(dir, "rp.lsm");
  const frames = await readLabelledDir(FOOTAGE);
  await packBundle({ modelDir: MODEL, out, privateKey: key, golden: selectGolden(frames, 6) });
  shipped = readFileSync(out);
  for (const f of frames) truth.set(createHash("sha256").update(readFileSync(f.path)).digest("hex"), f.label);
  // The model running today, installed first: it becomes the store's active version.
  const store = await ModelStore.open(storeDir, { keep: 5 });
  await store.install(bufferSource(shipped), {
    trust: { keys: [await loadPublicKey(k.publicPath)], allowUnsigned: false },
    maxBytes: 64 << 20,
  });
  rec = await TopicRecorder.start(broker.url, `${PREFIX}/#`);
  client = connect(broker.url, { clientId: `lifecycle-client-${process.pid}` });
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  await running(startDaemon());
}, 120_000);

afterAll(async () => {
  daemon?.kill("SIGKILL");
  await client?.endAsync(true);
  await rec?.close();
  await broker?.dispose();
  if (dir) cleanup(dir);
});

describe("the model lifecycle on a running daemon", () => {
  it("reports the store over model_status (also on the group topic) and the retained model topic", async () => {
    const r = await request("model_status", {}, GROUP);
    expect(r.ok && r.result).toMatchObject({
      store: { active: "round-parts@1.0.0", previous: null, candidate: null },
      running: "round-parts@1.0.0",
      probation: null,
    });
    await rec.waitFor((m) => m.topic === `${PREFIX}/model`, 10_000, "the model topic");
    const m = rec.messages.find((x) => x.topic === `${PREFIX}/model`) as RecordedMessage;
    expect(parseWirePayload("model", m.payload).success, m.payload).toBe(true);
  });

  it("the CLI talks to the running daemon: status, install, discard; --offline reads the store", async () => {
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, "model", ...args, "--config", configPath]);
        return { code: 0, out: stdout + stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, out: e.stdout + e.stderr };
      }
    };
    expect(await cli("status")).toMatchObject({ code: 0, out: expect.stringMatching(/running: round-parts@1\.0\.0/) });
    const file = join(dir, "cli-1.0.1.lsm");
    writeFileSync(file, await variant("1.0.1", SHIPPED_THRESHOLD));
    const installed = await cli("install", file);
    expect(installed).toMatchObject({
      code: 0,
      out: expect.stringMatching(/running daemon: round-parts@1\.0\.1 installed as candidate/),
    });
    expect(body(events("model_installed").at(-1) as RecordedMessage).message).toMatch(/round-parts@1\.0\.1/);
    expect(await cli("discard")).toMatchObject({
      code: 0,
      out: expect.stringMatching(/discarded round-parts@1\.0\.1/),
    });
    expect(await cli("rollback")).toMatchObject({ code: 1, out: expect.stringMatching(/refused \(no_previous\)/) });
    expect(await cli("status", "--offline")).toMatchObject({
      code: 0,
      out: expect.stringMatching(/active: round-parts@1\.0\.0 +previous: none +candidate: none/),
    });
  }, 120_000);

  it("refuses promote with no candidate and rollback with no previous, with reason codes", async () => {
    expect(errorCode(await request("model_promote"))).toBe("no_candidate");
    expect(errorCode(await request("model_rollback"))).toBe("no_previous");
    expect(errorCode(await request("model_discard"))).toBe("no_candidate");
  });

  it("refuses a truncated, a corrupt, an oversized and an unknown key's bundle and a wrong input shape, each with a code and an event", async () => {
    const worse = await variant("1.1.0", 0.999999);
    expect(errorCode(await install(worse.subarray(0, worse.length - 3000)))).toBe("truncated");
    const corrupt = Buffer.from(worse);
    corrupt.fill(0x41, 100, 140); // inside the first tar header: its checksum no longer holds
    expect(errorCode(await install(corrupt))).toBe("corrupt");
    const huge = await install(Buffer.alloc(2 * 1048576, 7));
    expect(errorCode(huge)).toBe("too_large");
    expect(!huge.ok && huge.error.message).toMatch(/model\.max_bundle_mb/);
    const stranger = await loadPrivateKey((await generateKeyPair(dir, "stranger")).privatePath);
    expect(errorCode(await install(await variant("1.1.0", 0.999999, stranger)))).toBe("unknown_key");
    // A model whose input shape does not fit its manifest: the device's session check.
    const shape = await withManifest(worse, key, (m) => {
      (m.input as { shape: number[] }).shape = [1, 3, 240, 320];
    });
    const wrongShape = await install(shape);
    expect(errorCode(wrongShape)).toBe("session");
    expect(!wrongShape.ok && wrongShape.error.message).toMatch(/manifest input\.shape is \[1, 3, 240, 320\]/);
    await rec.waitFor(() => events("model_refused").length >= 4, 10_000, "model_refused events");
    expect(events("model_refused").map((m) => (body(m).data as { code: string }).code)).toEqual(
      expect.arrayContaining(["truncated", "corrupt", "unknown_key", "session"]),
    );
    const status = await request("model_status");
    expect(status.ok && status.result).toMatchObject({ store: { candidate: null } });
  }, 120_000);

  it("refuses a candidate whose golden frames do not reproduce on the device, with the checks in the event", async () => {
    // The device checks run in a worker thread; the refusal must come back as it would in-thread.
    const wrong = await withManifest(shipped, key, (manifest, index) => {
      manifest.version = "1.0.5";
      index.version = "1.0.5";
      const g = (index.golden as { score: number }[])[1] as { score: number };
      g.score = g.score > 0.5 ? g.score - 0.3 : g.score + 0.3;
    });
    const before = events("model_refused").length;
    const r = await install(wrong);
    expect(errorCode(r)).toBe("golden");
    expect(!r.ok && r.error.message).toMatch(/1 of 6 golden frames score differently on this device than when packed/);
    await rec.waitFor(() => events("model_refused").length > before, 10_000, "the model_refused event");
    const data = body(events("model_refused").at(-1) as RecordedMessage).data as {
      code: string;
      checks: { name: string; ok: boolean }[];
    };
    expect(data.code).toBe("golden");
    expect(data.checks.map((c) => [c.name, c.ok])).toEqual([
      ["compatibility", true],
      ["session", true],
      ["golden", false],
    ]);
    const status = await request("model_status");
    expect(status.ok && status.result).toMatchObject({ store: { candidate: null } });
  }, 120_000);

  it("takes one install at a time: the second sent at once is refused as busy", async () => {
    const [a, b] = await Promise.all([variant("1.1.0", 0.999999), variant("1.2.0", 0.9)]);
    const isReply = (x: RecordedMessage) => x.topic === `${PREFIX}/cmd/model_install/reply`;
    const before = rec.messages.filter(isReply).length;
    await Promise.all([
      client.publishAsync(`${PREFIX}/cmd/model_install`, a, { qos: 1 }),
      client.publishAsync(`${PREFIX}/cmd/model_install`, b, { qos: 1 }),
    ]);
    await rec.waitFor(() => rec.messages.filter(isReply).length >= before + 2, 60_000, "two install replies");
    const codes = rec.messages.filter(isReply).slice(before).map(reply).map(errorCode).sort();
    expect(codes).toEqual(["busy", "ok"]);
    // Whichever won is the candidate; make it the worse one for what follows.
    const again = await install(a);
    expect(again.ok && again.result).toMatchObject({ installed: "round-parts@1.1.0", role: "candidate" });
  }, 120_000);

  it("the gate on the device's labeled samples refuses the worse model with the numbers", async () => {
    // The operator's labels, from the footage's ground truth (matched by the frame's bytes).
    const db = new Database(dbPath);
    try {
      const start = Date.now();
      for (;;) {
        const n = (db.prepare("SELECT count(*) AS n FROM samples").get() as { n: number }).n;
        if (n >= 400) break;
        if (Date.now() - start > 60_000) throw new Error(`only ${n} samples stored`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const rows = db.prepare("SELECT id, image FROM samples").all() as { id: number; image: Buffer }[];
      const add = db.prepare("INSERT INTO labels (sample_id, label, labeled_by, labeled_at) VALUES (?, ?, 'test', ?)");
      let labeled = 0;
      for (const r of rows) {
        const label = truth.get(createHash("sha256").update(r.image).digest("hex"));
        if (label) {
          add.run(r.id, label, Date.now());
          labeled++;
        }
      }
      expect(labeled).toBe(rows.length);
    } finally {
      db.close();
    }
    const refused = await request("model_promote", {}, PREFIX, 120_000);
    expect(errorCode(refused)).toBe("gate_refused");
    expect(!refused.ok && refused.error.message).toMatch(/misses .*% of defects .* points worse/);
    const gate = modelTopic().gate as NonNullable<ModelPayload["gate"]>;
    expect(gate).toMatchObject({
      verdict: "refuse",
      active_model: "round-parts@1.0.0",
      candidate_model: "round-parts@1.1.0",
    });
    expect(gate.candidate.missed_defects).toBeGreaterThan(gate.active.missed_defects);
    expect(gate.missed_defects.p_worse).toBeLessThan(0.05);
    expect(gate.samples.used).toBeGreaterThanOrEqual(400);
    const stored = JSON.parse(readFileSync(join(storeDir, "gate-report.json"), "utf8"));
    expect(stored.verdict).toBe("refuse");
    expect(events("model_gate").at(-1) && body(events("model_gate").at(-1) as RecordedMessage).severity).toBe(
      "warning",
    );
    // Still the old model.
    expect(modelTopic().running).toBe("round-parts@1.0.0");
    // The operator sees it on the live view, in plain words with the numbers.
    const live = async () =>
      (
        (await (await fetch(`http://127.0.0.1:${httpPort}/api/live`)).json()) as {
          status: { gate?: { light: string; text: string } };
        }
      ).status.gate;
    await expect.poll(live, { timeout: 10_000 }).toMatchObject({ light: "warn" });
    expect((await live())?.text).toMatch(
      /^Refused: round-parts@1\.1\.0 against round-parts@1\.0\.0 on \d+ labeled parts: misses [\d.]+% of defects \(now [\d.]+%\)/,
    );
  }, 180_000);

  it("a forced promotion swaps between two frames to shadow's loaded session and says so; rollback by command goes back to the kept one", async () => {
    const r = await request("model_promote", { force: true });
    expect(r.ok && r.result).toMatchObject({ promoted: "round-parts@1.1.0", forced: true });
    const ev = body(events("model_promoted").at(-1) as RecordedMessage);
    expect(ev.message).toMatch(/from round-parts@1\.0\.0 to round-parts@1\.1\.0 .*FORCED/);
    // Shadow mode had the candidate loaded: its session decides now, no new one was created.
    expect(ev.data).toMatchObject({ session_reused: true });
    const t = Date.now();
    const decision = await rec.waitFor(
      (m) => m.topic === `${PREFIX}/decision` && m.at > t && body(m).model_version === "1.1.0",
      10_000,
      "a decision by 1.1.0",
    );
    // After the first decision by the new model, none by the old one.
    await new Promise((res) => setTimeout(res, 500));
    const later = rec.messages.filter((m) => m.topic === `${PREFIX}/decision` && m.at > decision.at);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((m) => body(m).model_version === "1.1.0")).toBe(true);
    expect(modelTopic()).toMatchObject({
      store: { active: "round-parts@1.1.0", previous: "round-parts@1.0.0" },
      probation: { id: "round-parts@1.1.0", status: "watching" },
    });
    const back = await request("model_rollback");
    expect(back.ok && back.result).toMatchObject({ rolled_back_to: "round-parts@1.0.0", probation: null });
    const rolled = body(events("model_rolled_back").at(-1) as RecordedMessage);
    expect(rolled.message).toMatch(/by command/);
    // During probation the replaced model stays loaded: the rollback reuses it.
    expect(rolled.data).toMatchObject({ session_reused: true });
  }, 120_000);

  it("probation rolls back on its own when the reject rate goes bad", async () => {
    // Without its reference statistics the model expects the reject rate of its operating points
    // (about 2%, the training data's prevalence); this line rejects about 40%.
    const unreferenced = await withManifest(shipped, key, (manifest, index) => {
      manifest.version = "1.3.0";
      index.version = "1.3.0";
      delete manifest.reference;
    });
    expect(errorCode(await install(unreferenced))).toBe("ok");
    expect(errorCode(await request("model_promote", { force: true }))).toBe("ok");
    const ev = await rec.waitFor(
      (m) =>
        m.topic === `${PREFIX}/event` &&
        body(m).type === "model_rolled_back" &&
        /probation/.test(String(body(m).message)),
      60_000,
      "an automatic rollback",
    );
    expect(body(ev).severity).toBe("warning");
    expect(body(ev).message).toMatch(/reject rate .* expected/);
    await rec.waitFor(
      (m) => m.topic === `${PREFIX}/model` && m.at >= ev.at && (body(m).running as string) === "round-parts@1.0.0",
      10_000,
      "the model topic after the rollback",
    );
    expect(modelTopic()).toMatchObject({ store: { active: "round-parts@1.0.0", previous: null }, probation: null });
  }, 120_000);

  it("after max_restarts starts during probation the daemon starts on previous; kill -9 leaves an intact store", async () => {
    expect(errorCode(await install(await variant("1.4.0", SHIPPED_THRESHOLD)))).toBe("ok");
    expect(errorCode(await request("model_promote", { force: true }))).toBe("ok");
    // Killed mid-change, then started again three times: starts 1 and 2 are counted, the third rolls back.
    for (let i = 1; i <= 3; i++) {
      daemon?.kill("SIGKILL");
      await daemon?.exited;
      const d = startDaemon();
      await running(d);
      if (i < 3) expect(d.logs.some((l) => String(l.probation ?? "").includes(`start ${i} of at most 2`))).toBe(true);
    }
    const d = daemon as DaemonProcess;
    expect(d.logs.some((l) => /rolled back: the daemon started 3 times/.test(String(l.probation ?? "")))).toBe(true);
    const store = await ModelStore.open(storeDir, { keep: 5 });
    expect(store.state.active).toBe("round-parts@1.0.0");
    expect((await store.verify(null)).problems).toEqual([]);
    expect(readdirSync(join(storeDir, ".staging"))).toEqual([]);
  }, 180_000);

  it("kill -9 in the middle of a promotion leaves the old or the new model, and a clean start on it", async () => {
    expect(errorCode(await install(await variant("1.5.0", SHIPPED_THRESHOLD)))).toBe("ok");
    for (const delayMs of [0, 30, 120]) {
      const s = (await ModelStore.open(storeDir, { keep: 5 })).state;
      if (!s.candidate) expect(errorCode(await install(await variant("1.5.0", SHIPPED_THRESHOLD)))).toBe("ok");
      await client.publishAsync(`${PREFIX}/cmd/model_promote`, JSON.stringify({ force: true }), { qos: 1 });
      await new Promise((r) => setTimeout(r, delayMs));
      daemon?.kill("SIGKILL");
      await daemon?.exited;
      const store = await ModelStore.open(storeDir, { keep: 5 });
      expect(await store.verify(null)).toMatchObject({ ok: true, problems: [] });
      expect(["round-parts@1.0.0", "round-parts@1.5.0"]).toContain(store.state.active);
      expect(readdirSync(join(storeDir, ".staging"))).toEqual([]);
      const d = startDaemon();
      await running(d);
      await rec.waitFor(
        (m) =>
          m.topic === `${PREFIX}/model` &&
          (body(m).running as string) === store.state.active &&
          (body(m).store as { active: string }).active === store.state.active,
        20_000,
        "the restarted daemon on the store's active model",
      );
      if (store.state.active === "round-parts@1.5.0") {
        expect(errorCode(await request("model_rollback"))).toBe("ok");
        expect(errorCode(await install(await variant("1.5.0", SHIPPED_THRESHOLD)))).toBe("ok");
      }
    }
  }, 240_000);

  it("promotes on its own once shadow mode's criteria hold and the gate passes", async () => {
    daemon?.kill("SIGKILL");
    await daemon?.exited;
    const base = (await ModelStore.open(storeDir, { keep: 5 })).state;
    const d = startDaemon({
      model: {
        ...modelConfig(),
        auto_promote: { enabled: true, min_frames: 120, min_agreement: 0.95, check_interval_s: 1 },
      },
    });
    await running(d);
    if (base.candidate) expect(errorCode(await request("model_discard"))).toBe("ok");
    const t = Date.now();
    // The same weights and threshold as the running model: it agrees on every frame and the gate
    // (on the labels of the test above) finds it no worse.
    expect(errorCode(await install(await variant("1.6.0", SHIPPED_THRESHOLD)))).toBe("ok");
    const promoted = await rec.waitFor(
      (m) => m.topic === `${PREFIX}/event` && m.at > t && body(m).type === "model_promoted",
      90_000,
      "an automatic promotion",
    );
    expect(body(promoted).message).toMatch(
      /to round-parts@1\.6\.0 \(automatic: \d+ shadow frames, agreement 100\.00%; gate passed\)/,
    );
    expect(body(promoted).data).toMatchObject({ forced: false, session_reused: true });
    const gate = events("model_gate").filter((m) => m.at > t);
    expect(gate.length).toBeGreaterThan(0);
    expect(body(gate.at(-1) as RecordedMessage).message).toMatch(/^Gate passed/);
    await rec.waitFor(
      (m) => m.topic === `${PREFIX}/decision` && m.at > promoted.at && body(m).model_version === "1.6.0",
      10_000,
      "a decision by the promoted model",
    );
    expect(modelTopic()).toMatchObject({ store: { active: "round-parts@1.6.0" }, probation: { status: "watching" } });
  }, 180_000);
});

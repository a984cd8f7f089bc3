// The built daemon as systemd runs it, against a real Mosquitto, a real notify socket and a real
// SQLite file: what a fleet manager and an ML engineer would see.

import { createHash } from "node:crypto";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { useBrokerHarness } from "../helpers/broker-harness.js";
import { DaemonProcess, FOOTAGE, MODEL, NotifySocket, tempDir, writeConfig } from "../helpers/daemon.js";
import { Mosquitto, TopicRecorder } from "../helpers/mosquitto.js";

const line = useBrokerHarness();
const { dirs, daemons, recorders } = line;

function config(dir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device: { id: "line-7", site: "plant-a", line: "7" },
    camera: { replay: { path: FOOTAGE, fps: 30 } },
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db"), audit_fraction: 0.1 },
    mqtt: { url: line.broker.url, health_interval_s: 1 },
    log: { level: "info" },
    ...over,
  };
}

function start(dir: string, cfg: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const d = new DaemonProcess(["run", "--config", writeConfig(dir, cfg)], env);
  daemons.push(d);
  return d;
}

function newDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

describe("linesight run", () => {
  it("inspects, reports over MQTT, stores samples, tells systemd, and stops cleanly", async () => {
    const dir = newDir();
    const rec = await TopicRecorder.start(line.broker.url, "linesight/line-7/#");
    recorders.push(rec);
    const notify = new NotifySocket(join(dir, "notify.sock"));
    const d = start(dir, config(dir), { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: "400000", WATCHDOG_PID: "" });

    await notify.waitFor("READY=1");
    await rec.waitFor((m) => m.topic === "linesight/line-7/status" && m.payload === "online");
    // Retained: a subscriber that arrives later still gets it (a live delivery is never flagged).
    const late = await TopicRecorder.start(line.broker.url, "linesight/line-7/status");
    recorders.push(late);
    expect((await late.waitFor((m) => m.payload === "online")).retain).toBe(true);
    const state = await rec.waitFor(
      (m) => m.topic.endsWith("/state") && (JSON.parse(m.payload) as { pipeline: string }).pipeline === "running",
    );
    const s = JSON.parse(state.payload);
    expect(s).toMatchObject({
      schema: 1,
      device: { id: "line-7" },
      model: { name: "round-parts" },
      camera: { source: "replay" },
    });
    expect(s.model.sha256).toMatch(/^[0-9a-f]{64}$/);

    const health = JSON.parse((await rec.waitFor((m) => m.topic.endsWith("/health"), 5000)).payload);
    expect(health.frames.decided).toBeGreaterThan(0);
    for (const stage of ["preprocess", "infer", "end_to_end"]) {
      expect(health.latency_ms[stage]).toMatchObject({
        p50: expect.any(Number),
        p95: expect.any(Number),
        p99: expect.any(Number),
        max: expect.any(Number),
      });
    }
    expect(health.memory.rss_mb).toBeGreaterThan(0);
    expect(health.storage.db_bytes).toBeGreaterThan(0);

    const decision = JSON.parse((await rec.waitFor((m) => m.topic.endsWith("/decision"))).payload);
    expect(decision).toMatchObject({
      schema: 1,
      action: expect.stringMatching(/^(pass|reject)$/),
      model_version: "1.0.0",
    });
    expect(decision.score).toBeGreaterThanOrEqual(0);

    // The watchdog is fed while frames are decided.
    await notify.waitFor("WATCHDOG=1", 3000);
    await new Promise((r) => setTimeout(r, 1500));

    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(notify.has("STOPPING=1")).toBe(true);
    await rec.waitFor((m) => m.topic.endsWith("/status") && m.payload === "offline");
    notify.close();

    const db = new Database(join(dir, "linesight.db"), { readonly: true });
    const reasons = db.prepare("select reason, count(*) n from samples group by reason").all() as {
      reason: string;
      n: number;
    }[];
    const row = db
      .prepare("select image_bytes, length(image) len, model_version, predicted from samples limit 1")
      .get() as {
      image_bytes: number;
      len: number;
      model_version: string;
    };
    db.close();
    const byReason = Object.fromEntries(reasons.map((r) => [r.reason, r.n]));
    expect(byReason.reject).toBeGreaterThan(0); // the footage has defects
    expect(byReason.audit).toBeGreaterThan(0); // 10% of all frames
    expect(row.len).toBe(row.image_bytes);
    expect(row.model_version).toBe("1.0.0");
  });

  it("keeps inspecting while the broker is unreachable, and connects when it comes up", async () => {
    const dir = newDir();
    const late = await Mosquitto.start();
    await late.stop();
    const notify = new NotifySocket(join(dir, "notify.sock"));
    const d = start(dir, config(dir, { mqtt: { url: late.url, health_interval_s: 1 } }), {
      NOTIFY_SOCKET: notify.path,
    });
    await notify.waitFor("READY=1");
    await late.restart();
    const rec = await TopicRecorder.start(late.url, "linesight/#");
    recorders.push(rec);
    await rec.waitFor((m) => m.topic.endsWith("/status") && m.payload === "online", 15_000);
    await rec.waitFor((m) => m.topic.endsWith("/state"), 5000);
    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    notify.close();
    await late.dispose();
  });
});

describe("device alerts", () => {
  it("raises camera_stalled when frames stop and clears it when they come back; health lists active alerts", async () => {
    const dir = newDir();
    const rec = await TopicRecorder.start(line.broker.url, "linesight/line-7/#");
    recorders.push(rec);
    // One frame every 4 s against a 1 s stall limit: stalls between frames, recovers at each.
    start(
      dir,
      config(dir, {
        camera: { replay: { path: FOOTAGE, fps: 0.25 }, stall_timeout_s: 1 },
        alerts: { check_interval_s: 0.25, raise_after: 2, clear_after: 2 },
      }),
    );
    const event = (m: { topic: string; payload: string }) =>
      m.topic.endsWith("/event")
        ? (JSON.parse(m.payload) as { type: string; severity: string; data: { active: boolean } })
        : null;
    const raised = await rec.waitFor(
      (m) => event(m)?.type === "camera_stalled" && event(m)?.data.active === true,
      15_000,
    );
    expect(event(raised)?.severity).toBe("alarm");
    const health = await rec.waitFor(
      (m) =>
        m.topic.endsWith("/health") &&
        (JSON.parse(m.payload) as { alerts: string[] }).alerts.includes("camera_stalled"),
      5000,
    );
    expect(JSON.parse(health.payload).system.disk_free_mb).toBeGreaterThan(0);
    const cleared = await rec.waitFor(
      (m) => event(m)?.type === "camera_stalled" && event(m)?.data.active === false,
      15_000,
    );
    expect(event(cleared)?.severity).toBe("info");
  });

  it("warns once when the disk holding the database is low", async () => {
    const dir = newDir();
    const rec = await TopicRecorder.start(line.broker.url, "linesight/line-7/#");
    recorders.push(rec);
    const d = start(dir, config(dir, { alerts: { check_interval_s: 0.25, disk_low_mb: 1e9 } }));
    const m = await rec.waitFor((x) => x.topic.endsWith("/event") && JSON.parse(x.payload).type === "disk_low", 10_000);
    expect(JSON.parse(m.payload)).toMatchObject({ severity: "warning", data: { active: true } });
    expect(JSON.parse(m.payload).message).toMatch(/MB free/);
    await d.waitForLog(
      (l) => l.level === 40 && String(l.msg).includes("disk low"),
      5000,
      "a disk-low warning in the log",
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(rec.on("/event").filter((x) => JSON.parse(x.payload).type === "disk_low")).toHaveLength(1);
  });
});

describe("bad input", () => {
  it("refuses to start on an unwritable database path, naming the path", async () => {
    const dir = newDir();
    const notAdir = join(dir, "a-file");
    writeFileSync(notAdir, "");
    const d = start(dir, config(dir, { storage: { path: join(notAdir, "db", "linesight.db") } }));
    expect(await d.exited).toBe(1);
    expect(d.stderr).toContain(join(notAdir, "db"));
  });

  it("exits 1 with the reason when the replay folder cannot be read, after starting broker and page", async () => {
    const dir = newDir();
    const missing = join(dir, "no-footage");
    const d = start(dir, config(dir, { camera: { replay: { path: missing } }, http: { port: 0 } }));
    expect(await d.exited).toBe(1);
    expect(d.stderr).toContain(`camera.replay.path ${missing} cannot be read: ENOENT`);
    expect(d.logs.some((l) => l.msg === "operator page up")).toBe(true);
  });

  it("lists every config problem at once and exits 1", async () => {
    const dir = newDir();
    const cfg = config(dir, { decision: { treshold: 0.4 } });
    (cfg.mqtt as Record<string, unknown>).health_interval_s = "often";
    const d = new DaemonProcess(["check", "--config", writeConfig(dir, cfg)]);
    expect(await d.exited).toBe(1);
    const out = d.logs.map((l) => l.msg).join("\n");
    expect(out).toContain('decision.treshold: unknown key; did you mean "threshold"?');
    expect(out).toContain("mqtt.health_interval_s");
  });

  it("check reads the MQTT TLS files and names the key of a bad one", async () => {
    const dir = newDir();
    writeFileSync(join(dir, "ca.txt"), "not a certificate");
    const cfg = config(dir, {});
    cfg.mqtt = { ...(cfg.mqtt as object), url: "mqtts://broker.invalid:8883", tls: { ca_file: join(dir, "ca.txt") } };
    const d = new DaemonProcess(["check", "--config", writeConfig(dir, cfg)]);
    expect(await d.exited).toBe(1);
    const out = d.logs.map((l) => l.msg).join("\n");
    expect(out).toMatch(/✗ mqtt: mqtt\.tls\.ca_file: .*ca\.txt is not a PEM file/);
  });

  /** A copy of the default model with one thing broken. */
  function brokenModel(dir: string, breakIt: (modelDir: string) => void): string {
    const m = join(dir, "model");
    cpSync(MODEL, m, { recursive: true });
    breakIt(m);
    return m;
  }

  async function refused(modelDir: string, dir: string): Promise<string> {
    const d = start(dir, config(dir, { model: { path: modelDir } }));
    expect(await d.exited).toBe(1);
    return d.stderr;
  }

  it("refuses to start with line I/O on a GPIO chip this machine lacks, naming the key and the label", async () => {
    // CI machines have no /dev/gpiochip* (the gpio-sim VM test has one: test/integration/gpio-sim.test.ts).
    const dir = newDir();
    const cfg = config(dir, {
      line: { enabled: true, backend: "gpio", gpio_chip: "pinctrl-rp1", reject: { line: 27 } },
    });
    const d = start(dir, cfg);
    expect(await d.exited).toBe(1);
    expect(d.stderr).toMatch(/line\.gpio_chip: no GPIO chip (on this machine|labelled "pinctrl-rp1")/);
    const check = new DaemonProcess(["check", "--config", writeConfig(dir, cfg)]);
    expect(await check.exited).toBe(1);
    expect(check.logs.map((l) => l.msg).join("\n")).toMatch(/✗ gpio lines: .*no GPIO chip/);
  });

  it("refuses a missing model file", async () => {
    const dir = newDir();
    const err = await refused(
      brokenModel(dir, (m) =>
        writeFileSync(
          join(m, "manifest.json"),
          readFileSync(join(m, "manifest.json"), "utf8").replace('"file": "model.onnx"', '"file": "gone.onnx"'),
        ),
      ),
      dir,
    );
    expect(err).toMatch(/cannot read model file .*gone\.onnx: ENOENT/);
  });

  it("refuses a model whose sha256 does not match the manifest", async () => {
    const dir = newDir();
    const err = await refused(
      brokenModel(dir, (m) => {
        const bytes = readFileSync(join(m, "model.onnx"));
        bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0xff;
        writeFileSync(join(m, "model.onnx"), bytes);
      }),
      dir,
    );
    expect(err).toMatch(/has sha256 [0-9a-f]{64} but manifest.json says/);
  });

  it("refuses a corrupt model file even with a matching sha256", async () => {
    const dir = newDir();
    const err = await refused(
      brokenModel(dir, (m) => {
        const garbage = Buffer.from("this is not an onnx model");
        writeFileSync(join(m, "model.onnx"), garbage);
        const manifest = JSON.parse(readFileSync(join(m, "manifest.json"), "utf8"));
        manifest.sha256 = createHash("sha256").update(garbage).digest("hex");
        writeFileSync(join(m, "manifest.json"), JSON.stringify(manifest));
      }),
      dir,
    );
    expect(err).toMatch(/onnxruntime cannot load/);
  });

  it("refuses a manifest whose input shape does not match the model", async () => {
    const dir = newDir();
    const err = await refused(
      brokenModel(dir, (m) => {
        const manifest = JSON.parse(readFileSync(join(m, "manifest.json"), "utf8"));
        manifest.input.shape = [1, 3, 224, 224];
        writeFileSync(join(m, "manifest.json"), JSON.stringify(manifest));
      }),
      dir,
    );
    expect(err).toMatch(
      /does not match its manifest:\n\s+manifest input.shape is \[1, 3, 224, 224\] but the model's "image" is \[1, 3, 120, 160\]/,
    );
  });

  it("counts and skips a corrupt frame in the footage, and keeps inspecting", async () => {
    const dir = newDir();
    const footage = join(dir, "footage");
    cpSync(FOOTAGE, footage, { recursive: true });
    const first = readdirSync(footage)
      .filter((f) => f.endsWith(".jpg"))
      .sort()[0] as string;
    writeFileSync(join(footage, first), readFileSync(join(footage, first)).subarray(0, 200)); // truncated JPEG
    writeFileSync(join(footage, "000-garbage.jpg"), "not an image at all");
    const rec = await TopicRecorder.start(line.broker.url, "linesight/line-7/health");
    recorders.push(rec);
    start(dir, config(dir, { camera: { replay: { path: footage, fps: 60 } } }));
    const h = await rec.waitFor(
      (m) => {
        const p = JSON.parse(m.payload);
        return p.frames.corrupt >= 2 && p.frames.decided > 50;
      },
      20_000,
      "health with corrupt frames counted and decisions going on",
    );
    expect(JSON.parse(h.payload).frames.corrupt).toBeGreaterThanOrEqual(2);
  });

  it("leaves nothing half-written when stopped by SIGTERM during heavy writes", async () => {
    const dir = newDir();
    const d = start(
      dir,
      config(dir, {
        camera: { replay: { path: FOOTAGE, fps: 120 } },
        storage: { path: join(dir, "linesight.db"), audit_fraction: 1 },
      }),
    );
    await d.waitForLog((l) => l.msg === "ready: first frame decided");
    await new Promise((r) => setTimeout(r, 2000));
    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    const closed = d.logs.find((l) => l.msg === "sample store closed") as { written: number } | undefined;
    const db = new Database(join(dir, "linesight.db"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    const n = (db.prepare("select count(*) n from samples").get() as { n: number }).n;
    const bad = (
      db.prepare("select count(*) n from samples where image_bytes != length(image) or image_bytes = 0").get() as {
        n: number;
      }
    ).n;
    db.close();
    expect(n).toBeGreaterThan(100);
    expect(bad).toBe(0);
    expect(n).toBe(closed?.written); // everything enqueued before the stop was flushed
  });
});

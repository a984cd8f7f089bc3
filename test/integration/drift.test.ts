// Drift detection as a fleet manager sees it: the real daemon replaying the bundled footage into a
// real broker, with and without a simulated change of the line.
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import type { DriftReport } from "../../src/monitor/drift-detector.js";
import { useBrokerHarness } from "../helpers/broker-harness.js";
import { DaemonProcess, FOOTAGE, MODEL, tempDir, writeConfig } from "../helpers/daemon.js";
import { type RecordedMessage, TopicRecorder } from "../helpers/mosquitto.js";

const line = useBrokerHarness();
const { dirs, daemons, recorders } = line;

async function startDaemon(id: string, replay: Record<string, unknown>) {
  const dir = tempDir();
  dirs.push(dir);
  const rec = await TopicRecorder.start(line.broker.url, `linesight/${id}/#`);
  recorders.push(rec);
  const cfg = {
    device: { id },
    camera: { replay: { path: FOOTAGE, ...replay } },
    model: { path: MODEL },
    storage: { path: join(dir, "linesight.db"), audit_fraction: 0 },
    mqtt: { url: line.broker.url, health_interval_s: 1 },
    // The bundled footage is 40% defects (see footage/round-parts/labels.csv).
    drift: { defect_prevalence: 0.4 },
    log: { level: "info" },
  };
  const d = new DaemonProcess(["run", "--config", writeConfig(dir, cfg)]);
  daemons.push(d);
  return { d, rec, dir };
}

const json = <T>(m: RecordedMessage) => JSON.parse(m.payload) as T;

describe("drift detection on the line", () => {
  it("stays ok over 20,000 frames of in-distribution footage", async () => {
    const { rec } = await startDaemon("steady", { fps: 1000 });
    const last = await rec.waitFor(
      (m) => m.topic.endsWith("/drift") && json<DriftReport>(m).frames >= 20_000,
      300_000,
      "a drift report after 20,000 frames",
    );
    const reports = rec.on("/drift").map((m) => json<DriftReport>(m));
    expect(reports.filter((r) => r.status !== "ok").map((r) => r.reasons)).toEqual([]);
    expect(rec.on("/event").filter((m) => json<{ type: string }>(m).type === "drift")).toEqual([]);
    const r = json<DriftReport>(last);
    expect(r.window.ready).toBe(true);
    // Retained: a subscriber that arrives now gets the latest report at once.
    const late = await TopicRecorder.start(line.broker.url, "linesight/steady/drift");
    recorders.push(late);
    expect((await late.waitFor(() => true, 5000)).retain).toBe(true);
    expect(Object.keys(r.features)).toEqual(["brightness", "contrast", "sharpness", "red", "green", "blue"]);
  }, 330_000);

  it.each([
    ["a 20% brightness drop", { kind: "brightness", amount: -0.2 }, "brightness down"],
    ["a colour cast", { kind: "cast", amount: 0.15 }, "red up"],
    ["blur", { kind: "blur", amount: 2 }, "sharpness down"],
  ])(
    "alarms within 300 frames of %s and names the feature",
    async (_name, change, reason) => {
      const from = 600;
      const { d, rec, dir } = await startDaemon(`inject-${change.kind}`, {
        fps: 100,
        drift: { ...change, from_frame: from },
      });
      const alarm = await rec.waitFor(
        (m) => m.topic.endsWith("/event") && json<{ type: string; severity: string }>(m).severity === "alarm",
        60_000,
        "a drift alarm event",
      );
      const event = json<{ type: string; message: string; data: { frames: number; reasons: string[] } }>(alarm);
      expect(event.type).toBe("drift");
      expect(event.message).toContain(reason);
      // Frames decided since the change: those decided in all, minus those from before it.
      const before = rec.on("/decision").filter((m) => json<{ seq: number }>(m).seq < from).length;
      expect(event.data.frames - before).toBeLessThanOrEqual(300);
      const retained = await rec.waitFor((m) => m.topic.endsWith("/drift") && json<DriftReport>(m).status === "alarm");
      expect(json<DriftReport>(retained).reasons[0]).toContain(reason);
      // The operator's log says it too.
      await d.waitForLog((l) => l.level === 40 && l.msg.includes(reason), 5000, "a drift warning in the log");

      if (change.kind === "blur") {
        // Blurred frames are less sharp than anything the model was profiled on: kept for labeling as "ood".
        await rec.waitFor((m) => m.topic.endsWith("/decision") && json<{ ood: boolean }>(m).ood);
        d.kill("SIGTERM");
        await d.exited;
        const db = new Database(join(dir, "linesight.db"), { readonly: true });
        const n = (db.prepare("select count(*) n from samples where reason = 'ood'").get() as { n: number }).n;
        db.close();
        expect(n).toBeGreaterThan(0);
      }
    },
    90_000,
  );
});

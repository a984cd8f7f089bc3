// Shadow mode with the real parts: onnxruntime, sharp, the pipeline, the sample writer's worker
// and SQLite. A candidate made from the shipped model with a much lower threshold (0.005, no
// uncertain band) can only disagree one way: it rejects parts the active model passes (the
// active model rejects from its threshold minus its uncertain band up, the band acted on as
// reject). Which frames it disagrees on is known from the active model's own scores.
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Frame } from "../../src/camera/frame.js";
import { FrameJpegEncoder } from "../../src/camera/frame-jpeg.js";
import { FrameSlot } from "../../src/camera/frame-slot.js";
import { listImages } from "../../src/camera/replay-source.js";
import { driftSchema } from "../../src/config/schema.js";
import { type ModelShadow, modelShadow, type ShadowDecided } from "../../src/parts/model-shadow.js";
import type { DaemonEvents } from "../../src/parts/part.js";
import { sampleKeeper } from "../../src/parts/sample-keeper.js";
import { ActiveModel, type ActiveModelOptions } from "../../src/pipeline/active-model.js";
import { EventBus } from "../../src/pipeline/event-bus.js";
import { type DecidedFrame, Pipeline } from "../../src/pipeline/pipeline.js";
import { SnapshotRequests } from "../../src/pipeline/snapshot-requests.js";
import { SampleWriter } from "../../src/store/sample-writer.js";
import { buildStoreDist } from "../fixtures/store-dist.js";
import { writeCandidateModel } from "../helpers/candidate-model.js";
import { FOOTAGE, MODEL, SHIPPED_THRESHOLD } from "../helpers/daemon.js";
import { until } from "../helpers/mosquitto.js";

const logger = pino({ level: "silent" });
const CANDIDATE_THRESHOLD = 0.005;
let dir: string;
let candidateDir: string;
let jpegs: Buffer[];
const drift = driftSchema.parse({});

const activeOptions: ActiveModelOptions = {
  threads: 1,
  decision: { threshold: null, uncertainBand: null, uncertainAction: "reject" },
  drift: { prevalence: null },
};
const candidateOptions: ActiveModelOptions = { ...activeOptions };

beforeAll(async () => {
  buildStoreDist();
  dir = mkdtempSync(join(tmpdir(), "linesight-shadow-"));
  candidateDir = writeCandidateModel(join(dir, "candidate"), {
    version: "1.1.0",
    threshold: CANDIDATE_THRESHOLD,
    uncertainBand: 0,
  });
  const files = await listImages(FOOTAGE);
  jpegs = await Promise.all(files.map((f) => readFile(join(FOOTAGE, f))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pipeline with the sample keeper and, when `shadow`, the shadow part; frames put by hand. */
async function rig(name: string, withShadow: boolean) {
  const bus = new EventBus<DaemonEvents>(logger);
  const slot = new FrameSlot();
  const active = await ActiveModel.load(MODEL, activeOptions);
  const pipeline = new Pipeline(slot, active, bus, logger);
  const store = await SampleWriter.open({ path: join(dir, `${name}.db`), maxBytes: 1e9, logger });
  const encoder = new FrameJpegEncoder();
  const samples = sampleKeeper({
    bus,
    store,
    jpegs: encoder,
    snapshots: new SnapshotRequests(),
    storage: { store_rejects: false, store_uncertain: false, audit_fraction: 0 } as Parameters<
      typeof sampleKeeper
    >[0]["storage"],
    oodSamplesPerMinute: 0,
    disagreementSamplesPerMinute: 10_000,
    logger,
  });
  const shadow: ModelShadow | null = withShadow ? modelShadow({ bus, drift, logger }) : null;
  await samples.start?.();
  await shadow?.start?.();
  const decided: DecidedFrame[] = [];
  const shadowed: ShadowDecided[] = [];
  let waiting: { seq: number; resolve: () => void } | null = null;
  bus.on("test", "decided", (r) => {
    decided.push(r);
    if (waiting && r.frame.seq === waiting.seq) waiting.resolve();
  });
  bus.on("test", "shadow-decided", (s) => shadowed.push(s));
  pipeline.start();
  const frame = (seq: number): Frame => ({
    seq,
    data: jpegs[seq % jpegs.length] as Buffer,
    capturedAt: Date.now(),
    capturedMono: performance.now(),
  });
  return {
    bus,
    slot,
    pipeline,
    shadow,
    decided,
    shadowed,
    dbPath: join(dir, `${name}.db`),
    /** Puts a frame and resolves when the active model decided it. */
    put(seq: number): Promise<void> {
      const done = new Promise<void>((resolve) => {
        waiting = { seq, resolve };
      });
      slot.put(frame(seq));
      return done;
    },
    /** Puts a frame without waiting (a camera faster than inference). */
    putNow(seq: number): void {
      slot.put(frame(seq));
    },
    async stop() {
      slot.close();
      await pipeline.stopped();
      await shadow?.stop?.();
      await samples.stop?.();
      await encoder.close();
      await store.close();
      await pipeline.model.release();
    },
  };
}

describe("shadow mode with the real pipeline", () => {
  it("runs the candidate on every live frame, counts agreement and each disagreement's direction, and stores disagreements with both scores", async () => {
    const r = await rig("paced", true);
    const shadow = r.shadow as ModelShadow;
    expect(shadow.report()).toBeNull();
    const candidate = await ActiveModel.load(candidateDir, candidateOptions);
    await shadow.setCandidate(candidate);
    expect(shadow.report()).toMatchObject({ candidate: candidate.identity, frames: 0, agreement: null });

    // Paced like a camera the candidate keeps up with: each frame after the candidate's last one.
    const n = jpegs.length;
    for (let seq = 0; seq < n; seq++) {
      await r.put(seq);
      await until(() => r.shadowed.length === seq + 1, 10_000, `the candidate's decision of frame ${seq}`);
    }

    // It saw exactly the live frames, in order, and decided with its own threshold.
    expect(r.shadowed.map((s) => s.active.frame.seq)).toEqual(r.decided.map((d) => d.frame.seq));
    for (const s of r.shadowed) {
      expect(s.candidate.score).toBeCloseTo(s.active.score, 4); // the same network, its own session
      expect(s.candidate.threshold).toBe(CANDIDATE_THRESHOLD);
      expect(s.candidate.model).toEqual(candidate.identity);
    }
    // Expected from the active model's own scores: the candidate rejects at 0.005 and above.
    const wouldReject = (d: DecidedFrame) => d.score >= CANDIDATE_THRESHOLD;
    const candidateRejects = r.decided.filter((d) => d.decision.action === "pass" && wouldReject(d)).length;
    const agree = r.decided.filter((d) => (d.decision.action === "reject") === wouldReject(d)).length;
    expect(candidateRejects).toBeGreaterThan(0);
    expect(agree).toBeGreaterThan(0);
    const report = shadow.report();
    expect(report).toMatchObject({
      candidate: candidate.identity,
      frames: n,
      dropped: 0,
      agree,
      agreement: Math.round((agree / n) * 1e4) / 1e4,
      disagreements: { candidate_rejects: candidateRejects, candidate_passes: 0 },
      drift: "ok",
    });
    expect(report?.latency_ms.p50).toBeGreaterThan(0);
    expect(report?.latency_ms.p99).toBeGreaterThanOrEqual(report?.latency_ms.p50 as number);

    await r.stop();
    // Each disagreement is a sample with both models' identities and scores; nothing else was kept.
    const db = new Database(r.dbPath, { readonly: true });
    const rows = db
      .prepare(
        `SELECT seq, reason, action, score, threshold, model_version, model_sha256, candidate_name, candidate_version,
         candidate_sha256, candidate_score, candidate_threshold, candidate_action FROM samples ORDER BY seq`,
      )
      .all() as Record<string, unknown>[];
    db.close();
    const disagreed = r.shadowed.filter((s) => s.comparison !== "agree");
    expect(rows.map((x) => x.seq)).toEqual(disagreed.map((s) => s.active.frame.seq));
    for (const [i, row] of rows.entries()) {
      const s = disagreed[i] as ShadowDecided;
      expect(row).toEqual({
        seq: s.active.frame.seq,
        reason: "disagreement",
        action: "pass",
        score: s.active.score,
        threshold: SHIPPED_THRESHOLD,
        model_version: "1.0.0",
        model_sha256: s.active.model.sha256,
        candidate_name: "round-parts",
        candidate_version: "1.1.0",
        candidate_sha256: candidate.identity.sha256,
        candidate_score: s.candidate.score,
        candidate_threshold: CANDIDATE_THRESHOLD,
        candidate_action: "reject",
      });
    }
    expect(candidate.identity.sha256).not.toBe(r.decided[0]?.model.sha256);
  });

  it("never changes or holds back the active decisions: the same frames decided the same way, the candidate dropping its own frames when it falls behind", async () => {
    // The same burst through a pipeline without and with a shadow: the camera puts every frame at
    // once after the previous decision's event, so the candidate (fed after each decision) is
    // still busy when the next frame is decided.
    const burst = async (withShadow: boolean) => {
      const r = await rig(withShadow ? "burst-shadow" : "burst-plain", withShadow);
      if (r.shadow) await r.shadow.setCandidate(await ActiveModel.load(candidateDir, candidateOptions));
      for (let seq = 0; seq < 120; seq++) await r.put(seq);
      // Every live frame is either decided by the candidate or counted as its drop, never queued.
      if (r.shadow) {
        const shadow = r.shadow;
        await until(() => {
          const s = shadow.report();
          return s !== null && s.frames + s.dropped === 120;
        }, 10_000);
      }
      const report = r.shadow?.report() ?? null;
      await r.stop();
      return { decided: r.decided, counters: { ...r.pipeline.counters }, report };
    };
    const plain = await burst(false);
    const shadowed = await burst(true);
    const summary = (d: DecidedFrame[]) => d.map((x) => [x.frame.seq, x.decision.action, x.score.toFixed(4)]);
    expect(summary(shadowed.decided)).toEqual(summary(plain.decided));
    expect(shadowed.counters).toEqual(plain.counters);
    expect(shadowed.report?.frames).toBeGreaterThan(0);
    expect((shadowed.report?.frames ?? 0) + (shadowed.report?.dropped ?? 0)).toBe(120);
  });

  it("releases the candidate on setCandidate(null) and when a new one replaces it, and stops counting", async () => {
    const r = await rig("release", true);
    const shadow = r.shadow as ModelShadow;
    const first = await ActiveModel.load(candidateDir, candidateOptions);
    await shadow.setCandidate(first);
    await r.put(1);
    await until(() => shadow.report()?.frames === 1, 10_000);
    const second = await ActiveModel.load(candidateDir, candidateOptions);
    await shadow.setCandidate(second);
    // Replaced: the first is released (its session refuses to run), the account starts afresh.
    const input = new Float32Array(first.manifest.input.shape.reduce((a, b) => a * b, 1));
    await expect(first.session.run(input)).rejects.toThrow();
    expect(shadow.report()?.frames).toBe(0);
    await r.put(2);
    await until(() => shadow.report()?.frames === 1, 10_000);
    await shadow.setCandidate(null);
    await expect(second.session.run(input)).rejects.toThrow();
    expect(shadow.report()).toBeNull();
    const before = r.shadowed.length;
    await r.put(3);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.shadowed.length).toBe(before);
    expect(r.decided.map((d) => d.frame.seq)).toEqual([1, 2, 3]);
    await r.stop();
  });
});

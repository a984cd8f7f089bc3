// Swapping the active model between two frames of a running pipeline: every decision, stored
// sample and published decision names the model that really decided it, the frame in flight is
// finished by the old model, and the old model is released only after it.
//
// Two models from the shipped one: A decides with a threshold above 1 (every part passes), B is a
// copy whose ONNX file differs by a doc string (so its sha256 differs) and decides with threshold 0
// (every part is rejected). A decision's action therefore shows which model really made it.
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Frame } from "../../src/camera/frame.js";
import { FrameJpegEncoder } from "../../src/camera/frame-jpeg.js";
import { FrameSlot } from "../../src/camera/frame-slot.js";
import { listImages } from "../../src/camera/replay-source.js";
import type { CameraSource } from "../../src/camera/source.js";
import type { DaemonEvents } from "../../src/parts/part.js";
import { sampleKeeper } from "../../src/parts/sample-keeper.js";
import { telemetry } from "../../src/parts/telemetry.js";
import { ActiveModel, type ActiveModelOptions } from "../../src/pipeline/active-model.js";
import { EventBus } from "../../src/pipeline/event-bus.js";
import { type DecidedFrame, Pipeline } from "../../src/pipeline/pipeline.js";
import { SnapshotRequests } from "../../src/pipeline/snapshot-requests.js";
import { SampleWriter } from "../../src/store/sample-writer.js";
import { buildStoreDist } from "../fixtures/store-dist.js";
import { writeCandidateModel } from "../helpers/candidate-model.js";
import { FOOTAGE, MODEL } from "../helpers/daemon.js";

const logger = pino({ level: "silent" });
let dir: string;
let modelB: string;
let jpegs: Buffer[];

function options(threshold: number): ActiveModelOptions {
  return {
    threads: 1,
    decision: { threshold, uncertainBand: 0, uncertainAction: "reject" },
    drift: { prevalence: null },
  };
}

beforeAll(async () => {
  buildStoreDist();
  dir = mkdtempSync(join(tmpdir(), "linesight-swap-"));
  // A copy of the shipped model whose file (and so sha256), name and version differ.
  modelB = writeCandidateModel(join(dir, "model-b"), { name: "round-parts-b", note: "copy for the model-swap test" });
  jpegs = await Promise.all((await listImages(FOOTAGE)).slice(0, 8).map((f) => readFile(join(FOOTAGE, f))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("swapping the active model in a running pipeline", () => {
  it("has each decision, stored sample and published decision name the model that decided it", async () => {
    const a = await ActiveModel.load(MODEL, options(1.5));
    const b = await ActiveModel.load(modelB, options(0));
    expect(b.identity.sha256).not.toBe(a.identity.sha256);

    const bus = new EventBus<DaemonEvents>(logger);
    const slot = new FrameSlot();
    const pipeline = new Pipeline(slot, a, bus, logger);
    const store = await SampleWriter.open({ path: join(dir, "samples.db"), maxBytes: 1e9, logger });
    const encoder = new FrameJpegEncoder();
    const published: { name: string; payload: Record<string, unknown> }[] = [];
    const publisher = {
      publish: (name: string, payload: unknown) =>
        published.push({ name, payload: payload as Record<string, unknown> }),
      setAnnouncements: () => {},
    };
    const camera = { kind: "replay", state: "streaming" } as unknown as CameraSource;
    const parts = [
      telemetry({
        bus,
        publisher,
        config: {
          device: { id: "swap-test", site: "", line: "" },
          mqtt: { publish_decisions: true, home_assistant: { enabled: false } },
        } as Parameters<typeof telemetry>[0]["config"],
        prefix: "linesight/swap-test",
        version: "test",
        camera,
        pipeline,
      }),
      sampleKeeper({
        bus,
        store,
        jpegs: encoder,
        snapshots: new SnapshotRequests(),
        storage: { store_rejects: true, store_uncertain: true, audit_fraction: 1 } as Parameters<
          typeof sampleKeeper
        >[0]["storage"],
        oodSamplesPerMinute: 0,
        logger,
      }),
    ];
    for (const p of parts) await p.start?.();

    const decided: DecidedFrame[] = [];
    const order: string[] = [];
    let next: (() => void) | null = null;
    bus.on("test", "decided", (r) => {
      decided.push(r);
      order.push(`decided ${r.frame.seq}`);
      next?.();
    });
    const put = (seq: number) => {
      const frame: Frame = {
        seq,
        data: jpegs[seq % jpegs.length] as Buffer,
        capturedAt: Date.now(),
        capturedMono: performance.now(),
      };
      const done = new Promise<void>((resolve) => {
        next = resolve;
      });
      slot.put(frame);
      return done;
    };

    pipeline.start();
    await put(1);
    await put(2);
    // Frame 3 is taken and being preprocessed by A when B takes over.
    const inFlight = put(3);
    await new Promise((r) => setImmediate(r));
    const swapped = pipeline.swapModel(b).then(() => order.push("A released"));
    expect(pipeline.model).toBe(b);
    await inFlight;
    await swapped;
    await put(4);
    await put(5);

    slot.close();
    await pipeline.stopped();
    for (const p of parts.reverse()) await p.stop?.();
    await encoder.close();
    await store.close();
    await b.release();

    // Who decided what.
    const byModel = decided.map((r) => [r.frame.seq, r.model.name, r.decision.action]);
    expect(byModel).toEqual([
      [1, "round-parts", "pass"],
      [2, "round-parts", "pass"],
      [3, "round-parts", "pass"],
      [4, "round-parts-b", "reject"],
      [5, "round-parts-b", "reject"],
    ]);
    expect(decided.map((r) => r.model)).toEqual([a.identity, a.identity, a.identity, b.identity, b.identity]);
    // The old model is released only after the frame it was deciding.
    expect(order.indexOf("A released")).toBeGreaterThan(order.indexOf("decided 3"));

    // Stored samples (audit_fraction 1: every frame) carry the deciding model's identity.
    const db = new Database(join(dir, "samples.db"), { readonly: true });
    const rows = db
      .prepare("SELECT seq, action, model_name, model_version, model_sha256 FROM samples ORDER BY seq")
      .all() as { seq: number; action: string; model_name: string; model_version: string; model_sha256: string }[];
    db.close();
    const identityOf = (name: string) => (name === a.identity.name ? a.identity : b.identity);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const r of rows) {
      const id = identityOf(r.model_name);
      expect([r.model_version, r.model_sha256]).toEqual([id.version, id.sha256]);
      expect(r.action).toBe(r.model_name === a.identity.name ? "pass" : "reject");
    }
    expect(rows.map((r) => r.model_name)).toEqual(decided.map((r) => r.model.name));

    // Published decisions name the deciding model's version; state and an event follow the swap.
    const decisions = published.filter((m) => m.name === "decision").map((m) => m.payload);
    expect(decisions.map((d) => [d.seq, d.model_version, d.action])).toEqual([
      [1, a.identity.version, "pass"],
      [2, a.identity.version, "pass"],
      [3, a.identity.version, "pass"],
      [4, b.identity.version, "reject"],
      [5, b.identity.version, "reject"],
    ]);
    const states = published.filter((m) => m.name === "state").map((m) => m.payload);
    expect(states.at(-1)?.model).toEqual(b.identity);
    expect(states.at(-1)?.threshold).toBe(0);
    const loaded = published.filter((m) => m.name === "event" && m.payload.type === "model_loaded");
    expect(loaded.map((m) => m.payload.data)).toEqual([a.identity, b.identity]);
  });
});

describe("a threshold changed on the running model", () => {
  it("moves the drift reference's expected reject rate with it", async () => {
    const a = await ActiveModel.load(MODEL, options(0.5));
    const lower = a.withPolicy({ ...a.policy, threshold: 0.05 });
    const higher = a.withPolicy({ ...a.policy, threshold: 0.99 });
    // Same session (no reload), but what the line should look like follows the threshold.
    expect(lower.session).toBe(a.session);
    const rate = (m: ActiveModel) => m.driftReference?.rejectRate as number;
    expect(rate(lower)).toBeGreaterThan(rate(a));
    expect(rate(higher)).toBeLessThan(rate(a));
    await a.release();
  });
});

// The default model as shipped: the file matches its manifest, onnxruntime-node runs it, and the
// manifest carries what users rely on (metrics of this int8 file, operating points, reference stats),
// and what it records about the bundled footage is what the model really does on it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import { evaluateFrames } from "../../src/model/evaluate.js";
import { type Manifest, parseManifest } from "../../src/model/manifest.js";
import { ModelSession } from "../../src/model/session.js";
import { binomialZ } from "../../src/monitor/distance.js";
import { FOOTAGE, MODEL } from "../helpers/daemon.js";

let manifest: Manifest;
let bytes: Buffer;

beforeAll(() => {
  manifest = parseManifest(JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8")), "manifest.json");
  bytes = readFileSync(join(MODEL, manifest.file));
});

describe("the shipped default model", () => {
  it("matches the sha256 in its manifest", () => {
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(manifest.sha256);
  });

  it("has the inputs and outputs its manifest declares, in onnxruntime-node", async () => {
    const session = await ort.InferenceSession.create(bytes);
    const input = session.inputMetadata.find((m) => m.name === manifest.input.name);
    const output = session.outputMetadata.find((m) => m.name === manifest.output.name);
    expect(input?.isTensor && input.shape).toEqual(manifest.input.shape);
    expect(input?.isTensor && input.type).toBe("float32");
    expect(output?.isTensor && output.shape).toEqual(manifest.output.shape);
    const out = await session.run({
      [manifest.input.name]: new ort.Tensor("float32", new Float32Array(3 * 120 * 160), manifest.input.shape),
    });
    expect(out[manifest.output.name]?.dims).toEqual(manifest.output.shape);
    await session.release();
  });

  it("is int8: small next to the fp32 model and run with int8 kernels", () => {
    const metrics = manifest.metrics ?? {};
    expect(metrics.int8?.file_bytes).toBe(bytes.length);
    expect(bytes.length).toBeLessThanOrEqual((metrics.fp32_unpruned?.file_bytes ?? 0) / 4);
    expect(manifest.optimization.quantization.runtime_kernels).toHaveProperty("QLinearConv");
  });

  it("documents its operating points, per-defect recall and reference statistics", () => {
    expect(manifest.operating_points?.some((p) => p.threshold === manifest.decision.threshold)).toBe(true);
    expect(Object.keys(manifest.metrics?.int8?.test.per_defect_recall ?? {}).sort()).toEqual([
      "burn",
      "chip",
      "crack",
      "missing_chunk",
    ]);
    expect(Object.keys(manifest.reference?.features ?? {})).toEqual(
      expect.arrayContaining(["brightness", "contrast", "sharpness", "red", "green", "blue"]),
    );
    expect(readFileSync(join(MODEL, "MODEL_CARD.md"), "utf8")).toContain(manifest.sha256);
  });

  it("decides the bundled footage as its manifest records it, within one frame", async () => {
    const recorded = manifest.metrics?.int8?.footage;
    expect(
      recorded,
      "manifest.json has no metrics.int8.footage: run `npm run model:build -- --footage-only` to record it",
    ).toBeDefined();
    if (!recorded) return;
    const session = await ModelSession.load(MODEL, { threads: 1 });
    const frames = await readLabelledDir(FOOTAGE);
    expect(new Set(frames.map((f) => f.kind))).toEqual(new Set(["good", "crack", "chip", "burn", "missing_chunk"]));
    const scored = await evaluateFrames(session, frames);
    await session.release();
    const t = manifest.decision.threshold;
    expect(recorded.threshold).toBe(t);
    expect(recorded.samples).toBe(scored.length);
    const goods = scored.filter((s) => !s.positive);
    const defects = scored.filter((s) => s.positive);
    const falseRejects = goods.filter((s) => s.score >= t).length;
    const missed = defects.filter((s) => s.score < t).length;
    // The scores are deterministic; one frame of slack each way is for another CPU's kernels or
    // libvips build moving a borderline score across the threshold. A model a point worse
    // (two more wrong frames of 200) fails, and so does a manifest that undersells the model.
    expect(Math.abs(falseRejects - Math.round(recorded.false_reject_rate * goods.length))).toBeLessThanOrEqual(1);
    expect(Math.abs(missed - Math.round(recorded.missed_defect_rate * defects.length))).toBeLessThanOrEqual(1);
    const wrong = falseRejects + missed;
    expect(Math.abs(wrong - Math.round((1 - recorded.accuracy) * scored.length))).toBeLessThanOrEqual(1);
  });

  it("does on its footage what its card says it does on the test split", () => {
    const test = manifest.metrics?.int8?.test;
    const footage = manifest.metrics?.int8?.footage;
    if (!test || !footage) throw new Error("manifest.json lacks metrics.int8.test or metrics.int8.footage");
    // The footage is held out like the test split: its errors must be a plausible draw at the
    // test split's error rate (exact binomial tail, one-sided, z < 3), not a luckier or worse set.
    const wrong = Math.round((1 - footage.accuracy) * footage.samples);
    expect(binomialZ(wrong, footage.samples, 1 - test.accuracy)).toBeLessThan(3);
    // And the card tells users the footage figure, not only the test split's.
    const card = readFileSync(join(MODEL, "MODEL_CARD.md"), "utf8");
    expect(card).toContain(`decides ${footage.samples - wrong} of ${footage.samples} frames right`);
  });
});

// The default model as shipped: the file matches its manifest, onnxruntime-node runs it, and the
// manifest carries what users rely on (metrics of this int8 file, operating points, reference stats).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { readLabelledDir } from "../../src/dataset/labelled-dir.js";
import { evaluateFrames } from "../../src/model/evaluate.js";
import { type Manifest, parseManifest } from "../../src/model/manifest.js";
import { ModelSession } from "../../src/model/session.js";
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

  it("decides the bundled footage about as well as its manifest says", async () => {
    const session = await ModelSession.load(MODEL, { threads: 1 });
    const frames = await readLabelledDir(FOOTAGE);
    expect(new Set(frames.map((f) => f.kind))).toEqual(new Set(["good", "crack", "chip", "burn", "missing_chunk"]));
    const scored = await evaluateFrames(session, frames);
    await session.release();
    const t = manifest.decision.threshold;
    const correct = scored.filter((s) => s.score >= t === s.positive).length;
    // 200 frames: allow for sampling noise around the test-split accuracy.
    expect(correct / scored.length).toBeGreaterThan((manifest.metrics?.int8?.test.accuracy ?? 1) - 0.06);
  });
});

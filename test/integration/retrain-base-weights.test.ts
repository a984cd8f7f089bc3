// Retraining fine-tunes the shipped model from its own weights (`npm run model:build --
// --from-export`): the recipe recovers float weights from the int8 ONNX (models/recipe/base_weights.py).
// Recovered weights that do not reproduce onnxruntime's scores would fine-tune some other model.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FOOTAGE, MODEL, ROOT } from "../helpers/daemon.js";

const PYTHON = "/usr/bin/python3";
const RECOVER = join(ROOT, "models/recipe/base_weights.py");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "linesight-base-weights-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recover(modelDir: string) {
  const r = spawnSync(PYTHON, [RECOVER, modelDir, "--frames", FOOTAGE, "--json"], { encoding: "utf8" });
  return {
    status: r.status,
    out: r.status === 0 || r.status === 1 ? JSON.parse(r.stdout) : null,
    error: r.stderr.trim(),
  };
}

/** `model:build --from-export` with `base` as the model to fine-tune. */
function buildFrom(base: string) {
  const args = ["--quick", "--from-export", dir, "--base", base, "--work", join(dir, "w")];
  return spawnSync(PYTHON, [join(ROOT, "models/recipe/build.py"), ...args], { encoding: "utf8" });
}

describe("float weights recovered from the shipped int8 model", () => {
  it("reproduce onnxruntime's scores on the footage", () => {
    const r = recover(MODEL);
    expect(r.error).toBe("");
    expect(r.status).toBe(0);
    // The architecture read from the graph: the pruned Inspector (channels, stride).
    expect(r.out.layers).toEqual([
      [12, 2],
      [24, 2],
      [32, 2],
      [32, 1],
      [64, 2],
      [64, 1],
    ]);
    expect(r.out.frames).toBe(200);
    // With the model's own int8 scales torch computes what onnxruntime does...
    expect(r.out.fake_quant.mean_abs_diff).toBeLessThan(0.005);
    expect(r.out.fake_quant.max_abs_diff).toBeLessThan(0.01);
    expect(r.out.fake_quant.decisions_agree).toBeGreaterThanOrEqual(0.99);
    // ...and the float weights fine-tuning starts from decide (nearly) every frame the same way.
    expect(r.out.float.decisions_agree).toBeGreaterThanOrEqual(0.98);
  });

  it("refuses a model this recipe did not build, saying what to do", () => {
    const other = join(dir, "float-model");
    mkdirSync(other);
    copyFileSync(join(MODEL, "manifest.json"), join(other, "manifest.json"));
    // A float model of the same shape: weights stored as float32, no QDQ.
    const make = `
import onnx, numpy as np
from onnx import helper as h, numpy_helper as nh, TensorProto as T
w = nh.from_array(np.zeros((4, 3, 3, 3), np.float32), "w"); b = nh.from_array(np.zeros(4, np.float32), "b")
fw = nh.from_array(np.zeros((2, 4), np.float32), "fw"); fb = nh.from_array(np.zeros(2, np.float32), "fb")
g = h.make_graph([
  h.make_node("Conv", ["image", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
  h.make_node("Relu", ["c"], ["r"]), h.make_node("GlobalMaxPool", ["r"], ["p"]),
  h.make_node("Flatten", ["p"], ["f"]), h.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1)],
  "float", [h.make_tensor_value_info("image", T.FLOAT, [1, 3, 120, 160])],
  [h.make_tensor_value_info("logits", T.FLOAT, [1, 2])], [w, b, fw, fb])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), "${join(other, "model.onnx")}")
`;
    expect(spawnSync(PYTHON, ["-c", make], { encoding: "utf8" }).status).toBe(0);
    const r = recover(other);
    expect(r.status).toBe(2);
    expect(r.error).toMatch(/cannot recover float weights to fine-tune \(conv 1 .* weight is not dequantized/);
    expect(r.error).toMatch(/--base must be a model this recipe built.*--from-scratch/);
    // `model:build --from-export` refuses it before rendering or reading anything.
    const build = buildFrom(other);
    expect(build.status).toBe(2);
    expect(build.stderr).toMatch(/^model:build: .*cannot recover float weights to fine-tune/m);
  });

  it("refuses a base model whose input spec is not the recipe's: its frames would be preprocessed differently", () => {
    const other = join(dir, "other-input");
    mkdirSync(other);
    copyFileSync(join(MODEL, "model.onnx"), join(other, "model.onnx"));
    const manifest = JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8"));
    manifest.input.shape = [1, 3, 224, 224];
    writeFileSync(join(other, "manifest.json"), JSON.stringify(manifest));
    const build = buildFrom(other);
    expect(build.status).toBe(2);
    expect(build.stderr).toMatch(/^model:build: .*its input spec differs from this recipe's.*add --from-scratch/m);
  });
});

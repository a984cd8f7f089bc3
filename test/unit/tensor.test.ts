import { describe, expect, it } from "vitest";
import type { InputSpec } from "../../src/model/manifest.js";
import { softmaxAt } from "../../src/model/scores.js";
import { toTensor } from "../../src/model/tensor.js";

const spec = (over: Partial<InputSpec> = {}): InputSpec => ({
  name: "image",
  shape: [1, 3, 1, 2],
  layout: "NCHW",
  dtype: "float32",
  color: "RGB",
  resize: { mode: "fill", kernel: "lanczos3" },
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...over,
});
// two pixels: (255, 0, 51) and (0, 102, 255)
const rgb = Uint8Array.from([255, 0, 51, 0, 102, 255]);

describe("pixels to tensor", () => {
  it("writes planar NCHW scaled to 0..1", () => {
    expect(Array.from(toTensor(rgb, spec()))).toEqual([1, 0, 0, 0.4, 0.2, 1].map(Math.fround));
  });

  it("swaps to BGR when the model wants it", () => {
    expect(Array.from(toTensor(rgb, spec({ color: "BGR" })))).toEqual([0.2, 1, 0, 0.4, 1, 0].map(Math.fround));
  });

  it("keeps interleaved NHWC and applies mean and std", () => {
    const t = toTensor(rgb, spec({ layout: "NHWC", shape: [1, 1, 2, 3], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
    expect(t[0]).toBeCloseTo(1);
    expect(t[1]).toBeCloseTo(-1);
    expect(t[5]).toBeCloseTo(1);
  });

  it("refuses an image of the wrong size", () => {
    expect(() => toTensor(new Uint8Array(9), spec())).toThrow(/expected 6/);
  });
});

describe("scores", () => {
  it("turns logits into the positive label's probability without overflow", () => {
    expect(softmaxAt([0, 0], 1)).toBeCloseTo(0.5);
    expect(softmaxAt([1000, 1001], 1)).toBeCloseTo(1 / (1 + Math.exp(-1)));
  });
});

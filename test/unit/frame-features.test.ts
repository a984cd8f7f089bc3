import { describe, expect, it } from "vitest";
import { frameFeatures } from "../../src/monitor/frame-features.js";

function image(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.set(f(x, y), (y * w + x) * 3);
  return out;
}

describe("frame features", () => {
  it("measures brightness, colour and zero contrast of a flat grey frame", () => {
    const f = frameFeatures(
      image(8, 8, () => [100, 100, 100]),
      8,
      8,
    );
    expect(f.brightness).toBeCloseTo(100);
    expect(f.contrast).toBeCloseTo(0, 3);
    expect(f.sharpness).toBeCloseTo(0);
    expect(f.red).toBe(100);
  });

  it("finds a sharp checkerboard sharper than a smooth gradient", () => {
    const checker = frameFeatures(
      image(16, 16, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0])),
      16,
      16,
    );
    const ramp = frameFeatures(
      image(16, 16, (x) => [x * 16, x * 16, x * 16]),
      16,
      16,
    );
    expect(checker.sharpness).toBeGreaterThan(ramp.sharpness * 100);
  });

  it("sees a colour cast in the channel means", () => {
    const f = frameFeatures(
      image(4, 4, () => [200, 100, 50]),
      4,
      4,
    );
    expect([f.red, f.green, f.blue]).toEqual([200, 100, 50]);
  });
});

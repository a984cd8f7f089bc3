import { describe, expect, it } from "vitest";
import { interleaveYuv420, type RawLayout, yuv420Bytes, yuvToRgb } from "../../src/camera/yuv420.js";

const rgbOf = (y: number, u: number, v: number, matrix: "bt601" | "bt709", range: "limited" | "full") =>
  Array.from(yuvToRgb(Uint8Array.of(y, u, v), 1, { matrix, range }));

describe("YUV to RGB", () => {
  it("maps limited-range black and white to 0 and 255 (video levels), full range as it is", () => {
    expect(rgbOf(16, 128, 128, "bt601", "limited")).toEqual([0, 0, 0]);
    expect(rgbOf(235, 128, 128, "bt601", "limited")).toEqual([255, 255, 255]);
    expect(rgbOf(0, 128, 128, "bt709", "full")).toEqual([0, 0, 0]);
    expect(rgbOf(128, 128, 128, "bt709", "full")).toEqual([128, 128, 128]);
  });

  it("decodes each matrix's red, and the wrong matrix visibly wrong", () => {
    // Pure red as each standard encodes it (limited range).
    const red601 = rgbOf(81, 90, 240, "bt601", "limited");
    const red709 = rgbOf(63, 102, 240, "bt709", "limited");
    for (const c of [red601, red709]) {
      expect(c[0]).toBeGreaterThanOrEqual(253);
      expect(c[1]).toBeLessThanOrEqual(2);
      expect(c[2]).toBeLessThanOrEqual(2);
    }
    expect(rgbOf(63, 102, 240, "bt601", "limited")[0]).toBeLessThan(240);
    expect(rgbOf(81, 90, 240, "bt709", "limited")[1]).toBeGreaterThan(15);
  });

  it("clamps out-of-gamut values instead of wrapping them", () => {
    expect(rgbOf(255, 255, 255, "bt601", "full")).toEqual([255, expect.any(Number), 255]);
    expect(rgbOf(0, 0, 0, "bt601", "full")[0]).toBe(0);
  });
});

describe("I420 planes", () => {
  // 4x4 frame: Y counts 0..15, U 100.., V 200.. (2x2 each).
  const layout: RawLayout = { format: "yuv420p", width: 4, height: 4, colour: { matrix: "bt601", range: "full" } };
  const frame = Uint8Array.from([...Array.from({ length: 16 }, (_, i) => i), 100, 101, 102, 103, 200, 201, 202, 203]);

  it("knows the frame size, odd sizes rounding the chroma planes up", () => {
    expect(yuv420Bytes(640, 480)).toBe(460_800);
    expect(yuv420Bytes(5, 3)).toBe(15 + 2 * 3 * 2);
  });

  it("interleaves at full resolution, each chroma sample covering its 2x2 block", () => {
    const full = interleaveYuv420(frame, layout, { x: 1, y: 1, width: 2, height: 2 }, false);
    expect([full.width, full.height]).toEqual([2, 2]);
    expect(Array.from(full.data)).toEqual([5, 100, 200, 6, 101, 201, 9, 102, 202, 10, 103, 203]);
  });

  it("interleaves at half resolution, luma averaged over each 2x2 block", () => {
    const half = interleaveYuv420(frame, layout, { x: 0, y: 0, width: 4, height: 4 }, true);
    expect([half.width, half.height]).toEqual([2, 2]);
    // Block (0,0): 0,1,4,5 -> 2.5 rounds to 3; block (1,1): 10,11,14,15 -> 12.5 -> 13.
    expect(Array.from(half.data)).toEqual([3, 100, 200, 5, 101, 201, 11, 102, 202, 13, 103, 203]);
  });
});

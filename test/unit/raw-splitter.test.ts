import { describe, expect, it } from "vitest";
import { RawSplitter, rawFrameBytes } from "../../src/camera/raw-splitter.js";

function frames(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(size, i + 1));
}

describe("RawSplitter", () => {
  it("knows the frame size of each pixel format", () => {
    expect(rawFrameBytes("yuv420p", 640, 480)).toBe(460_800);
    expect(rawFrameBytes("nv12", 641, 481)).toBe(641 * 481 + 2 * 321 * 241);
    expect(rawFrameBytes("rgb24", 640, 480)).toBe(921_600);
    expect(rawFrameBytes("gray", 640, 480)).toBe(307_200);
    expect(() => rawFrameBytes("rgb24", 0, 480)).toThrow(/positive/);
  });

  it("cuts the stream into frames of the given size wherever the reads end", () => {
    const expected = frames(5, 12);
    const stream = Buffer.concat(expected);
    for (let k = 0; k <= stream.length; k++) {
      for (const step of [1, 5, 12, 13, 60]) {
        const s = new RawSplitter(12);
        const out = [...s.feed(stream.subarray(0, k))];
        for (let i = k; i < stream.length; i += step) out.push(...s.feed(stream.subarray(i, i + step)));
        if (out.length !== 5 || !out.every((f, i) => f.equals(expected[i] as Buffer))) {
          expect.fail(`cut at ${k}, then reads of ${step}`);
        }
      }
    }
  });

  it("counts a partial frame as corrupt on reset and starts aligned again", () => {
    const s = new RawSplitter(4);
    expect(s.feed(Buffer.from([1, 2, 3, 4, 5, 6]))).toEqual([Buffer.from([1, 2, 3, 4])]);
    s.reset();
    expect(s.corrupt).toBe(1);
    expect(s.feed(Buffer.from([9, 9, 9, 9]))).toEqual([Buffer.from([9, 9, 9, 9])]);
  });
});

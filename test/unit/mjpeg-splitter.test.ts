import { beforeAll, describe, expect, it } from "vitest";
import { MjpegSplitter } from "../../src/camera/mjpeg-splitter.js";
import { noisyJpeg, scanStart, withEmbeddedThumbnail } from "../helpers/jpeg.js";
import { prng } from "../helpers/prng.js";

let a: Buffer;
let b: Buffer;
let c: Buffer;

beforeAll(async () => {
  [a, b, c] = await Promise.all([noisyJpeg(32, 24, 1), noisyJpeg(40, 30, 2), noisyJpeg(24, 16, 3)]);
});

/** Feeds `chunks` one by one and collects every frame. */
function run(splitter: MjpegSplitter, chunks: Buffer[]): Buffer[] {
  return chunks.flatMap((ch) => splitter.feed(ch));
}

/** Buffer-wise equality, much faster than a deep toEqual over thousands of cases. */
function same(frames: Buffer[], expected: Buffer[]): boolean {
  return frames.length === expected.length && frames.every((f, i) => f.equals(expected[i] as Buffer));
}

function bytewise(stream: Buffer): Buffer[] {
  return Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
}

describe("MjpegSplitter", () => {
  it("returns each frame of a stream, whole and unchanged", () => {
    const s = new MjpegSplitter();
    const frames = run(s, [Buffer.concat([a, b, c])]);
    expect(frames).toEqual([a, b, c]);
    expect(s.corrupt).toBe(0);
    expect(s.skippedBytes).toBe(0);
  });

  it("gives the same frames wherever the stream is cut into two reads", () => {
    const stream = Buffer.concat([a, b, c]);
    for (let k = 0; k <= stream.length; k++) {
      const s = new MjpegSplitter();
      const frames = run(s, [stream.subarray(0, k), stream.subarray(k)]);
      if (!same(frames, [a, b, c]) || s.corrupt + s.skippedBytes !== 0) expect.fail(`cut at byte ${k}`);
    }
  });

  it("gives the same frames when fed one byte at a time", () => {
    const s = new MjpegSplitter();
    expect(run(s, bytewise(Buffer.concat([a, b, c])))).toEqual([a, b, c]);
  });

  it("returns copies: later changes to the read buffer do not reach a returned frame", () => {
    const chunk = Buffer.concat([a]);
    const [frame] = new MjpegSplitter().feed(chunk);
    chunk.fill(0);
    expect(frame).toEqual(a);
  });

  it("skips and counts garbage before, between and after frames, even garbage with FF bytes and a stray EOI", () => {
    const junk = Buffer.from([0x00, 0xff, 0x00, 0xff, 0xd9, 0x12, 0xff, 0xff, 0x34, 0xd8, 0xff]);
    const text = Buffer.from("gst progress message\n");
    const stream = Buffer.concat([text, a, junk, b, junk, c, text]);
    const s = new MjpegSplitter();
    expect(run(s, [stream])).toEqual([a, b, c]);
    expect(s.corrupt).toBe(0);
    expect(s.skippedBytes).toBe(2 * text.length + 2 * junk.length);

    const t = new MjpegSplitter();
    expect(run(t, bytewise(stream))).toEqual([a, b, c]);
    expect(t.skippedBytes).toBe(s.skippedBytes);
  });

  it("drops and counts a frame cut short in its image data when the next one begins", () => {
    const start = scanStart(a);
    for (const k of [start + 1, Math.floor((start + a.length) / 2), a.length - 2, a.length - 1]) {
      const s = new MjpegSplitter();
      const frames = run(s, [Buffer.concat([a.subarray(0, k), b, c])]);
      expect(frames, `a cut at ${k} of ${a.length}`).toEqual([b, c]);
      expect(s.corrupt).toBe(1);
    }
  });

  it("recovers from a frame cut short in its header (frames right after it may be lost with it)", () => {
    // Another frame's bytes read as a segment length can make the splitter skip up to 64 KB. And a
    // cut can go unseen when the next frame's bytes line up as the rest of the header: then the
    // frame is passed on, and decoding it is what fails (or it decodes as the next frame).
    const after = Array.from({ length: Math.ceil(70_000 / a.length) + 3 }, () => a);
    for (let k = 3; k < scanStart(a); k++) {
      const s = new MjpegSplitter();
      const frames = run(s, [Buffer.concat([a.subarray(0, k), b, c, ...after])]);
      if (!same(frames.slice(-3), [a, a, a])) expect.fail(`a cut at ${k}`);
    }
  });

  it("keeps a frame whole when an EXIF thumbnail inside it has its own SOI and EOI", () => {
    const framed = withEmbeddedThumbnail(b, c);
    const s = new MjpegSplitter();
    expect(run(s, [Buffer.concat([a, framed, a])])).toEqual([a, framed, a]);
    expect(s.corrupt).toBe(0);
  });

  it("keeps progressive frames (several scans) whole", async () => {
    const p = await noisyJpeg(48, 32, 9, { progressive: true });
    const s = new MjpegSplitter();
    expect(run(s, bytewise(Buffer.concat([p, a, p])))).toEqual([p, a, p]);
  });

  it("discards a frame that outgrows the limit, counts it, and finds the next one", () => {
    const limit = Math.max(a.length, c.length) + 10;
    expect(b.length).toBeGreaterThan(limit);
    const s = new MjpegSplitter(limit);
    const frames = run(s, bytewise(Buffer.concat([a, b, c])));
    expect(frames).toEqual([a, c]);
    expect(s.corrupt).toBe(1);
  });

  it("does not grow without bound on a frame that never ends", () => {
    const s = new MjpegSplitter(64 * 1024);
    // SOI + SOS, then entropy data with no end: the splitter must give up on it, not keep it all.
    s.feed(a.subarray(0, scanStart(a)));
    const filler = Buffer.alloc(16 * 1024, 0x55);
    for (let i = 0; i < 100; i++) s.feed(filler);
    expect(s.corrupt).toBe(1);
    expect(run(s, [a])).toEqual([a]);
  });

  it("counts a partial frame as corrupt on reset, and starts clean", () => {
    const s = new MjpegSplitter();
    s.feed(a.subarray(0, a.length - 5));
    s.reset();
    expect(s.corrupt).toBe(1);
    expect(run(s, [a.subarray(a.length - 5), b])).toEqual([b]);
    s.reset();
    expect(s.corrupt).toBe(1);
  });

  it("splits a 1000-frame stream read in random chunk sizes", async () => {
    const distinct = await Promise.all(Array.from({ length: 20 }, (_, i) => noisyJpeg(24 + i, 16 + i, 100 + i)));
    const expected = Array.from({ length: 1000 }, (_, i) => distinct[i % distinct.length] as Buffer);
    const stream = Buffer.concat(expected);
    const rand = prng(7);
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; ) {
      const n = 1 + Math.floor(rand() * 9000);
      chunks.push(stream.subarray(i, i + n));
      i += n;
    }
    const s = new MjpegSplitter();
    const frames = run(s, chunks);
    expect(frames.length).toBe(1000);
    expect(frames.every((f, i) => f.equals(expected[i] as Buffer))).toBe(true);
    expect(s.corrupt + s.skippedBytes).toBe(0);
  });

  it("scans each byte once: a 0.4 MB frame fed one byte at a time completes", async () => {
    // A splitter that rescanned from the frame start would need ~10^11 steps here; this one ~10^6.
    const big = await noisyJpeg(800, 600, 11, { quality: 95 });
    expect(big.length).toBeGreaterThan(400_000);
    const s = new MjpegSplitter();
    const frames: Buffer[] = [];
    for (let i = 0; i < big.length; i++) frames.push(...s.feed(big.subarray(i, i + 1)));
    expect(frames).toEqual([big]);
  });
});

// Raw I420 frames give the model the same pixels as the same picture sent as an image: ffmpeg
// converts one RGB picture to yuv420p in each colour space the capture commands ask for, and the
// preprocessor's output for the raw frame is compared with its output for the RGB original.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameJpegEncoder } from "../../src/camera/frame-jpeg.js";
import type { RawLayout, YuvColour } from "../../src/camera/yuv420.js";
import type { InputSpec } from "../../src/model/manifest.js";
import { readManifest } from "../../src/model/model-file.js";
import { CorruptFrameError, Preprocessor } from "../../src/model/preprocess.js";
import { cleanup, MODEL, tempDir } from "../helpers/daemon.js";

const W = 640;
const H = 480;
const dir = tempDir();
let png: Buffer;
let spec: InputSpec;

beforeAll(async () => {
  spec = (await readManifest(MODEL)).input;
  const ref = join(dir, "ref.png");
  execFileSync("ffmpeg", ["-loglevel", "error", "-f", "lavfi", "-i", `testsrc2=size=${W}x${H}`, "-frames:v", "1", ref]);
  png = readFileSync(ref);
});
afterAll(() => cleanup(dir));

/** The reference picture as ffmpeg encodes I420 in `colour`. */
function i420(colour: YuvColour): Buffer {
  const range = colour.range === "limited" ? "tv" : "pc";
  return execFileSync(
    "ffmpeg",
    [
      ...["-loglevel", "error", "-i", join(dir, "ref.png")],
      ...["-vf", `scale=out_color_matrix=${colour.matrix}:out_range=${range},format=yuv420p`],
      ...["-f", "rawvideo", "-"],
    ],
    { maxBuffer: 1 << 24 },
  );
}

const layout = (colour: YuvColour): RawLayout => ({ format: "yuv420p", width: W, height: H, colour });

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
}

describe("raw I420 frames into the model", () => {
  const colours: YuvColour[] = [
    { matrix: "bt601", range: "limited" },
    { matrix: "bt709", range: "limited" },
    { matrix: "bt601", range: "full" },
  ];
  for (const colour of colours) {
    it(`gives the model the picture's pixels (${colour.matrix}, ${colour.range} range)`, async () => {
      const pre = new Preprocessor(spec);
      const fromRaw = await pre.run(i420(colour), layout(colour));
      const fromPng = await pre.run(png);
      expect([fromRaw.sourceWidth, fromRaw.sourceHeight]).toEqual([W, H]);
      expect(meanAbsDiff(fromRaw.rgb, fromPng.rgb)).toBeLessThan(2);
    });
  }

  it("is visibly wrong with the wrong colour matrix (so the check above can fail)", async () => {
    const pre = new Preprocessor(spec);
    const data = i420({ matrix: "bt709", range: "limited" });
    const wrong = await pre.run(data, layout({ matrix: "bt601", range: "full" }));
    expect(meanAbsDiff(wrong.rgb, (await pre.run(png)).rgb)).toBeGreaterThan(5);
  });

  it("crops the ROI (odd edges too) and pads 'contain' with black as the image path does", async () => {
    const colour: YuvColour = { matrix: "bt601", range: "limited" };
    const data = i420(colour);
    const odd = { x: 101, y: 51, width: 333, height: 301 };
    const even = { x: 100, y: 50, width: 334, height: 302 };
    const square = {
      ...spec,
      shape: [1, 3, 96, 96],
      resize: { mode: "contain" as const, kernel: "lanczos3" as const },
    };
    for (const pre of [
      new Preprocessor(spec, odd),
      new Preprocessor(spec, even),
      new Preprocessor(square),
      new Preprocessor(square, odd),
    ]) {
      const fromRaw = await pre.run(data, layout(colour));
      expect(meanAbsDiff(fromRaw.rgb, (await pre.run(png)).rgb)).toBeLessThan(2);
    }
  });

  it("refuses a frame of the wrong size as corrupt", async () => {
    const colour: YuvColour = { matrix: "bt601", range: "limited" };
    const short = i420(colour).subarray(0, 1000);
    await expect(new Preprocessor(spec).run(short, layout(colour))).rejects.toThrow(CorruptFrameError);
  });
});

describe("JPEGs of raw frames", () => {
  it("encodes the whole frame off the main thread, close to the original picture", async () => {
    const colour: YuvColour = { matrix: "bt709", range: "limited" };
    const encoder = new FrameJpegEncoder({ quality: 90 });
    try {
      const frame = { seq: 1, data: i420(colour), raw: layout(colour), capturedAt: 0, capturedMono: 0 };
      const jpeg = await encoder.jpeg(frame);
      expect(jpeg).not.toBeNull();
      const decoded = await sharp(jpeg as Uint8Array)
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect(decoded.info).toMatchObject({ width: W, height: H, channels: 3 });
      const original = await sharp(png).removeAlpha().raw().toBuffer();
      expect(meanAbsDiff(decoded.data, original)).toBeLessThan(4);
      // The frame keeps its pixels: the encoder worked on a copy.
      expect(frame.data.length).toBe(W * H * 1.5);
    } finally {
      await encoder.close();
    }
  });

  const colour: YuvColour = { matrix: "bt601", range: "limited" };
  const rawFrame = (seq: number) => ({ seq, data: i420(colour), raw: layout(colour), capturedAt: 0, capturedMono: 0 });

  it("refuses live-view frames beyond its queue instead of piling them up", async () => {
    const encoder = new FrameJpegEncoder({ quality: 90, maxViewPending: 1 });
    try {
      const frame = rawFrame(1);
      const [a, b] = await Promise.all([encoder.jpeg(frame, "view"), encoder.jpeg(frame, "view")]);
      expect(a).not.toBeNull();
      expect(b).toBeNull();
      expect(encoder.viewsRefused).toBe(1);
    } finally {
      await encoder.close();
    }
  });

  it("encodes samples before waiting live-view frames and never refuses one for a viewer", async () => {
    const encoder = new FrameJpegEncoder({ quality: 90, inWorker: 1, maxViewPending: 2 });
    try {
      const done: string[] = [];
      const track = (name: string, p: Promise<Uint8Array | null>) =>
        p.then((jpeg) => {
          if (jpeg) done.push(name);
          return jpeg;
        });
      // A greedy viewer: more frames than the encoder keeps for viewers.
      const views = [1, 2, 3, 4].map((i) => track(`view${i}`, encoder.jpeg(rawFrame(i), "view")));
      const samples = [5, 6, 7, 8, 9].map((i) => track(`sample${i}`, encoder.jpeg(rawFrame(i), "sample")));
      const got = await Promise.all([...views, ...samples]);
      expect(got.slice(4).every((j) => j !== null)).toBe(true);
      expect(encoder.samplesRefused).toBe(0);
      expect(encoder.viewsRefused).toBe(2);
      // view1 was in the worker already; view2 waited behind every sample.
      expect(done).toEqual(["view1", "sample5", "sample6", "sample7", "sample8", "sample9", "view2"]);
    } finally {
      await encoder.close();
    }
  });

  it("lets samples wait up to a memory bound, and counts one beyond it", async () => {
    const bytes = W * H * 1.5;
    const encoder = new FrameJpegEncoder({ quality: 90, inWorker: 1, maxSampleBytes: 2 * bytes });
    try {
      const got = await Promise.all([1, 2, 3, 4].map((i) => encoder.jpeg(rawFrame(i))));
      // One in the worker, two waiting, the fourth over the bound.
      expect(got.map((j) => j !== null)).toEqual([true, true, true, false]);
      expect(encoder.samplesRefused).toBe(1);
    } finally {
      await encoder.close();
    }
  });
});

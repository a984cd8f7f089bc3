// The "turbo-dct-box" preprocessing (native/jpeg-tensor): real libjpeg-turbo, real sharp for the
// reference decodes. Checked against a float reference (full-size decode, float area average),
// and fed every kind of bad frame: each must be a counted corrupt frame or a correct decode.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawLayout } from "../../src/camera/yuv420.js";
import { yuvColourCoefficients } from "../../src/camera/yuv420.js";
import { jpegTensorAddon } from "../../src/model/jpeg-tensor-addon.js";
import type { InputSpec } from "../../src/model/manifest.js";
import { CorruptFrameError, type Preprocessed, Preprocessor, type Roi } from "../../src/model/preprocess.js";
import { nativeParams } from "../../src/model/preprocess-native.js";
import { toTensor } from "../../src/model/tensor.js";
import { frameFeatures } from "../../src/monitor/frame-features.js";
import { cleanup, tempDir } from "../helpers/daemon.js";
import { prng } from "../helpers/prng.js";

const ROOT = join(import.meta.dirname, "..", "..");
const FOOTAGE = join(ROOT, "footage", "round-parts");
const SPEC: InputSpec = {
  name: "image",
  shape: [1, 3, 120, 160],
  layout: "NCHW",
  dtype: "float32",
  color: "RGB",
  resize: { mode: "fill", kernel: "turbo-dct-box" },
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};
const W = 160;
const H = 120;

const dir = tempDir();
let frames: Buffer[];
afterAll(() => cleanup(dir));
beforeAll(() => {
  frames = readdirSync(FOOTAGE)
    .filter((f) => f.endsWith(".jpg"))
    .sort()
    .slice(0, 6)
    .map((f) => readFileSync(join(FOOTAGE, f)));
});

interface Pixels {
  data: Float64Array;
  width: number;
  height: number;
  channels: number;
}

async function fullDecode(image: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: Float64Array.from(data), width: info.width, height: info.height, channels: info.channels };
}

/** Float area average of `rect` (source pixels) to dw x dh: the definition the native path approximates. */
function areaAverage(src: Pixels, rect: Roi, dw: number, dh: number): Float64Array {
  const ch = src.channels;
  const weights = (s0: number, len: number, n: number, limit: number) =>
    Array.from({ length: n }, (_, i) => {
      const a = s0 + (i * len) / n;
      const b = s0 + ((i + 1) * len) / n;
      const w: [number, number][] = [];
      for (let j = Math.floor(a); j < Math.min(Math.ceil(b), limit); j++) {
        const ov = Math.min(b, j + 1) - Math.max(a, j);
        if (ov > 0) w.push([j, ov / (b - a)]);
      }
      return w;
    });
  const wx = weights(rect.x, rect.width, dw, src.width);
  const wy = weights(rect.y, rect.height, dh, src.height);
  const out = new Float64Array(dw * dh * ch);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++)
      for (const [sy, fy] of wy[y] as [number, number][])
        for (const [sx, fx] of wx[x] as [number, number][])
          for (let c = 0; c < ch; c++)
            out[(y * dw + x) * ch + c] =
              (out[(y * dw + x) * ch + c] as number) + (src.data[(sy * src.width + sx) * ch + c] as number) * fx * fy;
  return out;
}

function diffs(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

const jpegOf = (img: sharp.Sharp, opts: sharp.JpegOptions = {}) => img.jpeg({ quality: 90, ...opts }).toBuffer();

async function expectCorrupt(p: Promise<Preprocessed>, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptFrameError);
  if (message) expect((err as Error).message).toMatch(message);
}

describe("turbo-dct-box against a float reference", () => {
  it("gives the area average of the full-size decode on footage frames (320x240 -> 1/2 scale)", async () => {
    const pre = new Preprocessor(SPEC);
    for (const jpeg of frames) {
      const got = await pre.run(jpeg);
      expect([got.sourceWidth, got.sourceHeight]).toEqual([320, 240]);
      const ref = areaAverage(await fullDecode(jpeg), { x: 0, y: 0, width: 320, height: 240 }, W, H);
      const d = diffs(got.rgb, ref);
      // libjpeg's scaled IDCT is an area average computed in the frequency domain (and chroma is
      // upsampled differently): close, not identical.
      expect(d.mean).toBeLessThan(1.5);
      expect(d.max).toBeLessThan(24);
      expect(diffs(got.tensor, toTensor(got.rgb, SPEC)).max).toBe(0);
    }
  });

  it("writes the layout, colour order and normalisation the manifest says (NHWC, BGR, mean/std)", async () => {
    const spec: InputSpec = {
      ...SPEC,
      shape: [1, 120, 160, 3],
      layout: "NHWC",
      color: "BGR",
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    };
    const a = await new Preprocessor(spec).run(frames[0] as Buffer);
    const b = await new Preprocessor(SPEC).run(frames[0] as Buffer);
    expect(a.rgb).toEqual(b.rgb);
    expect(a.tensor).toEqual(toTensor(a.rgb, spec));
  });

  it("keeps models packed with a sharp kernel on the sharp path", async () => {
    const old: InputSpec = { ...SPEC, resize: { mode: "fill", kernel: "lanczos3" } };
    const got = await new Preprocessor(old).run(frames[1] as Buffer);
    const viaSharp = await sharp(frames[1] as Buffer)
      .resize(W, H, { fit: "fill", kernel: "lanczos3" })
      .raw()
      .toBuffer();
    expect(Buffer.from(got.rgb)).toEqual(viaSharp);
    const native = await new Preprocessor(SPEC).run(frames[1] as Buffer);
    expect(Buffer.from(native.rgb)).not.toEqual(viaSharp);
  });

  it("crops the ROI before resampling, and fits cover and contain", async () => {
    const jpeg = frames[2] as Buffer;
    const full = await fullDecode(jpeg);
    const roi = { x: 41, y: 23, width: 201, height: 171 };
    const got = await new Preprocessor(SPEC, roi).run(jpeg);
    // 201x171 at scale 7/8 is still above 160x120: a finer DCT scale, then the box.
    expect(diffs(got.rgb, areaAverage(full, roi, W, H)).mean).toBeLessThan(2);

    const square: InputSpec = { ...SPEC, shape: [1, 3, 96, 96], resize: { mode: "contain", kernel: "turbo-dct-box" } };
    const boxed = await new Preprocessor(square).run(jpeg);
    // 320x240 in 96x96: 96x72 centred, 12 black rows above and below.
    expect(boxed.rgb.subarray(0, 96 * 12 * 3).every((v) => v === 0)).toBe(true);
    expect(boxed.rgb.subarray(96 * 84 * 3).every((v) => v === 0)).toBe(true);
    expect(
      diffs(
        boxed.rgb.subarray(96 * 12 * 3, 96 * 84 * 3),
        areaAverage(full, { x: 0, y: 0, width: 320, height: 240 }, 96, 72),
      ).mean,
    ).toBeLessThan(2);

    const covered = await new Preprocessor({ ...square, resize: { mode: "cover", kernel: "turbo-dct-box" } }).run(jpeg);
    expect(diffs(covered.rgb, areaAverage(full, { x: 40, y: 0, width: 240, height: 240 }, 96, 96)).mean).toBeLessThan(
      2,
    );
  });
});

/** I420 of a smooth, colourful w x h picture, with its RGB (ffmpeg converts, bt601 limited). */
function i420Picture(w: number, h: number): { i420: Buffer; nv12: Buffer } {
  const args = (fmt: string) => [
    ...["-loglevel", "error", "-f", "lavfi", "-i", `testsrc2=size=${w}x${h}`, "-frames:v", "1"],
    ...["-vf", `scale=out_color_matrix=bt601:out_range=tv,format=${fmt}`, "-f", "rawvideo", "-"],
  ];
  return {
    i420: execFileSync("ffmpeg", args("yuv420p"), { maxBuffer: 1 << 26 }),
    nv12: execFileSync("ffmpeg", args("nv12"), { maxBuffer: 1 << 26 }),
  };
}

describe("raw YUV 4:2:0 in one pass", () => {
  const colour = { matrix: "bt601", range: "limited" } as const;
  const layout = (width: number, height: number): RawLayout => ({ format: "yuv420p", width, height, colour });

  /** Float reference: full-resolution YUV -> RGB per pixel (chroma per 2x2 block), then the area average. */
  function reference(data: Buffer, w: number, h: number, rect: Roi): Float64Array {
    const k = yuvColourCoefficients(colour);
    const cw = Math.ceil(w / 2);
    const u0 = w * h;
    const v0 = u0 + cw * Math.ceil(h / 2);
    const rgb = new Float64Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const c = (y >> 1) * cw + (x >> 1);
        const yy = ((data[y * w + x] as number) - k.yOffset) * k.yScale;
        const u = (data[u0 + c] as number) - 128;
        const v = (data[v0 + c] as number) - 128;
        const i = (y * w + x) * 3;
        rgb[i] = yy + k.rv * v;
        rgb[i + 1] = yy + k.gu * u + k.gv * v;
        rgb[i + 2] = yy + k.bu * u;
      }
    return areaAverage({ data: rgb, width: w, height: h, channels: 3 }, rect, W, H).map((v) =>
      Math.min(255, Math.max(0, v)),
    );
  }

  it("1280x720 I420: the area average of the converted picture; NV12 gives the same pixels", async () => {
    const { i420, nv12 } = i420Picture(1280, 720);
    const got = await new Preprocessor(SPEC).run(i420, layout(1280, 720));
    expect([got.sourceWidth, got.sourceHeight]).toEqual([1280, 720]);
    const d = diffs(got.rgb, reference(i420, 1280, 720, { x: 0, y: 0, width: 1280, height: 720 }));
    // Resampling before converting equals converting before resampling (the conversion is
    // affine), up to clamping out-of-gamut colours and rounding.
    expect(d.mean).toBeLessThan(0.6);
    expect(d.max).toBeLessThan(8);
    const addon = jpegTensorAddon();
    const t = new Float32Array(W * H * 3);
    const rgb = new Uint8Array(W * H * 3);
    addon.nv12Sync(nv12, 1280, 720, nativeParams(SPEC, undefined, layout(1280, 720)), t, rgb);
    expect(diffs(rgb, got.rgb).max).toBeLessThanOrEqual(1);
  });

  /** An I420 frame of any size (ffmpeg rounds odd ones): smooth gradients and a bright disc. */
  function synthetic(w: number, h: number): Buffer {
    const cw = Math.ceil(w / 2);
    const ch = Math.ceil(h / 2);
    const out = Buffer.alloc(w * h + 2 * cw * ch);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        out[y * w + x] = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 3) ** 2 ? 220 : 16 + ((x + y) % 200);
    for (let y = 0; y < ch; y++)
      for (let x = 0; x < cw; x++) {
        out[w * h + y * cw + x] = 64 + ((x * 2) % 128);
        out[w * h + cw * ch + y * cw + x] = 64 + ((y * 3) % 128);
      }
    return out;
  }

  it("odd sizes and an odd ROI (321x239)", async () => {
    const i420 = synthetic(321, 239);
    const roi = { x: 3, y: 5, width: 301, height: 221 };
    const got = await new Preprocessor(SPEC, roi).run(i420, layout(321, 239));
    expect(diffs(got.rgb, reference(i420, 321, 239, roi)).mean).toBeLessThan(0.8);
  });

  it("a frame of the wrong length or an ROI outside it is a corrupt frame", async () => {
    const { i420 } = i420Picture(320, 240);
    await expectCorrupt(new Preprocessor(SPEC).run(i420.subarray(0, i420.length - 1), layout(320, 240)), /expected/);
    await expectCorrupt(
      new Preprocessor(SPEC, { x: 200, y: 0, width: 200, height: 100 }).run(i420, layout(320, 240)),
      /outside/,
    );
  });
});

describe("bad and unusual frames: a counted corrupt frame or a correct decode", () => {
  const pre = () => new Preprocessor(SPEC);

  it("truncated JPEG", async () => {
    const jpeg = frames[0] as Buffer;
    for (const keep of [2, 100, Math.floor(jpeg.length / 2), jpeg.length - 2]) {
      await expectCorrupt(pre().run(jpeg.subarray(0, keep)));
    }
  });

  it("corrupt JPEG: garbage, an empty buffer, and 300 random byte mutations", async () => {
    await expectCorrupt(pre().run(Buffer.from([0xff, 0xd8, 0xff, 1, 2, 3, 4, 5, 6, 7, 8])));
    await expectCorrupt(pre().run(Buffer.alloc(0)));
    const rand = prng(18);
    const jpeg = frames[3] as Buffer;
    let corrupt = 0;
    for (let i = 0; i < 300; i++) {
      const bad = Buffer.from(jpeg);
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) bad[3 + Math.floor(rand() * (bad.length - 3))] = Math.floor(rand() * 256);
      try {
        const got = await pre().run(bad);
        expect(got.rgb.length).toBe(W * H * 3);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptFrameError);
        corrupt++;
      }
    }
    expect(corrupt).toBeGreaterThan(0);
  });

  it("progressive JPEG decodes to the same picture as the baseline one", async () => {
    const raw = await sharp(frames[4] as Buffer).toBuffer();
    const progressive = await jpegOf(sharp(raw), { progressive: true });
    const baseline = await jpegOf(sharp(raw));
    const a = await pre().run(progressive);
    const b = await pre().run(baseline);
    expect(diffs(a.rgb, b.rgb).mean).toBeLessThan(0.5);
  });

  it("greyscale JPEG decodes to grey RGB; CMYK JPEG is a corrupt frame that says why", async () => {
    const grey = await jpegOf(sharp(frames[0] as Buffer).greyscale());
    const got = await pre().run(grey);
    for (let i = 0; i < got.rgb.length; i += 3) {
      expect(got.rgb[i]).toBe(got.rgb[i + 1]);
      expect(got.rgb[i]).toBe(got.rgb[i + 2]);
    }
    const cmyk = await sharp(frames[0] as Buffer)
      .toColourspace("cmyk")
      .jpeg()
      .toBuffer();
    await expectCorrupt(pre().run(cmyk), /CMYK/);
  });

  it("PNG frame: sharp decodes, the same area average resamples", async () => {
    const png = await sharp(frames[5] as Buffer)
      .png()
      .toBuffer();
    const got = await pre().run(png);
    const ref = areaAverage(await fullDecode(png), { x: 0, y: 0, width: 320, height: 240 }, W, H);
    expect(diffs(got.rgb, ref).max).toBeLessThanOrEqual(1);
    await expectCorrupt(new Preprocessor(SPEC, { x: 0, y: 0, width: 400, height: 10 }).run(png), /outside/);
    await expectCorrupt(pre().run(png.subarray(0, 200)));
  });

  it("odd sizes: 321x239, 1x1, and 5000x3000 (beyond the 1/8 scale)", async () => {
    const base = sharp(frames[0] as Buffer);
    const odd = await jpegOf(base.clone().resize(321, 239, { fit: "fill" }));
    const got = await pre().run(odd);
    expect([got.sourceWidth, got.sourceHeight]).toEqual([321, 239]);
    expect(
      diffs(got.rgb, areaAverage(await fullDecode(odd), { x: 0, y: 0, width: 321, height: 239 }, W, H)).mean,
    ).toBeLessThan(1.5);

    const one = await jpegOf(
      sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 40, b: 90 } } }),
    );
    const dot = await pre().run(one);
    const [r, g, b] = [dot.rgb[0] as number, dot.rgb[1] as number, dot.rgb[2] as number];
    expect(Math.abs(r - 200) + Math.abs(g - 40) + Math.abs(b - 90)).toBeLessThan(15);
    for (let i = 0; i < dot.rgb.length; i += 3) expect([dot.rgb[i], dot.rgb[i + 1], dot.rgb[i + 2]]).toEqual([r, g, b]);

    const big = await jpegOf(base.clone().resize(5000, 3000, { fit: "fill" }));
    const addon = jpegTensorAddon();
    const res = addon.jpegSync(big, nativeParams(SPEC), new Float32Array(W * H * 3), new Uint8Array(W * H * 3));
    expect(res).toEqual([5000, 3000, 1, 8]);
    const large = await pre().run(big);
    expect(
      diffs(large.rgb, areaAverage(await fullDecode(big), { x: 0, y: 0, width: 5000, height: 3000 }, W, H)).mean,
    ).toBeLessThan(1.5);
  });

  it("a JPEG whose header claims a huge size is refused before any allocation", async () => {
    const jpeg = Buffer.from(frames[0] as Buffer);
    // SOF0: FF C0, length, precision, height (2 bytes), width (2 bytes).
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(60000, sof + 5);
    jpeg.writeUInt16BE(60000, sof + 7);
    await expectCorrupt(pre().run(jpeg), /sides must be/);
  });

  it("an ROI outside the frame is a corrupt frame", async () => {
    for (const roi of [
      { x: 300, y: 0, width: 40, height: 40 },
      { x: 0, y: 0, width: 320, height: 241 },
    ]) {
      await expectCorrupt(new Preprocessor(SPEC, roi).run(frames[0] as Buffer), /outside/);
    }
  });
});

describe("inline and off the main thread", () => {
  it("parallel calls on libuv's pool give the same pixels as inline calls", async () => {
    const addon = jpegTensorAddon();
    const params = nativeParams(SPEC);
    const inline = frames.map((f) => {
      const rgb = new Uint8Array(W * H * 3);
      addon.jpegSync(f, params, new Float32Array(W * H * 3), rgb);
      return rgb;
    });
    const pooled = await Promise.all(
      [...frames, ...frames, ...frames].map(async (f) => {
        const rgb = new Uint8Array(W * H * 3);
        await addon.jpeg(f, params, new Float32Array(W * H * 3), rgb);
        return rgb;
      }),
    );
    for (const [i, rgb] of pooled.entries()) expect(rgb).toEqual(inline[i % frames.length]);
  });

  it("frames above 720p go to the pool, smaller ones inline: the same pixels either way", async () => {
    // The first JPEG's size is unknown (pool), the next ones inline; a 1080p frame goes back to the pool.
    const big = await sharp(frames[0] as Buffer)
      .resize(1920, 1080, { fit: "fill" })
      .jpeg()
      .toBuffer();
    const pre = new Preprocessor(SPEC);
    const seq = [frames[0], frames[1], big, big, frames[0]] as Buffer[];
    const got: Uint8Array[] = [];
    for (const f of seq) {
      const r = await pre.run(f);
      got.push(Uint8Array.from(r.rgb));
      r.share?.release();
    }
    const fresh = async (f: Buffer) => Uint8Array.from((await new Preprocessor(SPEC).run(f)).rgb);
    expect(got[0]).toEqual(got[4]);
    expect(got[1]).toEqual(await fresh(frames[1] as Buffer));
    expect(got[2]).toEqual(got[3]);
    expect(got[3]).toEqual(await fresh(big));
  });
});

describe("drift features in the same pass", () => {
  it("equal the JavaScript features of the same pixels, bit for bit (JPEG, ROI, contain, raw, PNG)", async () => {
    const i420 = execFileSync(
      "ffmpeg",
      ["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1"].concat([
        "-pix_fmt",
        "yuv420p",
        "-f",
        "rawvideo",
        "-",
      ]),
    );
    const raw: RawLayout = {
      format: "yuv420p",
      width: 320,
      height: 240,
      colour: { matrix: "bt601", range: "limited" },
    };
    const png = await sharp(frames[2] as Buffer)
      .png()
      .toBuffer();
    const contain: InputSpec = { ...SPEC, resize: { ...SPEC.resize, mode: "contain" } };
    const cases: [Preprocessor, Buffer, RawLayout?][] = [
      ...frames.map((f): [Preprocessor, Buffer] => [new Preprocessor(SPEC), f]),
      [new Preprocessor(SPEC, { x: 17, y: 9, width: 250, height: 201 }), frames[1] as Buffer],
      [new Preprocessor(contain), frames[3] as Buffer],
      [new Preprocessor(SPEC), i420, raw],
      [new Preprocessor(SPEC), png],
    ];
    for (const [pre, frame, layout] of cases) {
      const r = await pre.run(frame, layout);
      expect(r.features).toEqual(frameFeatures(r.rgb, pre.width, pre.height));
      expect(r.features.sharpness).toBeGreaterThan(0);
    }
    // The sharp path (models packed with a sharp kernel) computes the same features in JavaScript.
    const old = new Preprocessor({ ...SPEC, resize: { ...SPEC.resize, kernel: "lanczos3" } });
    const r = await old.run(frames[0] as Buffer);
    expect(r.features).toEqual(frameFeatures(r.rgb, old.width, old.height));
  });
});

describe("buffer reuse", () => {
  it("reuses a frame's tensor only after every holder let go, and a held one keeps its values", async () => {
    const pre = new Preprocessor(SPEC);
    const files = readdirSync(FOOTAGE).filter((f) => f.endsWith(".jpg"));
    const [a, b, c] = files.slice(0, 3).map((f) => readFileSync(join(FOOTAGE, f)));
    const first = await pre.run(a as Buffer);
    const kept = Float32Array.from(first.tensor);
    const release = first.share?.hold(); // shadow mode keeps the tensor past the frame
    first.share?.release(); // the pipeline's listeners have run
    const second = await pre.run(b as Buffer);
    expect(second.tensor).not.toBe(first.tensor); // still held: not reused
    expect(first.tensor).toEqual(kept);
    second.share?.release();
    release?.();
    release?.(); // a second call changes nothing
    const third = await pre.run(c as Buffer);
    expect([first.tensor, second.tensor]).toContain(third.tensor); // given back: reused
    expect(Array.from(third.tensor)).toEqual(Array.from((await new Preprocessor(SPEC).run(c as Buffer)).tensor));
  });
});

describe("linesight dataset pack", () => {
  it("packs the pixels the daemon's preprocessing gives (the same code), whatever the frame's size", async () => {
    const model = join(dir, "model");
    const data = join(dir, "data");
    execFileSync("mkdir", ["-p", model, data]);
    const manifest = JSON.parse(readFileSync(join(ROOT, "models", "round-parts", "manifest.json"), "utf8"));
    manifest.input = SPEC;
    writeFileSync(join(model, "manifest.json"), JSON.stringify(manifest));
    const names = readdirSync(FOOTAGE)
      .filter((f) => f.endsWith(".jpg"))
      .sort()
      .slice(0, 6);
    for (const n of names) writeFileSync(join(data, n), readFileSync(join(FOOTAGE, n)));
    // Device samples from another camera: larger, and of another aspect ratio. Retraining must
    // see them as the daemon does on that device, resized by the same code.
    for (const [n, w, h] of [
      [names[0] as string, 640, 480],
      [names[1] as string, 200, 200],
    ] as const) {
      const big = await sharp(readFileSync(join(FOOTAGE, n)))
        .resize(w, h, { fit: "fill" })
        .jpeg()
        .toBuffer();
      writeFileSync(join(data, `${w}x${h}-${n}`), big);
      names.push(`${w}x${h}-${n}`);
    }
    writeFileSync(join(data, "labels.csv"), `file,label\n${names.map((n) => `${n},good`).join("\n")}\n`);
    execFileSync(process.execPath, [
      join(ROOT, "dist", "src", "cli", "main.js"),
      "dataset",
      "pack",
      "--data",
      data,
      "--model",
      model,
      "--out",
      join(dir, "packed"),
    ]);
    const packed = readFileSync(join(dir, "packed.u8"));
    const pre = new Preprocessor(SPEC);
    for (let i = 0; i < names.length; i++) {
      const want = (await pre.run(readFileSync(join(data, names[i] as string)))).rgb;
      expect(new Uint8Array(packed.subarray(i * W * H * 3, (i + 1) * W * H * 3))).toEqual(want);
    }
  });
});

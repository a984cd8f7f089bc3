// The "turbo-dct-box" resize: frame -> model tensor in one native pass (native/jpeg-tensor).
// JPEG: libjpeg-turbo decodes straight to the smallest DCT scale (1/8 .. 8/8) at which the region
// still covers the model input, then an area (box) average to the input size. Raw YUV 4:2:0: the
// same area average from the planes, converted to RGB at the input size. Other encoded frames
// (PNG): decoded by sharp, then the same area average at full resolution.
import sharp from "sharp";
import { type RawLayout, yuvColourCoefficients } from "../camera/yuv420.js";
import { featuresFromArray } from "../monitor/frame-features.js";
import { CORRUPT_FRAME_CODE, jpegTensorAddon, type NativeResult } from "./jpeg-tensor-addon.js";
import type { InputSpec } from "./manifest.js";
import { BufferShare, CorruptFrameError, type Preprocessed, type Roi } from "./preprocess.js";
import { inputSize } from "./tensor.js";

export const NATIVE_KERNEL = "turbo-dct-box";

const MODES = { fill: 0, cover: 1, contain: 2 } as const;
const N_PARAMS = 22;

/** The addon's parameter block (see read_params in native/jpeg-tensor/src/addon.c). */
export function nativeParams(spec: InputSpec, roi?: Roi, raw?: RawLayout): Float64Array {
  const { width, height } = inputSize(spec);
  const p = new Float64Array(N_PARAMS);
  p.set([width, height, MODES[spec.resize.mode]]);
  if (roi) p.set([1, roi.x, roi.y, roi.width, roi.height], 3);
  p[8] = spec.layout === "NHWC" ? 1 : 0;
  p[9] = spec.color === "BGR" ? 1 : 0;
  for (let c = 0; c < 3; c++) {
    p[10 + c] = spec.scale / (spec.std[c] as number);
    p[13 + c] = -(spec.mean[c] as number) / (spec.std[c] as number);
  }
  if (raw) {
    const k = yuvColourCoefficients(raw.colour);
    p.set([k.yOffset, k.yScale, k.rv, k.gu, k.gv, k.bu], 16);
  }
  return p;
}

const JPEG_SOI = [0xff, 0xd8, 0xff];
/** Free tensor + RGB pairs kept for reuse (the pipeline and shadow mode hold at most a few). */
const POOL_MAX = 4;
/**
 * Frames up to this size are preprocessed inline, on the calling thread: about 0.25 ms for a
 * 320x240 JPEG and 1 ms for 720p here, less than the hand-over to libuv's pool and back adds to
 * the latency (0.05-0.7 ms, a thread to wake each way). Larger frames go to the pool so the
 * event loop never waits long on pixels.
 */
export const INLINE_MAX_PIXELS = 1280 * 720;

interface Buffers {
  tensor: Float32Array;
  rgb: Uint8Array;
  features: Float64Array;
}

function isJpeg(image: Uint8Array): boolean {
  return JPEG_SOI.every((b, i) => image[i] === b);
}

export class NativePreprocessor {
  private readonly values: number;
  private readonly params: Float64Array;
  private readonly rawParams = new Map<string, Float64Array>();
  private readonly addon = jpegTensorAddon();
  private readonly pool: Buffers[] = [];
  /** The last JPEG's pixels decide inline or pool for the next: a JPEG's size is known only once decoded. */
  private jpegPixels = Number.POSITIVE_INFINITY;

  constructor(
    private readonly spec: InputSpec,
    private readonly roi?: Roi,
  ) {
    const { width, height } = inputSize(spec);
    this.values = width * height * 3;
    this.params = nativeParams(spec, roi);
  }

  async run(image: Buffer, raw?: RawLayout): Promise<Preprocessed> {
    const n = this.values;
    const buffers = this.pool.pop() ?? {
      tensor: new Float32Array(n),
      rgb: new Uint8Array(n),
      features: new Float64Array(6),
    };
    const { tensor, rgb, features } = buffers;
    const a = this.addon;
    let result: NativeResult;
    try {
      if (raw) {
        const p = this.paramsFor(raw);
        result = inline(raw.width * raw.height)
          ? a.i420Sync(image, raw.width, raw.height, p, tensor, rgb, features)
          : await a.i420(image, raw.width, raw.height, p, tensor, rgb, features);
      } else if (isJpeg(image)) {
        result = inline(this.jpegPixels)
          ? a.jpegSync(image, this.params, tensor, rgb, features)
          : await a.jpeg(image, this.params, tensor, rgb, features);
        this.jpegPixels = result[0] * result[1];
      } else {
        const px = await decodeWithSharp(image);
        result = inline(px.width * px.height)
          ? a.rgbSync(px.data, px.width, px.height, this.params, tensor, rgb, features)
          : await a.rgb(px.data, px.width, px.height, this.params, tensor, rgb, features);
      }
    } catch (err) {
      this.giveBack(buffers);
      if ((err as { code?: string }).code === CORRUPT_FRAME_CODE) {
        throw new CorruptFrameError(`cannot use frame: ${(err as Error).message}`);
      }
      throw err;
    }
    const share = new BufferShare(() => this.giveBack(buffers));
    // A copy: the array goes back to the pool with the buffers.
    const copied = featuresFromArray(features);
    return { rgb, tensor, features: copied, sourceWidth: result[0], sourceHeight: result[1], share };
  }

  private giveBack(buffers: Buffers): void {
    if (this.pool.length < POOL_MAX) this.pool.push(buffers);
  }

  private paramsFor(raw: RawLayout): Float64Array {
    const key = `${raw.colour.matrix}/${raw.colour.range}`;
    let p = this.rawParams.get(key);
    if (!p) {
      p = nativeParams(this.spec, this.roi, raw);
      this.rawParams.set(key, p);
    }
    return p;
  }
}

function inline(pixels: number): boolean {
  return pixels <= INLINE_MAX_PIXELS;
}

/** PNG and other non-JPEG frames: full-size sRGB pixels from sharp. */
async function decodeWithSharp(image: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  try {
    const { data, info } = await sharp(image, { failOn: "error" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion to sRGB`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw new CorruptFrameError(`cannot decode frame: ${(err as Error).message}`);
  }
}

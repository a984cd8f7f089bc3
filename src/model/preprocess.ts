// Frame (encoded image or raw YUV) -> resized RGB pixels -> model tensor. The manifest's resize
// kernel picks the implementation: sharp (libvips) for its kernels, the native one-pass path
// (preprocess-native.ts) for "turbo-dct-box".
import sharp from "sharp";
import { interleaveYuv420, type RawLayout, yuv420Bytes, yuvBlack, yuvToRgb } from "../camera/yuv420.js";
import { UserFacingError } from "../errors.js";
import { type FrameFeatures, frameFeatures } from "../monitor/frame-features.js";
import type { InputSpec } from "./manifest.js";
import { NATIVE_KERNEL, NativePreprocessor } from "./preprocess-native.js";
import { inputSize, toTensor } from "./tensor.js";

export interface Roi {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Preprocessed {
  /** Interleaved RGB at the model's input size: the pixels the model saw, also used for features. */
  rgb: Uint8Array;
  tensor: Float32Array;
  /** Drift and OOD statistics of `rgb` (the native path computes them in the same pass). */
  features: FrameFeatures;
  /** Size of the decoded frame before any crop. */
  sourceWidth: number;
  sourceHeight: number;
  /** The native path's buffers, reused once every holder let go; absent: plain garbage-collected arrays. */
  share?: BufferShare;
}

/**
 * Preprocessing buffers handed back for reuse once every holder let go. Allocating a fresh
 * 230 kB tensor and its RGB image per frame cost a third of the daemon's CPU at 30 fps (page
 * faults on first touch, then the collector); reusing them is safe only if whoever keeps them
 * past the frame says so. The pipeline holds them from preprocessing until its listeners ran.
 */
export class BufferShare {
  private holders = 1;

  constructor(private readonly giveBack: () => void) {}

  /** Keeps the buffers from reuse; call the returned function (once) when done with them. */
  hold(): () => void {
    this.holders++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.release();
    };
  }

  /** Lets go of the first hold (the pipeline's). */
  release(): void {
    if (--this.holders === 0) this.giveBack();
  }
}

export class CorruptFrameError extends UserFacingError {}

// One libvips thread per image: the daemon's parallelism comes from the pipeline, not from
// splitting one small image over cores, and onnxruntime needs the other core.
sharp.concurrency(1);
sharp.cache(false);

const FIT = { fill: "fill", cover: "cover", contain: "contain" } as const;

export class Preprocessor {
  readonly width: number;
  readonly height: number;
  /** Input spec and crop: two preprocessors with the same key make the same tensor of a frame. */
  readonly key: string;
  private readonly native: NativePreprocessor | undefined;

  constructor(
    private readonly spec: InputSpec,
    private readonly roi?: Roi,
  ) {
    const size = inputSize(spec);
    this.width = size.width;
    this.height = size.height;
    this.key = JSON.stringify([spec, roi ?? null]);
    this.native = spec.resize.kernel === NATIVE_KERNEL ? new NativePreprocessor(spec, roi) : undefined;
  }

  /** `raw` describes `image` when it is uncompressed; otherwise it is decoded (JPEG, PNG). */
  async run(image: Buffer, raw?: RawLayout): Promise<Preprocessed> {
    if (this.native) return this.native.run(image, raw);
    if (raw) return this.runRaw(image, raw);
    let pipeline = sharp(image, { failOn: "error", sequentialRead: true });
    let meta: sharp.Metadata;
    try {
      meta = await pipeline.metadata();
    } catch (err) {
      throw new CorruptFrameError(`cannot decode frame: ${(err as Error).message}`);
    }
    const sourceWidth = meta.width ?? 0;
    const sourceHeight = meta.height ?? 0;
    if (this.roi) {
      const r = this.checkedRoi(sourceWidth, sourceHeight);
      pipeline = pipeline.extract({ left: r.x, top: r.y, width: r.width, height: r.height });
    }
    let data: Buffer;
    try {
      data = await pipeline
        .resize(this.width, this.height, this.resizeOptions({ r: 0, g: 0, b: 0 }))
        .removeAlpha()
        .toColourspace("srgb")
        .raw()
        .toBuffer();
    } catch (err) {
      throw new CorruptFrameError(`cannot decode frame: ${(err as Error).message}`);
    }
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return this.made(rgb, sourceWidth, sourceHeight);
  }

  /**
   * Raw YUV: one libvips resize of the interleaved planes (at chroma resolution when the model
   * wants at most half the region each way), then YUV -> RGB for the model's pixels only.
   */
  private async runRaw(image: Buffer, layout: RawLayout): Promise<Preprocessed> {
    const { width, height } = layout;
    const expected = yuv420Bytes(width, height);
    if (image.length !== expected) {
      throw new CorruptFrameError(
        `raw frame of ${image.length} bytes, expected ${expected} for ${width}x${height} I420`,
      );
    }
    const region = this.roi ? this.checkedRoi(width, height) : { x: 0, y: 0, width, height };
    // Half resolution needs the region on chroma sample edges (even), or it would shift a pixel.
    const even = region.x % 2 === 0 && region.y % 2 === 0 && region.width % 2 === 0 && region.height % 2 === 0;
    const half = even && this.width * 2 <= region.width && this.height * 2 <= region.height;
    const yuv = interleaveYuv420(image, layout, region, half);
    const [y, u, v] = yuvBlack(layout.colour);
    const resized = await sharp(yuv.data, { raw: { width: yuv.width, height: yuv.height, channels: 3 } })
      .resize(this.width, this.height, this.resizeOptions({ r: y, g: u, b: v }))
      .raw()
      .toBuffer();
    const rgb = yuvToRgb(resized, this.width * this.height, layout.colour);
    return this.made(rgb, width, height);
  }

  private made(rgb: Uint8Array, sourceWidth: number, sourceHeight: number): Preprocessed {
    const features = frameFeatures(rgb, this.width, this.height);
    return { rgb, tensor: toTensor(rgb, this.spec), features, sourceWidth, sourceHeight };
  }

  private resizeOptions(background: { r: number; g: number; b: number }): sharp.ResizeOptions {
    const kernel = this.spec.resize.kernel as Exclude<InputSpec["resize"]["kernel"], typeof NATIVE_KERNEL>;
    return { fit: FIT[this.spec.resize.mode], kernel, background };
  }

  private checkedRoi(sourceWidth: number, sourceHeight: number): Roi {
    const r = this.roi as Roi;
    if (r.x + r.width > sourceWidth || r.y + r.height > sourceHeight) {
      throw new CorruptFrameError(
        `ROI ${r.width}x${r.height}+${r.x}+${r.y} lies outside the ${sourceWidth}x${sourceHeight} frame`,
      );
    }
    return r;
  }
}

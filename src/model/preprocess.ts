// Frame (encoded image) -> resized RGB pixels -> model tensor, with sharp (libvips).
import sharp from "sharp";
import { UserFacingError } from "../errors.js";
import type { InputSpec } from "./manifest.js";
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
  /** Size of the decoded frame before any crop. */
  sourceWidth: number;
  sourceHeight: number;
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

  constructor(
    private readonly spec: InputSpec,
    private readonly roi?: Roi,
  ) {
    const size = inputSize(spec);
    this.width = size.width;
    this.height = size.height;
  }

  async run(image: Buffer): Promise<Preprocessed> {
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
      const r = this.roi;
      if (r.x + r.width > sourceWidth || r.y + r.height > sourceHeight) {
        throw new CorruptFrameError(
          `ROI ${r.width}x${r.height}+${r.x}+${r.y} lies outside the ${sourceWidth}x${sourceHeight} frame`,
        );
      }
      pipeline = pipeline.extract({ left: r.x, top: r.y, width: r.width, height: r.height });
    }
    let data: Buffer;
    try {
      data = await pipeline
        .resize(this.width, this.height, {
          fit: FIT[this.spec.resize.mode],
          kernel: this.spec.resize.kernel,
          background: { r: 0, g: 0, b: 0 },
        })
        .removeAlpha()
        .toColourspace("srgb")
        .raw()
        .toBuffer();
    } catch (err) {
      throw new CorruptFrameError(`cannot decode frame: ${(err as Error).message}`);
    }
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { rgb, tensor: toTensor(rgb, this.spec), sourceWidth, sourceHeight };
  }
}

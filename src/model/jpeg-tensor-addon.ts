// Loads the native jpeg-tensor addon (native/jpeg-tensor/): found under the package root in a
// checkout (built by scripts/setup.mjs) and in the .deb (/usr/lib/linesight/native/...).
// Loaded on first use only: models packed with a sharp kernel never need it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { UserFacingError } from "../errors.js";
import { packageRoot } from "../package-info.js";

/** [sourceWidth, sourceHeight, dctScaleNum, dctScaleDenom] (scale 1/1 for raw and RGB frames). */
export type NativeResult = [number, number, number, number];

type Frame = Uint8Array;
/** `features` (optional, Float64Array(6)): the drift features of `rgb`, as src/monitor/frame-features.ts computes them. */
type Out = [params: Float64Array, tensor: Float32Array, rgb: Uint8Array, features?: Float64Array];

export interface JpegTensorAddon {
  jpeg(jpeg: Frame, ...out: Out): Promise<NativeResult>;
  jpegSync(jpeg: Frame, ...out: Out): NativeResult;
  i420(data: Frame, width: number, height: number, ...out: Out): Promise<NativeResult>;
  i420Sync(data: Frame, width: number, height: number, ...out: Out): NativeResult;
  nv12(data: Frame, width: number, height: number, ...out: Out): Promise<NativeResult>;
  nv12Sync(data: Frame, width: number, height: number, ...out: Out): NativeResult;
  rgb(data: Frame, width: number, height: number, ...out: Out): Promise<NativeResult>;
  rgbSync(data: Frame, width: number, height: number, ...out: Out): NativeResult;
  /** libjpeg-turbo's DCT-scaled decode alone (the floor the benchmark compares against). */
  decodeScaled(jpeg: Frame, width: number, height: number): NativeResult;
}

/** The error code the addon puts on a frame it cannot use (bad data, ROI outside the frame). */
export const CORRUPT_FRAME_CODE = "ECORRUPTFRAME";

export const ADDON_PATH = join(packageRoot, "native", "jpeg-tensor", "build", "Release", "jpeg_tensor.node");

let cached: JpegTensorAddon | undefined;

export function jpegTensorAddon(): JpegTensorAddon {
  if (cached) return cached;
  // Tests and the sanitizer script point this at another build (Debug, ASan).
  const path = process.env.LINESIGHT_JPEG_TENSOR_ADDON ?? ADDON_PATH;
  if (!existsSync(path)) {
    throw new UserFacingError(
      `the model's resize kernel "turbo-dct-box" needs the jpeg-tensor addon, not built at ${path}: ` +
        "run `node scripts/setup.mjs` (needs Debian's libturbojpeg0-dev and a C compiler)",
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as JpegTensorAddon;
  } catch (err) {
    throw new UserFacingError(
      `cannot load the jpeg-tensor addon ${path}: ${(err as Error).message} (is libturbojpeg0 installed?)`,
    );
  }
  return cached;
}

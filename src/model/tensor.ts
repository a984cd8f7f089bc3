// Pixels -> model input tensor, exactly as the manifest's input spec says. Pure, no I/O.
import type { InputSpec } from "./manifest.js";

/** Input height and width from the spec's shape and layout. */
export function inputSize(spec: InputSpec): { width: number; height: number; channels: number } {
  const [, a, b, c] = spec.shape as [number, number, number, number];
  return spec.layout === "NCHW" ? { channels: a, height: b, width: c } : { height: a, width: b, channels: c };
}

/**
 * Converts an interleaved RGB uint8 image (already at the input size) to float32, applying
 * colour order, scale, mean and std, and the layout. `out` is reused across frames when given.
 */
export function toTensor(rgb: Uint8Array, spec: InputSpec, out?: Float32Array): Float32Array {
  const { width, height } = inputSize(spec);
  const plane = width * height;
  if (rgb.length !== plane * 3) {
    throw new Error(`image has ${rgb.length} bytes, expected ${plane * 3} (${width}x${height} RGB)`);
  }
  const tensor = out ?? new Float32Array(plane * 3);
  const bgr = spec.color === "BGR";
  // Fold scale/mean/std into one multiply-add per channel: v * a[c] + b[c].
  const a = [0, 1, 2].map((c) => spec.scale / (spec.std[c] as number));
  const b = [0, 1, 2].map((c) => -(spec.mean[c] as number) / (spec.std[c] as number));
  for (let c = 0; c < 3; c++) {
    const src = bgr ? 2 - c : c;
    const ac = a[c] as number;
    const bc = b[c] as number;
    if (spec.layout === "NCHW") {
      const base = c * plane;
      for (let i = 0, j = src; i < plane; i++, j += 3) tensor[base + i] = (rgb[j] as number) * ac + bc;
    } else {
      for (let i = 0, j = src; i < plane; i++, j += 3) tensor[i * 3 + c] = (rgb[j] as number) * ac + bc;
    }
  }
  return tensor;
}

// Cheap per-frame image statistics from the pixels the model saw, for drift and OOD checks. Pure.

export const FEATURE_NAMES = ["brightness", "contrast", "sharpness", "red", "green", "blue"] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export type FrameFeatures = Record<FeatureName, number>;

/**
 * brightness / contrast: mean and standard deviation of luma (Rec. 601), 0..255;
 * sharpness: variance of the 4-neighbour Laplacian of luma (drops with blur or a dirty lens);
 * red / green / blue: channel means (a colour cast or a new light source moves these).
 */
export function frameFeatures(rgb: Uint8Array, width: number, height: number): FrameFeatures {
  const n = width * height;
  const luma = new Float32Array(n);
  let r = 0;
  let g = 0;
  let b = 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const R = rgb[j] as number;
    const G = rgb[j + 1] as number;
    const B = rgb[j + 2] as number;
    r += R;
    g += G;
    b += B;
    const y = 0.299 * R + 0.587 * G + 0.114 * B;
    luma[i] = y;
    sum += y;
    sumSq += y * y;
  }
  const mean = sum / n;
  let lapSum = 0;
  let lapSq = 0;
  let m = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      const lap =
        (luma[i - 1] as number) +
        (luma[i + 1] as number) +
        (luma[i - width] as number) +
        (luma[i + width] as number) -
        4 * (luma[i] as number);
      lapSum += lap;
      lapSq += lap * lap;
      m++;
    }
  }
  const lapMean = m > 0 ? lapSum / m : 0;
  return {
    brightness: mean,
    contrast: Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
    sharpness: m > 0 ? Math.max(0, lapSq / m - lapMean * lapMean) : 0,
    red: r / n,
    green: g / n,
    blue: b / n,
  };
}

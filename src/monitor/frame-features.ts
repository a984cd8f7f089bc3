// Cheap per-frame image statistics from the pixels the model saw, for drift and OOD checks. Pure.

export const FEATURE_NAMES = ["brightness", "contrast", "sharpness", "red", "green", "blue"] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export type FrameFeatures = Record<FeatureName, number>;

/**
 * brightness / contrast: mean and standard deviation of 8-bit luma (Rec. 601 weights), 0..255;
 * sharpness: variance of the 4-neighbour Laplacian of luma (drops with blur or a dirty lens),
 * sampled at every other pixel of every other row, staggered row to row;
 * red / green / blue: channel means (a colour cast or a new light source moves these).
 *
 * It runs on the hot path for every frame, so it stays in small integers: luma goes into a
 * 256-bin histogram (mean and spread from that), and a quarter of the Laplacians estimate their
 * variance as well as all of them would.
 */
export function frameFeatures(rgb: Uint8Array, width: number, height: number): FrameFeatures {
  const n = width * height;
  const luma = lumaBuffer(n);
  const hist = histBuffer();
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const R = rgb[j] as number;
    const G = rgb[j + 1] as number;
    const B = rgb[j + 2] as number;
    r += R;
    g += G;
    b += B;
    const y = (77 * R + 150 * G + 29 * B + 128) >> 8;
    luma[i] = y;
    hist[y]!++;
  }
  let sum = 0;
  let sumSq = 0;
  for (let v = 0; v < 256; v++) {
    const c = hist[v] as number;
    sum += c * v;
    sumSq += c * v * v;
  }
  let lapSum = 0;
  let lapSq = 0;
  let m = 0;
  for (let y = 1; y < height - 1; y += 2) {
    const end = y * width + width - 1;
    // Staggered columns (1, 3, ... then 2, 4, ...) so a pattern at the grid's period is not missed.
    for (let i = y * width + 1 + ((y >> 1) & 1); i < end; i += 2) {
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
  const mean = sum / n;
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

/** The native path's Float64Array(6) (native/jpeg-tensor/src/features.c, same order) as features. */
export function featuresFromArray(a: Float64Array): FrameFeatures {
  return {
    brightness: a[0] as number,
    contrast: a[1] as number,
    sharpness: a[2] as number,
    red: a[3] as number,
    green: a[4] as number,
    blue: a[5] as number,
  };
}

let scratch = new Uint8Array(0);
function lumaBuffer(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(n);
  return scratch;
}

const hist = new Int32Array(256);
function histBuffer(): Int32Array {
  hist.fill(0);
  return hist;
}
